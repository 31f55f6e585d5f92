// The QMP provider: the client against a scripted fake server (ordering, timeouts, errors QEMU
// cannot be made to produce without vfio) and against a real qemu-system-x86_64 (TCG, -S).
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>

#include "providers/qmp/qmp_client.h"
#include "providers/qmp/vfio_devices.h"
#include "tests/support/qmp_fixtures.h"
#include "tests/support/temp_dir.h"

namespace ptrec::qmp {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::FakeQmpServer;
using testing::QemuProcess;
using testing::ScopedTempDir;
using Clock = std::chrono::steady_clock;

constexpr const char* kOk = R"({"return": {}})";

long ElapsedMs(Clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count();
}

bool Has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string DeletedEvent(const std::string& id) {
  return R"({"timestamp": {"seconds": 1, "microseconds": 2}, "event": "DEVICE_DELETED", )"
         R"("data": {"device": ")" + id + R"(", "path": "/machine/peripheral/)" + id + R"("}})";
}

// ---------------------------------------------------------------------------------------------
// Error mapping (pure): the vfio-pci failures seen on QEMU 7.2 and the hint each one carries.

TEST_CASE("qmp: QMP errors become ptrec errors with a hint", "[qmp]") {
  // Given the desc strings QEMU 7.2 sends, then each maps to a Code and names the way out.
  struct Row {
    std::string cls, desc;
    Code code;
    std::string hint_part;
  };
  std::vector<Row> rows = {
      {"GenericError", "vfio 0000:01:00.0: failed to open /dev/vfio/7: No such file or directory",
       Code::kNotFound, "group 7 to vfio-pci"},
      {"GenericError", "vfio 0000:01:00.0: failed to open /dev/vfio/7: Permission denied",
       Code::kPermission, "access"},
      {"GenericError", "vfio 0000:01:00.0: failed to open /dev/vfio/7: Device or resource busy",
       Code::kBusy, "another process"},
      {"GenericError",
       "vfio /sys/bus/pci/devices/0000:09:00.0: no such host device: No such file or directory",
       Code::kNotFound, "lspci"},
      {"GenericError", "vfio 0000:01:00.0: group 12 is not viable", Code::kBusy,
       "bind the whole group"},
      {"GenericError", "vfio 0000:01:00.0: device is already attached", Code::kInvalid,
       "already assigned"},
      {"GenericError",
       "vfio 0000:01:00.0: failed to setup container for group 3: No available IOMMU models",
       Code::kUnsupported, "vfio_iommu_type1"},
      {"GenericError", "Duplicate device ID 'rp2'", Code::kInvalid, "another id"},
      {"GenericError", "Device hostdev0 is already in the process of unplug", Code::kBusy,
       "DEVICE_DELETED"},
      {"GenericError", "Bus 'pcie.0' does not support hotplugging", Code::kUnsupported,
       "pcie-root-port"},
      {"GenericError", "Bus 'nosuch' not found", Code::kNotFound, ""},
      {"DeviceNotFound", "Device 'x' not found", Code::kNotFound, ""},
      {"CommandNotFound", "The command nosuchcmd has not been found", Code::kUnsupported,
       "does not know"},
      {"GenericError", "something new", Code::kIo, ""},
  };
  for (const auto& row : rows) {
    INFO(row.desc);
    Error e = MapQmpError("device_add", row.cls, row.desc, "/run/vm.qmp");
    CHECK(e.code == row.code);
    CHECK(Has(e.message, "QMP /run/vm.qmp: device_add: " + row.desc));
    CHECK(Has(e.message, row.hint_part));
    CHECK(Has(e.message, "hint") == !row.hint_part.empty());
    CHECK(e.path == "/run/vm.qmp");
  }
}

// ---------------------------------------------------------------------------------------------
// The client against a scripted server.

struct FakeFixture {
  ScopedTempDir dir{"qmp"};
  std::string sock = dir.Sub("vm.qmp");
  FakeQmpServer server{sock};
};

TEST_CASE_METHOD(FakeFixture, "qmp: Connect reads the greeting and negotiates capabilities", "[qmp]") {
  // Given a server that greets, then Connect sends qmp_capabilities and exposes the version.
  server.Handshake().Expect("query-status", R"({"return": {"status": "prelaunch", "running": false}})");
  server.Start();
  auto client = Client::Connect(sock, 2s);
  REQUIRE(client);
  CHECK(client->greeting()["version"]["qemu"]["major"] == 7);
  auto status = client->Execute("query-status");
  REQUIRE(status);
  CHECK((*status)["status"] == "prelaunch");
  server.Stop();
  CHECK(server.failures().empty());
  auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0]["execute"] == "qmp_capabilities");
  CHECK(!requests[0].contains("arguments"));
  CHECK(requests[0]["id"] != requests[1]["id"]);
}

