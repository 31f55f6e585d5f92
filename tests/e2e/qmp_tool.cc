// ptrec-qmp: a thin command-line driver over providers/qmp, for the real-kernel test bed (the
// e2e guest runs an inner QEMU and talks to it through this) and for poking a VM by hand.
//
//   ptrec-qmp SOCKET list                      vfio-pci devices: "ID HOST-BDF BUS" per line
//   ptrec-qmp SOCKET free-bus                  the first free hotplug bus
//   ptrec-qmp SOCKET attach BDF ID [BUS]       AttachVfio (BUS: FindFreeHotplugBus when left out)
//   ptrec-qmp SOCKET detach ID [TIMEOUT_MS]    DetachVfio (default 10000 ms)
//   ptrec-qmp SOCKET execute CMD [ARGS-JSON]   any command; prints its "return" as JSON
//
// Exit 0 on success; on failure prints "error: <code name>: <message>" to stderr and exits 1.
// Each run connects, does one thing and disconnects (QEMU serves one QMP client at a time).
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "providers/qmp/qmp_client.h"
#include "providers/qmp/vfio_devices.h"

namespace {

int Report(const ptrec::Error& e) {
  std::fprintf(stderr, "error: %s: %s\n", ptrec::CodeName(e.code), e.message.c_str());
  return 1;
}

int Usage() {
  std::fprintf(stderr,
               "usage: ptrec-qmp SOCKET list | free-bus | attach BDF ID [BUS] | detach ID [TIMEOUT_MS] |\n"
               "                        execute CMD [ARGS-JSON]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ptrec;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() < 2) return Usage();
  auto client = qmp::Client::Connect(args[0], std::chrono::seconds(30));
  if (!client) return Report(client.error());
  const std::string& verb = args[1];
  if (verb == "list" && args.size() == 2) {
    auto devices = qmp::ListVfioDevices(*client);
    if (!devices) return Report(devices.error());
    for (const auto& d : *devices) std::printf("%s %s %s\n", d.id.c_str(), d.host.str().c_str(), d.bus.c_str());
    return 0;
  }
  if (verb == "free-bus" && args.size() == 2) {
    auto bus = qmp::FindFreeHotplugBus(*client);
    if (!bus) return Report(bus.error());
    std::printf("%s\n", bus->c_str());
    return 0;
  }
  if (verb == "attach" && (args.size() == 4 || args.size() == 5)) {
    auto bdf = Bdf::Parse(args[2]);
    if (!bdf) return Report(Error{Code::kInvalid, "not a BDF: " + args[2], "", 0});
    std::string bus;
    if (args.size() == 5) {
      bus = args[4];
    } else {
      auto free_bus = qmp::FindFreeHotplugBus(*client);
      if (!free_bus) return Report(free_bus.error());
      bus = *free_bus;
    }
    auto attached = qmp::AttachVfio(*client, *bdf, args[3], bus);
    if (!attached) return Report(attached.error());
    std::printf("attached %s as %s on %s\n", bdf->str().c_str(), args[3].c_str(), bus.c_str());
    return 0;
  }
  if (verb == "detach" && (args.size() == 3 || args.size() == 4)) {
    std::chrono::milliseconds timeout(args.size() == 4 ? std::stol(args[3]) : 10000);
    auto start = std::chrono::steady_clock::now();
    auto detached = qmp::DetachVfio(*client, args[2], timeout);
    if (!detached) return Report(detached.error());
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    std::printf("detached %s in %lld ms\n", args[2].c_str(), static_cast<long long>(ms.count()));
    return 0;
  }
  if (verb == "execute" && (args.size() == 3 || args.size() == 4)) {
    nlohmann::json arguments;
    if (args.size() == 4) {
      arguments = nlohmann::json::parse(args[3], nullptr, /*allow_exceptions=*/false);
      if (arguments.is_discarded()) return Report(Error{Code::kInvalid, "not JSON: " + args[3], "", 0});
    }
    auto ret = client->Execute(args[2], arguments);
    if (!ret) return Report(ret.error());
    std::printf("%s\n", ret->dump().c_str());
    return 0;
  }
  return Usage();
}
