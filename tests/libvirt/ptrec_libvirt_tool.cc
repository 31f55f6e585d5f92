// ptrec-libvirt: a thin command line over providers/libvirt for the real-kernel test bed
// (tests/e2e/scenarios/libvirt-live.sh), where a libvirtd and an inner QEMU run in the guest.
// It exercises exactly the library calls the executor makes, nothing else.
//
//   ptrec-libvirt describe URI DOMAIN
//       JSON: {"name","running","persistent","config":[H...],"live":[H...]}, H =
//       {"source":"0000:01:00.0","managed":bool,"alias":"hostdev0","guest_address":BDF|null}
//   ptrec-libvirt attach URI DOMAIN BDF managed|unmanaged config|live|both [GUEST-BDF]
//   ptrec-libvirt detach URI DOMAIN BDF config|live|both TIMEOUT-MS
//
// Exit 0 on success; on an Error, prints "error <code>: <message>" (code as CodeName, e.g.
// "timeout") on stderr and exits 1; bad usage exits 2.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "providers/libvirt/connection.h"

namespace {

using ptrec::Bdf;
using ptrec::libvirt::Connection;
using ptrec::libvirt::PciHostdev;

int Usage() {
  std::cerr << "usage: ptrec-libvirt describe URI DOMAIN\n"
               "       ptrec-libvirt attach URI DOMAIN BDF managed|unmanaged config|live|both [GUEST-BDF]\n"
               "       ptrec-libvirt detach URI DOMAIN BDF config|live|both TIMEOUT-MS\n";
  return 2;
}

int Report(const ptrec::Error& error) {
  std::cerr << "error " << ptrec::CodeName(error.code) << ": " << error.message << "\n";
  return 1;
}

nlohmann::json ToJson(const std::vector<PciHostdev>& hostdevs) {
  nlohmann::json list = nlohmann::json::array();
  for (const PciHostdev& h : hostdevs) {
    list.push_back({{"source", h.source.str()},
                    {"managed", h.managed},
                    {"alias", h.alias},
                    {"guest_address", h.guest_address ? nlohmann::json(h.guest_address->str()) : nullptr}});
  }
  return list;
}

// "config" / "live" / "both" -> the two flags; false when none of these.
bool Where(const std::string& text, bool& config, bool& live) {
  config = text == "config" || text == "both";
  live = text == "live" || text == "both";
  return config || live;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() < 3) return Usage();
  const std::string& cmd = args[0];
  auto conn = Connection::Open(args[1]);
  if (!conn) return Report(conn.error());
  const std::string& domain = args[2];

  if (cmd == "describe" && args.size() == 3) {
    auto info = conn->Describe(domain);
    if (!info) return Report(info.error());
    nlohmann::json out = {{"name", info->name},
                          {"running", info->running},
                          {"persistent", info->persistent},
                          {"config", ToJson(info->config)},
                          {"live", ToJson(info->live)}};
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  if (cmd == "attach" && (args.size() == 6 || args.size() == 7)) {
    PciHostdev hostdev;
    auto bdf = Bdf::Parse(args[3]);
    bool config = false, live = false;
    if (!bdf || (args[4] != "managed" && args[4] != "unmanaged") || !Where(args[5], config, live)) return Usage();
    hostdev.source = *bdf;
    hostdev.managed = args[4] == "managed";
    if (args.size() == 7) {
      hostdev.guest_address = Bdf::Parse(args[6]);
      if (!hostdev.guest_address) return Usage();
    }
    auto done = conn->Attach(domain, hostdev, config, live);
    if (!done) return Report(done.error());
    return 0;
  }
  if (cmd == "detach" && args.size() == 6) {
    PciHostdev hostdev;
    auto bdf = Bdf::Parse(args[3]);
    bool config = false, live = false;
    if (!bdf || !Where(args[4], config, live)) return Usage();
    hostdev.source = *bdf;
    const auto started = std::chrono::steady_clock::now();
    auto done = conn->Detach(domain, hostdev, config, live, std::chrono::milliseconds(std::stoll(args[5])));
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
    std::cerr << "detach took " << ms << " ms\n";
    if (!done) return Report(done.error());
    return 0;
  }
  return Usage();
}