TEST_CASE_METHOD(FakeFixture, "qmp: Connect refuses a peer that is not QMP", "[qmp]") {
  server.Send(R"({"hello": "world"})");
  server.Start();
  auto client = Client::Connect(sock, 2s);
  REQUIRE(!client);
  CHECK(client.error().code == Code::kInvalid);
  CHECK(Has(client.error().message, "not a QMP greeting"));
  CHECK(Has(client.error().message, sock));
}

TEST_CASE_METHOD(FakeFixture, "qmp: Connect times out when no greeting comes", "[qmp]") {
  // Given a server that accepts but stays silent (as QEMU does while another client holds the
  // socket), then Connect gives up after its timeout with a hint about the other client.
  server.Sleep(5000);
  server.Start();
  auto start = Clock::now();
  auto client = Client::Connect(sock, 300ms);
  REQUIRE(!client);
  CHECK(client.error().code == Code::kTimeout);
  CHECK(Has(client.error().message, "another client"));
  CHECK(ElapsedMs(start) >= 290);
  CHECK(ElapsedMs(start) < 2000);
}

TEST_CASE("qmp: Connect to a missing socket or one nobody listens on is kNotFound", "[qmp]") {
  ScopedTempDir dir("qmp");
  auto missing = Client::Connect(dir.Sub("nosuch.qmp"), 1s);
  REQUIRE(!missing);
  CHECK(missing.error().code == Code::kNotFound);
  CHECK(Has(missing.error().message, dir.Sub("nosuch.qmp")));

  // A socket file left behind by a QEMU that exited: bound, never listening -> ECONNREFUSED.
  std::string stale = dir.Sub("stale.qmp");
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, stale.c_str(), sizeof(addr.sun_path) - 1);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  auto refused = Client::Connect(stale, 1s);
  ::close(fd);
  REQUIRE(!refused);
  CHECK(refused.error().code == Code::kNotFound);
  CHECK(Has(refused.error().message, "nothing listens"));

  auto too_long = Client::Connect("/" + std::string(200, 'x'), 1s);
  REQUIRE(!too_long);
  CHECK(too_long.error().code == Code::kInvalid);
}

TEST_CASE_METHOD(FakeFixture, "qmp: events before a reply are queued, stale replies dropped", "[qmp]") {
  // Given a reply to an old id and two events ahead of the reply, then Execute returns the
  // reply to its own id and WaitEvent hands out the queued events in arrival order.
  server.Handshake()
      .Expect("device_del", "")
      .Send(R"({"return": "stale", "id": 99999})")
      .Send(DeletedEvent("a"))
      .Send(R"({"event": "RESET", "data": {"guest": false}, "timestamp": {"seconds": 3}})")
      .Send(DeletedEvent("b"))
      .Send(R"({"return": {}, "id": 2})");
  server.Start();
  auto client = Client::Connect(sock, 2s);
  REQUIRE(client);
  auto ret = client->Execute("device_del", {{"id", "a"}});
  REQUIRE(ret);
  CHECK(*ret == json::object());
  CHECK(client->pending_events().size() == 3);
  auto b = client->WaitEvent("DEVICE_DELETED", [](const json& d) { return d["device"] == "b"; }, 10ms);
  REQUIRE(b);
  CHECK((*b)["data"]["device"] == "b");
  auto any = client->WaitEvent("DEVICE_DELETED", nullptr, 10ms);
  REQUIRE(any);
  CHECK((*any)["data"]["device"] == "a");
  auto reset = client->WaitEvent("RESET", nullptr, 10ms);
  REQUIRE(reset);
  CHECK((*reset)["data"]["guest"] == false);
  CHECK(client->pending_events().empty());
  server.Stop();
  CHECK(server.failures().empty());
  CHECK(server.requests()[1]["arguments"]["id"] == "a");
}

TEST_CASE_METHOD(FakeFixture, "qmp: WaitEvent times out and keeps events that did not match", "[qmp]") {
  server.Handshake().Sleep(50).Send(DeletedEvent("other"));
  server.Start();
  auto client = Client::Connect(sock, 2s);
  REQUIRE(client);
  auto start = Clock::now();
  auto mine = client->WaitEvent("DEVICE_DELETED", [](const json& d) { return d["device"] == "mine"; }, 300ms);
  REQUIRE(!mine);
  CHECK(mine.error().code == Code::kTimeout);
  CHECK(Has(mine.error().message, "no DEVICE_DELETED event within 300 ms"));
  CHECK(ElapsedMs(start) >= 290);
  REQUIRE(client->pending_events().size() == 1);
  CHECK(client->pending_events()[0]["data"]["device"] == "other");
}

TEST_CASE_METHOD(FakeFixture, "qmp: a command without a reply times out; QEMU going away is kIo", "[qmp]") {
  server.Handshake().Expect("query-status", "").Expect("query-status", "").Close();
  server.Start();
  auto client = Client::Connect(sock, 2s);
  REQUIRE(client);
  client->set_command_timeout(200ms);
  auto silent = client->Execute("query-status");
  REQUIRE(!silent);
  CHECK(silent.error().code == Code::kTimeout);
  CHECK(Has(silent.error().message, "query-status: no reply within 200 ms"));
  auto closed = client->Execute("query-status");
  REQUIRE(!closed);
  CHECK(closed.error().code == Code::kIo);
  CHECK(Has(closed.error().message, "closed the connection"));
}

TEST_CASE_METHOD(FakeFixture, "qmp: garbage on the wire is kInvalid", "[qmp]") {
  server.Handshake().Expect("query-status", "").Send("{not json");
  server.Start();
  auto client = Client::Connect(sock, 2s);
  REQUIRE(client);
  auto r = client->Execute("query-status");
  REQUIRE(!r);
  CHECK(r.error().code == Code::kInvalid);
  CHECK(Has(r.error().message, "{not json"));
}

TEST_CASE_METHOD(FakeFixture, "qmp: a moved Client keeps its session", "[qmp]") {
  server.Handshake().Expect("query-status", R"({"return": {"status": "running"}})");
  server.Start();
  auto connected = Client::Connect(sock, 2s);
  REQUIRE(connected);
  Client moved = std::move(*connected);
  auto status = moved.Execute("query-status");
  REQUIRE(status);
  CHECK((*status)["status"] == "running");
  CHECK(moved.socket_path() == sock);
}

// DetachVfio's unplug protocol, step by step.

TEST_CASE_METHOD(FakeFixture, "qmp: DetachVfio waits for DEVICE_DELETED after device_del", "[qmp]") {
  // Given device_del answers {} and the event comes 100 ms later (the guest releasing the device),
  // then DetachVfio returns success only after the event.
  server.Handshake().Expect("device_del", kOk).Send(DeletedEvent("other")).Sleep(100).Send(
      DeletedEvent("hostdev0"));
  server.Start();
  auto client = Client::Connect(sock, 2s);
  REQUIRE(client);
  auto start = Clock::now();
  auto r = DetachVfio(*client, "hostdev0", 2s);
  CHECK(r);
  CHECK(ElapsedMs(start) >= 90);
  CHECK(client->pending_events().size() == 1);  // the other device's event stays queued
  server.Stop();
  CHECK(server.failures().empty());
  CHECK(server.requests()[1]["arguments"] == json{{"id", "hostdev0"}});
}

TEST_CASE_METHOD(FakeFixture, "qmp: DetachVfio takes an event that came before the reply", "[qmp]") {
  server.Handshake().Expect("device_del", "").Send(DeletedEvent("hostdev0")).Send(R"({"return": {}, "id": 2})");
  server.Start();
  auto client = Client::Connect(sock, 2s);
  REQUIRE(client);
  CHECK(DetachVfio(*client, "hostdev0", 300ms));
  CHECK(client->pending_events().empty());
}

TEST_CASE_METHOD(FakeFixture, "qmp: DetachVfio keeps waiting when the unplug is already in progress", "[qmp]") {
  // Given an earlier device_del is pending, QEMU 7.2 answers the second one with an error; then
  // DetachVfio does not fail but waits for the event of the first.
  server.Handshake()
      .Expect("device_del",
              R"({"error": {"class": "GenericError", "desc": "Device hostdev0 is already in the process of unplug"}})")
      .Sleep(100)
      .Send(DeletedEvent("hostdev0"));
  server.Start();
  auto client = Client::Connect(sock, 2s);
  REQUIRE(client);
  CHECK(DetachVfio(*client, "hostdev0", 2s));
  server.Stop();
  CHECK(server.commands() == std::vector<std::string>{"qmp_capabilities", "device_del"});
}

TEST_CASE_METHOD(FakeFixture, "qmp: DetachVfio without DEVICE_DELETED reports a timeout and the truth", "[qmp]") {
  SECTION("the device is still there: kTimeout with the hot-plug hint") {
    server.Handshake().Expect("device_del", kOk).Expect("qom-get", R"({"return": "vfio-pci"})");
    server.Start();
    auto client = Client::Connect(sock, 2s);
    REQUIRE(client);
    auto start = Clock::now();
    auto r = DetachVfio(*client, "hostdev0", 200ms);
    REQUIRE(!r);
    CHECK(r.error().code == Code::kTimeout);
    CHECK(ElapsedMs(start) >= 190);
    CHECK(Has(r.error().message, "detach 'hostdev0'"));
    CHECK(Has(r.error().message, "acpi-pci-hotplug-with-bridge-support=off"));
    server.Stop();
    CHECK(server.requests()[2]["arguments"] ==
          json{{"path", "/machine/peripheral/hostdev0"}, {"property", "type"}});
  }
  SECTION("the device has gone (the event went to an earlier session): done") {
    server.Handshake().Expect("device_del", kOk).Expect(
        "qom-get", R"({"error": {"class": "DeviceNotFound", "desc": "Device '/machine/peripheral/hostdev0' not found"}})");
    server.Start();
    auto client = Client::Connect(sock, 2s);
    REQUIRE(client);
    CHECK(DetachVfio(*client, "hostdev0", 100ms));
  }
}

TEST_CASE_METHOD(FakeFixture, "qmp: DetachVfio of a device the VM lacks is kNotFound", "[qmp]") {
  server.Handshake().Expect("device_del",
                            R"({"error": {"class": "DeviceNotFound", "desc": "Device 'hostdev9' not found"}})");
  server.Start();
  auto client = Client::Connect(sock, 2s);
  REQUIRE(client);
  auto r = DetachVfio(*client, "hostdev9", 1s);
  REQUIRE(!r);
  CHECK(r.error().code == Code::kNotFound);
  CHECK(Has(r.error().message, "detach 'hostdev9': QMP"));
}

TEST_CASE_METHOD(FakeFixture, "qmp: ListVfioDevices reads host and bus from QOM", "[qmp]") {
  // Given three vfio-pci devices as QEMU 7.2 shows them — one by host=, one by sysfsdev= (host
  // then reads as all-ones), one without an id — and an e1000e, then the three are listed by id
  // with their host BDF and bus name.
  server.Handshake()
      .Expect("qom-list", R"({"return": [{"name": "type", "type": "string"},
          {"name": "rp1", "type": "child<pcie-root-port>"}, {"name": "nic0", "type": "child<e1000e>"},
          {"name": "hostdev10", "type": "child<vfio-pci>"}, {"name": "hostdev2", "type": "child<vfio-pci>"}]})")
      .Expect("qom-list", R"({"return": [{"name": "type", "type": "string"},
          {"name": "device[0]", "type": "child<vfio-pci>"}]})")
      .Expect("qom-get", R"({"return": "0000:01:00.0"})")
      .Expect("qom-get", R"({"return": "/machine/peripheral/rp1/rp1"})")
      .Expect("qom-get", R"({"return": "ffffffff:ffffffff:ffffffff.ffffffff"})")
      .Expect("qom-get", R"({"return": "/sys/bus/pci/devices/0000:03:10.1"})")
      .Expect("qom-get", R"({"return": "/machine/q35/pcie.0"})")
      .Expect("qom-get", R"({"return": "0000:05:00.0"})")
      .Expect("qom-get", R"({"return": "/machine/peripheral-anon/device[1]/rp9"})");
  server.Start();
  auto client = Client::Connect(sock, 2s);
  REQUIRE(client);
  auto devices = ListVfioDevices(*client);
  REQUIRE(devices);
  REQUIRE(devices->size() == 3);
  CHECK((*devices)[0].id == "/machine/peripheral-anon/device[0]");
  CHECK((*devices)[0].host.str() == "0000:05:00.0");
  CHECK((*devices)[0].bus == "rp9");
  CHECK((*devices)[1].id == "hostdev2");
  CHECK((*devices)[1].host.str() == "0000:03:10.1");
  CHECK((*devices)[1].bus == "pcie.0");
  CHECK((*devices)[2].id == "hostdev10");
  CHECK((*devices)[2].host.str() == "0000:01:00.0");
  CHECK((*devices)[2].bus == "rp1");
  server.Stop();
  CHECK(server.failures().empty());
  auto requests = server.requests();
  CHECK(requests[1]["arguments"]["path"] == "/machine/peripheral");
  CHECK(requests[2]["arguments"]["path"] == "/machine/peripheral-anon");
  CHECK(requests[3]["arguments"] == json{{"path", "/machine/peripheral/hostdev10"}, {"property", "host"}});
}

TEST_CASE_METHOD(FakeFixture, "qmp: FindFreeHotplugBus takes ports in id order and skips hotplug=off", "[qmp]") {
  // Given ports rp10 (free), rp2 (a device on it) and rp1 (hotplug=off), listed in QOM's hash
  // order, then rp1 is skipped, rp2 is occupied and rp10 is the answer: rp2 comes before rp10.
  server.Handshake()
      .Expect("qom-list", R"({"return": [{"name": "type", "type": "string"},
          {"name": "rp10", "type": "child<pcie-root-port>"}, {"name": "nic", "type": "child<e1000e>"},
          {"name": "rp2", "type": "child<pcie-root-port>"}, {"name": "rp1", "type": "child<ioh3420>"}]})")
      .Expect("qom-list", R"({"return": [{"name": "type", "type": "string"}]})")
      .Expect("qom-get", R"({"return": false})")
      .Expect("qom-get", R"({"return": true})")
      .Expect("qom-list", R"({"return": [{"name": "addr", "type": "int32"},
          {"name": "msix-table[0]", "type": "child<memory-region>"}, {"name": "rp2", "type": "child<PCIE>"}]})")
      .Expect("qom-list", R"({"return": [{"name": "type", "type": "string"},
          {"name": "child[0]", "type": "link<e1000e>"}, {"name": "hotplug-handler", "type": "link<hotplug-handler>"}]})")
      .Expect("qom-get", R"({"return": true})")
      .Expect("qom-list", R"({"return": [{"name": "rp10", "type": "child<PCIE>"}]})")
      .Expect("qom-list", R"({"return": [{"name": "type", "type": "string"},
          {"name": "hotplug-handler", "type": "link<hotplug-handler>"}]})");
  server.Start();
  auto client = Client::Connect(sock, 2s);
  REQUIRE(client);
  auto bus = FindFreeHotplugBus(*client);
  REQUIRE(bus);
  CHECK(*bus == "rp10");
  server.Stop();
  CHECK(server.failures().empty());
  auto requests = server.requests();
  REQUIRE(requests.size() == 10);
  CHECK(requests[3]["arguments"] == json{{"path", "/machine/peripheral/rp1"}, {"property", "hotplug"}});
  CHECK(requests[6]["arguments"] == json{{"path", "/machine/peripheral/rp2/rp2"}});
  CHECK(requests[9]["arguments"] == json{{"path", "/machine/peripheral/rp10/rp10"}});
}

// ---------------------------------------------------------------------------------------------
// Against a real QEMU 7.2 (TCG, never started: -S). No vfio on this machine, so vfio-pci
// device_add fails for real; e1000e stands in for the unplug path.

struct QemuFixture {
  ScopedTempDir dir{"qmp-qemu"};
  std::vector<std::string> ports = {"-device", "pcie-root-port,id=rp1,chassis=1,bus=pcie.0",
                                    "-device", "pcie-root-port,id=rp2,chassis=2,bus=pcie.0",
                                    "-device", "pcie-root-port,id=rp3,chassis=3,bus=pcie.0"};
  std::unique_ptr<QemuProcess> qemu;

  /// Starts QEMU with the three root ports plus \a extra and connects to it.
  Client Boot(const std::vector<std::string>& extra = {}) {
    auto args = ports;
    args.insert(args.end(), extra.begin(), extra.end());
    qemu = std::make_unique<QemuProcess>(dir.path(), args);
    auto client = Client::Connect(qemu->socket_path(), 10s);
    INFO(qemu->log());
    REQUIRE(client);
    return std::move(*client);
  }
};

TEST_CASE_METHOD(QemuFixture, "qmp: real QEMU: discovery by QOM finds devices query-pci misses", "[qmp][qemu]") {
  // Given a never-started q35 with an e1000e behind rp2, then query-pci does not list it (the
  // buses behind root ports are not numbered yet) but QOM shows it on bus rp2; ListVfioDevices
  // finds no vfio-pci device and the first free port is rp1.
  auto client = Boot({"-device", "e1000e,id=nic0,bus=rp2"});
  CHECK(client.greeting()["version"]["qemu"]["major"] == 7);

  auto pci = client.Execute("query-pci");
  REQUIRE(pci);
  CHECK(!Has(pci->dump(), "\"nic0\""));
  CHECK(Has(pci->dump(), "\"rp2\""));
  auto parent = client.Execute("qom-get", {{"path", "/machine/peripheral/nic0"}, {"property", "parent_bus"}});
  REQUIRE(parent);
  CHECK(*parent == "/machine/peripheral/rp2/rp2");

  auto devices = ListVfioDevices(client);
  REQUIRE(devices);
  CHECK(devices->empty());
  auto bus = FindFreeHotplugBus(client);
  REQUIRE(bus);
  CHECK(*bus == "rp1");

  // A device hot-added on rp1 takes it: rp3 is next.
  REQUIRE(client.Execute("device_add", {{"driver", "e1000e"}, {"id", "nic1"}, {"bus", "rp1"}}));
  bus = FindFreeHotplugBus(client);
  REQUIRE(bus);
  CHECK(*bus == "rp3");
  REQUIRE(client.Execute("device_add", {{"driver", "e1000e"}, {"bus", "rp3"}}));  // anonymous
  bus = FindFreeHotplugBus(client);
  REQUIRE(!bus);
  CHECK(bus.error().code == Code::kNotFound);
  CHECK(Has(bus.error().message, "3 root port(s), 3 occupied"));
  CHECK(Has(bus.error().message, "-device pcie-root-port"));
}

TEST_CASE_METHOD(QemuFixture, "qmp: real QEMU: a root port with hotplug=off is not free", "[qmp][qemu]") {
  // Given rp0 with hotplug=off ahead of the others, then FindFreeHotplugBus passes it by, and
  // QEMU itself refuses device_add there.
  auto client = Boot({"-device", "pcie-root-port,id=rp0,chassis=9,bus=pcie.0,hotplug=off"});
  auto bus = FindFreeHotplugBus(client);
  REQUIRE(bus);
  CHECK(*bus == "rp1");
  auto refused = client.Execute("device_add", {{"driver", "e1000e"}, {"id", "nic0"}, {"bus", "rp0"}});
  REQUIRE(!refused);
  CHECK(refused.error().code == Code::kUnsupported);
  CHECK(Has(refused.error().message, "Bus 'rp0' does not support hotplugging"));
}

TEST_CASE_METHOD(QemuFixture, "qmp: real QEMU: device_add errors map to clear errors", "[qmp][qemu]") {
  auto client = Boot();

  // No such host device (domain ffff exists on no host).
  auto missing = AttachVfio(client, *Bdf::Parse("ffff:fe:1f.7"), "hostdev0", "rp1");
  REQUIRE(!missing);
  CHECK(missing.error().code == Code::kNotFound);
  CHECK(Has(missing.error().message, "attach ffff:fe:1f.7 as 'hostdev0' on bus rp1: QMP "));
  CHECK(Has(missing.error().message, "no such host device"));
  CHECK(Has(missing.error().message, "hint"));

  // pcie.0 refuses hot-plug.
  auto root = AttachVfio(client, *Bdf::Parse("ffff:fe:1f.7"), "hostdev0", "pcie.0");
  REQUIRE(!root);
  CHECK(root.error().code == Code::kUnsupported);
  CHECK(Has(root.error().message, "does not support hotplugging"));

  auto nobus = AttachVfio(client, *Bdf::Parse("ffff:fe:1f.7"), "hostdev0", "rp99");
  REQUIRE(!nobus);
  CHECK(nobus.error().code == Code::kNotFound);
  CHECK(Has(nobus.error().message, "Bus 'rp99' not found"));

  auto dup = AttachVfio(client, *Bdf::Parse("ffff:fe:1f.7"), "rp2", "rp1");
  REQUIRE(!dup);
  CHECK(dup.error().code == Code::kInvalid);
  CHECK(Has(dup.error().message, "Duplicate device ID 'rp2'"));

  auto gone = DetachVfio(client, "hostdev0", 1s);
  REQUIRE(!gone);
  CHECK(gone.error().code == Code::kNotFound);
  // Nothing was added by the failed attempts.
  auto bus = FindFreeHotplugBus(client);
  REQUIRE(bus);
  CHECK(*bus == "rp1");
}

TEST_CASE_METHOD(QemuFixture, "qmp: real QEMU: native PCIe hot-plug completes the unplug", "[qmp][qemu]") {
  // Given native PCIe hot-plug (ACPI hot-plug off) and a device hot-added to a never-started
  // guest, then device_del completes at once: DEVICE_DELETED arrives, the port is free again, and
  // a second detach finds nothing. A device given with -device at start-up does not unplug.
  auto client = Boot({"-global", "ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off",
                      "-device", "e1000e,id=nic0,bus=rp2"});
  REQUIRE(client.Execute("device_add", {{"driver", "e1000e"}, {"id", "nic1"}, {"bus", "rp1"}}));
  REQUIRE(*FindFreeHotplugBus(client) == "rp3");
  auto start = Clock::now();
  auto r = DetachVfio(client, "nic1", 5s);
  INFO(qemu->log());
  REQUIRE(r);
  WARN("native PCIe unplug of a hot-added e1000e on a never-started q35: " << ElapsedMs(start) << " ms");
  auto bus = FindFreeHotplugBus(client);
  REQUIRE(bus);
  CHECK(*bus == "rp1");
  auto again = DetachVfio(client, "nic1", 1s);
  REQUIRE(!again);
  CHECK(again.error().code == Code::kNotFound);

  // A device present at start-up is another matter: the never-started guest must release it,
  // and never does.
  auto cold = DetachVfio(client, "nic0", 500ms);
  REQUIRE(!cold);
  CHECK(cold.error().code == Code::kTimeout);
}

TEST_CASE_METHOD(QemuFixture, "qmp: real QEMU: ACPI hot-plug on a never-started guest never unplugs", "[qmp][qemu]") {
  // Given q35's default ACPI PCI hot-plug, then device_del is accepted but the guest (not
  // running) never ejects: DetachVfio times out, a second one meets "already in the process of
  // unplug" and keeps waiting (timing out again, not failing), and the device stays.
  auto client = Boot();
  REQUIRE(client.Execute("device_add", {{"driver", "e1000e"}, {"id", "nic1"}, {"bus", "rp1"}}));
  auto first = DetachVfio(client, "nic1", 500ms);
  REQUIRE(!first);
  CHECK(first.error().code == Code::kTimeout);
  auto raw = client.Execute("device_del", {{"id", "nic1"}});
  REQUIRE(!raw);
  CHECK(raw.error().code == Code::kBusy);
  CHECK(Has(raw.error().message, "Device nic1 is already in the process of unplug"));
  auto start = Clock::now();
  auto second = DetachVfio(client, "nic1", 500ms);
  REQUIRE(!second);
  CHECK(second.error().code == Code::kTimeout);
  CHECK(ElapsedMs(start) >= 490);
  CHECK(*FindFreeHotplugBus(client) == "rp2");
}

TEST_CASE_METHOD(QemuFixture, "qmp: real QEMU serves one client: a second Connect times out", "[qmp][qemu]") {
  std::optional<Client> first(Boot());
  auto second = Client::Connect(qemu->socket_path(), 500ms);
  REQUIRE(!second);
  CHECK(second.error().code == Code::kTimeout);
  CHECK(Has(second.error().message, "another client"));
  // Once the first goes away, the socket serves again.
  first.reset();
  auto third = Client::Connect(qemu->socket_path(), 10s);
  CHECK(third);
}

}  // namespace
}  // namespace ptrec::qmp
