// Discovery: pure parsers fed strings, then DiscoverHost on every example host built by the
// sandbox builder into a temp dir (RealHostFs, read-only).
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include "providers/host/host_fs.h"
#include "providers/pci/discovery.h"
#include "providers/pci/usage.h"
#include "providers/simkernel/host_builder.h"
#include "providers/snapshot/snapshot.h"
#include "tests/support/temp_dir.h"

namespace ptrec {
namespace {

Bdf B(const char* s) { return *Bdf::Parse(s); }

// Builds examples/hosts/NAME.yaml into a temp dir and discovers it.
struct ExampleHost {
  testing::ScopedTempDir tmp{"discovery"};
  HostState host;
  explicit ExampleHost(const std::string& name) {
    auto spec = sim::LoadHostSpec(std::string(PTREC_SOURCE_DIR) + "/examples/hosts/" + name + ".yaml");
    REQUIRE(spec.has_value());
    std::string root = tmp.Sub("root");
    auto built = sim::BuildHost(*spec, root);
    INFO((built ? "" : built.error().message));
    REQUIRE(built.has_value());
    RealHostFs fs(root);
    auto found = pci::DiscoverHost(fs);
    REQUIRE(found.has_value());
    host = std::move(*found);
  }
  const PciDevice& Dev(const char* bdf) const {
    const PciDevice* d = host.Find(B(bdf));
    REQUIRE(d != nullptr);
    return *d;
  }
  bool InUse(const char* bdf, const std::string& what) const {
    return std::any_of(host.usages.begin(), host.usages.end(),
                       [&](const DeviceUsage& u) { return u.bdf == B(bdf) && u.what.find(what) != std::string::npos; });
  }
};

// A 256-byte config space with the given capability ids chained from 0x40.
std::string ConfigWithCaps(std::vector<uint8_t> ids, uint8_t header_type = 0) {
  std::string c(256, '\0');
  c[0x0e] = static_cast<char>(header_type);
  if (ids.empty()) return c;
  c[0x06] = 0x10;  // status: capabilities list
  c[0x34] = 0x40;
  for (size_t i = 0; i < ids.size(); ++i) {
    size_t at = 0x40 + i * 0x10;
    c[at] = static_cast<char>(ids[i]);
    c[at + 1] = static_cast<char>(i + 1 < ids.size() ? at + 0x10 : 0);
  }
  return c;
}

}  // namespace

TEST_CASE("discovery: BDFs parse in long and short form and nothing else", "[discovery]") {
  CHECK(Bdf::Parse("0000:03:00.1")->str() == "0000:03:00.1");
  CHECK(Bdf::Parse("03:10.7")->str() == "0000:03:10.7");
  CHECK(Bdf::Parse("0001:ff:1f.7")->str() == "0001:ff:1f.7");
  for (const char* bad : {"", "3:00.0", "0000:03:20.0", "0000:03:00.8", "0000:03:00", "000:03:00.0",
                          "0000-03:00.0", "0000:03:00.0 ", "gg:00.0"})
    CHECK_FALSE(Bdf::Parse(bad).has_value());
  // VF 1 of 03:00.0 on an 82576: rid 0x300 + 128 + 2 = 0x382 -> 03:10.2
  CHECK(Bdf::FromRoutingId(0, 0x300 + 128 + 2) == B("0000:03:10.2"));
}

TEST_CASE("discovery: MSI and MSI-X come from the capability list", "[discovery]") {
  auto caps = pci::ParseConfigCaps(ConfigWithCaps({0x01, 0x05, 0x10, 0x11}));
  CHECK(caps.parsed);
  CHECK(caps.msi);
  CHECK(caps.msix);
  CHECK(caps.pcie);
  auto none = pci::ParseConfigCaps(ConfigWithCaps({}));
  CHECK(none.parsed);
  CHECK_FALSE(none.msi);
  SECTION("an unprivileged 64-byte read cannot tell") {
    auto short_read = pci::ParseConfigCaps(ConfigWithCaps({0x05}).substr(0, 64));
    CHECK_FALSE(short_read.parsed);
  }
  SECTION("a looping list stops") {
    std::string loop = ConfigWithCaps({0x05});
    loop[0x41] = 0x40;  // next points at itself
    CHECK(pci::ParseConfigCaps(loop).msi);
  }
  CHECK(pci::ParseConfigCaps(ConfigWithCaps({}, 0x81)).header_type == 1);  // multifunction bit masked
}

TEST_CASE("discovery: proc/net/route, ipv6_route, if_inet6 and mountinfo parse", "[discovery]") {
  auto routes = pci::ParseProcNetRoute(
      "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
      "eno1\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
      "eno1\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n");
  REQUIRE(routes.size() == 2);
  CHECK(routes[0].iface == "eno1");
  CHECK(routes[0].destination == 0);
  CHECK(routes[1].mask == 0x00ffffff);
  auto v6 = pci::ParseIpv6DefaultRoutes(
      "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003     eno1\n"
      "00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n");
  CHECK(v6 == std::vector<std::string>{"eno1"});
  auto global = pci::ParseIfInet6Global(
      "fe800000000000000000000000000001 02 40 20 80     eno1\n"
      "20010db8000000000000000000000001 02 40 00 80     eno1\n");
  CHECK(global == std::vector<std::string>{"eno1"});
  auto mounts = pci::ParseMountinfo("36 35 8:2 / / rw,relatime shared:1 - ext4 /dev/sda2 rw\n"
                                    "40 36 259:1 / /mnt/my\\040disk rw - ext4 /dev/nvme0n1p1 rw\n");
  REQUIRE(mounts.size() == 2);
  CHECK(mounts[0].dev == "8:2");
  CHECK(mounts[1].mount_point == "/mnt/my disk");
  CHECK(pci::DeepestBdfInPath("../../devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda") ==
        B("0000:00:1f.2"));
  CHECK_FALSE(pci::DeepestBdfInPath("../../devices/virtual/net/lo").has_value());
}

TEST_CASE("discovery: the dual-82576 host", "[discovery]") {
  // Given the example host, then discovery sees both PFs with their SR-IOV facts, the groups,
  // the interfaces and what the safety checks need.
  ExampleHost h("dual-82576");
  CHECK(h.host.iommu_active);
  CHECK(h.host.iommu_units == std::vector<std::string>{"dmar0"});
  CHECK_THAT(h.host.cmdline, Catch::Contains("intel_iommu=on"));
  const PciDevice& pf = h.Dev("0000:03:00.0");
  CHECK(pf.id == PciId{0x8086, 0x10c9});
  CHECK(pf.driver == "igb");
  CHECK(pf.driver_override.empty());
  CHECK(pf.iommu_group == 14);
  CHECK(pf.parent == B("0000:00:01.0"));
  REQUIRE(pf.sriov.has_value());
  CHECK(pf.sriov->total_vfs == 7);
  CHECK(pf.sriov->num_vfs == 0);
  CHECK(pf.sriov->offset == 128);
  CHECK(pf.sriov->stride == 2);
  CHECK(pf.sriov->vf_device == 0x10ca);
  CHECK(pf.msix);
  CHECK(pf.net_interfaces == std::vector<std::string>{"enp3s0f0"});
  CHECK(h.Dev("0000:00:01.0").is_bridge());
  CHECK(h.Dev("0000:00:01.0").driver == "pcieport");
  CHECK(h.host.iommu_groups.at(14) == std::vector<Bdf>{B("0000:03:00.0")});
  CHECK(h.InUse("0000:00:19.0", "default route (eno1)"));
  CHECK(h.InUse("0000:03:00.1", "enp3s0f1 is up with an address"));
  CHECK(h.InUse("0000:00:1f.2", "/ is mounted from sda2"));
  CHECK_FALSE(h.InUse("0000:03:00.0", ""));
  CHECK(h.host.loaded_drivers.count("vfio-pci"));
}

TEST_CASE("discovery: the BCM5720 shared group and NVMe root disk", "[discovery]") {
  ExampleHost h("bcm5720-shared-group");
  CHECK(h.host.iommu_groups.at(16) == std::vector<Bdf>{B("0000:02:00.0"), B("0000:02:00.1")});
  CHECK(h.Dev("0000:02:00.1").driver == "tg3");
  // Debian's kernels use native NVMe multipath: the head nvme0n1 lives under
  // devices/virtual/nvme-subsystem, the hidden path nvme0c0n1 under the controller.
  CHECK(h.Dev("0000:04:00.0").block_devices == std::vector<std::string>{"nvme0c0n1", "nvme0n1"});
  CHECK(h.InUse("0000:04:00.0", "/ is mounted from nvme0n1p2"));
  CHECK(h.Dev("0000:01:00.0").sriov->total_vfs == 7);
}

TEST_CASE("discovery: the BCM57810 host", "[discovery]") {
  ExampleHost h("bcm57810-bnx2x");
  const PciDevice& pf = h.Dev("0000:05:00.0");
  CHECK(pf.driver == "bnx2x");
  REQUIRE(pf.sriov.has_value());
  CHECK(pf.sriov->total_vfs == 64);
  CHECK(pf.sriov->vf_device == 0x16af);
}

TEST_CASE("discovery: a host without IOMMU has no groups", "[discovery]") {
  ExampleHost h("no-iommu");
  CHECK_FALSE(h.host.iommu_active);
  CHECK(h.host.iommu_groups.empty());
  for (const auto& d : h.host.devices) CHECK(d.iommu_group == -1);
}

TEST_CASE("discovery: VFs link to their PF with their index", "[discovery]") {
  // Given 3 VFs created on the simulated kernel, then each VF knows its PF and index, and the
  // PF lists them in index order.
  auto spec = sim::LoadHostSpec(std::string(PTREC_SOURCE_DIR) + "/examples/hosts/dual-82576.yaml");
  REQUIRE(spec.has_value());
  for (auto& d : spec->devices)
    if (d.bdf == B("0000:03:00.1") && d.sriov) d.sriov->num_vfs = 3;
  testing::ScopedTempDir tmp("discovery");
  REQUIRE(sim::BuildHost(*spec, tmp.Sub("root")).has_value());
  RealHostFs fs(tmp.Sub("root"));
  auto host = pci::DiscoverHost(fs);
  REQUIRE(host.has_value());
  const PciDevice* pf = host->Find(B("0000:03:00.1"));
  REQUIRE(pf);
  CHECK(pf->vfs == std::vector<Bdf>{B("0000:03:10.1"), B("0000:03:10.3"), B("0000:03:10.5")});
  const PciDevice* vf = host->Find(B("0000:03:10.3"));
  REQUIRE(vf);
  CHECK(vf->physfn == B("0000:03:00.1"));
  CHECK(vf->vf_index == 1);
  CHECK(vf->id.device == 0x10ca);
}

TEST_CASE("discovery: a directory that is not a host root is a clear error", "[discovery]") {
  testing::ScopedTempDir tmp("discovery");
  RealHostFs fs(tmp.path());
  auto host = pci::DiscoverHost(fs);
  REQUIRE_FALSE(host.has_value());
  CHECK(host.error().code == Code::kNotFound);
  CHECK_THAT(host.error().message, Catch::Contains("is this a host root"));
}

TEST_CASE("discovery: RealHostFs refuses paths that leave the root", "[discovery]") {
  testing::ScopedTempDir tmp("discovery");
  RealHostFs fs(tmp.path());
  CHECK(fs.ReadFile("/etc/passwd").error().code == Code::kRefused);
  CHECK(fs.ReadFile("sys/../../etc/passwd").error().code == Code::kRefused);
  CHECK(fs.WriteAttribute("../x", "1").error().code == Code::kRefused);
}

}  // namespace ptrec

namespace ptrec {
namespace {

// One netlink message: header of \a type, then \a body, padded to NLMSG_ALIGNTO.
std::string NlMsg(uint16_t type, const std::string& body) {
  nlmsghdr nh{};
  nh.nlmsg_len = static_cast<uint32_t>(NLMSG_LENGTH(body.size()));
  nh.nlmsg_type = type;
  nh.nlmsg_flags = NLM_F_MULTI;
  std::string out(reinterpret_cast<const char*>(&nh), sizeof nh);
  out += body;
  out.resize(NLMSG_ALIGN(out.size()), '\0');
  return out;
}

// One rtattr of \a type carrying \a payload, padded to RTA_ALIGNTO.
std::string Rta(uint16_t type, const std::string& payload) {
  rtattr rta{};
  rta.rta_len = static_cast<uint16_t>(RTA_LENGTH(payload.size()));
  rta.rta_type = type;
  std::string out(reinterpret_cast<const char*>(&rta), sizeof rta);
  out += payload;
  out.resize(RTA_ALIGN(out.size()), '\0');
  return out;
}

std::string V4(const char* text) {
  in_addr a{};
  inet_pton(AF_INET, text, &a);
  return std::string(reinterpret_cast<const char*>(&a), 4);
}

// An RTM_NEWADDR body: struct ifaddrmsg + attributes.
std::string IfAddr(uint8_t family, uint8_t prefix, uint32_t index, const std::string& attrs) {
  ifaddrmsg ifa{};
  ifa.ifa_family = family;
  ifa.ifa_prefixlen = prefix;
  ifa.ifa_index = index;
  std::string out(reinterpret_cast<const char*>(&ifa), sizeof ifa);
  out.resize(NLMSG_ALIGN(out.size()), '\0');
  return out + attrs;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// dual-82576 with enp3s0f0 up and only 192.0.2.1/32 on it (no route of its own).
sim::HostSpec Dual82576With32() {
  auto spec = sim::LoadHostSpec(std::string(PTREC_SOURCE_DIR) + "/examples/hosts/dual-82576.yaml");
  REQUIRE(spec.has_value());
  for (auto& d : spec->devices)
    if (d.net_interface == "enp3s0f0") d.net_up = true;
  spec->network.addresses["enp3s0f0"] = {"192.0.2.1/32"};
  return *spec;
}

bool HasUsage(const HostState& host, const char* bdf, const std::string& what) {
  return std::any_of(host.usages.begin(), host.usages.end(), [&](const DeviceUsage& u) {
    return u.bdf == B(bdf) && u.what.find(what) != std::string::npos;
  });
}

}  // namespace

TEST_CASE("discovery: ipv4-addresses lines parse and format back", "[discovery]") {
  // Given ptrec's record of IPv4 addresses with a comment, a blank line and malformed lines,
  // then only "IFNAME A.B.C.D/N" lines count, and formatting them gives the same lines back.
  auto parsed = pci::ParseIpv4Addresses(
      "# ptrec\n"
      "lo 127.0.0.1/8\n"
      "eth0 192.0.2.1/32\n"
      "\n"
      "eth1 192.0.2.300/24\n"  // not an address
      "eth1 192.0.2.3/33\n"    // prefix out of range
      "eth1 192.0.2.3\n"       // no prefix
      "eth1 10.1.2.3/24 extra\n"
      "eth2 10.0.0.5/24");     // no final newline
  REQUIRE(parsed.size() == 3);
  CHECK(parsed[0] == pci::Ipv4Address{"lo", "127.0.0.1", 8});
  CHECK(parsed[1] == pci::Ipv4Address{"eth0", "192.0.2.1", 32});
  CHECK(parsed[2] == pci::Ipv4Address{"eth2", "10.0.0.5", 24});
  CHECK(pci::FormatIpv4Addresses(parsed) == "lo 127.0.0.1/8\neth0 192.0.2.1/32\neth2 10.0.0.5/24\n");
  CHECK(pci::ParseIpv4Addresses(pci::FormatIpv4Addresses(parsed)) == parsed);
  CHECK(pci::ParseIpv4Addresses("").empty());
}

TEST_CASE("discovery: an RTM_GETADDR dump parses into IPv4 addresses", "[discovery]") {
  // Given one recv() of a dump: eth0's /32 (IFA_ADDRESS and IFA_LOCAL), an IPv6 address (not
  // ours), a point-to-point address whose IFA_ADDRESS is the peer, an address of an index the
  // resolver does not know (label "eth9:1"), then NLMSG_DONE: the IPv4 ones come out with
  // IFA_LOCAL and the interface names, and the dump is complete.
  std::string buf =
      NlMsg(RTM_NEWADDR, IfAddr(AF_INET, 32, 2,
                                Rta(IFA_ADDRESS, V4("192.0.2.1")) + Rta(IFA_LOCAL, V4("192.0.2.1")) +
                                    Rta(IFA_LABEL, std::string("eth0\0", 5)))) +
      NlMsg(RTM_NEWADDR, IfAddr(AF_INET6, 64, 2, Rta(IFA_ADDRESS, std::string(16, '\x20')))) +
      NlMsg(RTM_NEWADDR, IfAddr(AF_INET, 32, 3,
                                Rta(IFA_ADDRESS, V4("10.9.9.9")) + Rta(IFA_LOCAL, V4("10.0.0.1")))) +
      NlMsg(RTM_NEWADDR, IfAddr(AF_INET, 24, 77,
                                Rta(IFA_ADDRESS, V4("198.51.100.7")) +
                                    Rta(IFA_LABEL, std::string("eth9:1\0", 7)))) +
      NlMsg(NLMSG_DONE, std::string(4, '\0'));
  auto names = [](unsigned index) -> std::string {
    return index == 2 ? "eth0" : index == 3 ? "ppp0" : "";
  };
  auto batch = pci::ParseNetlinkAddrs(buf, names);
  CHECK(batch.done);
  CHECK(batch.error == 0);
  CHECK(batch.addresses == std::vector<pci::Ipv4Address>{{"eth0", "192.0.2.1", 32},
                                                         {"ppp0", "10.0.0.1", 32},
                                                         {"eth9", "198.51.100.7", 24}});
  SECTION("a dump split over several recv() calls is not done until NLMSG_DONE") {
    auto first = pci::ParseNetlinkAddrs(buf.substr(0, buf.size() - NLMSG_ALIGN(NLMSG_LENGTH(4))), names);
    CHECK_FALSE(first.done);
    CHECK(first.addresses.size() == 3);
  }
  SECTION("a truncated message ends the parse") {
    auto cut = pci::ParseNetlinkAddrs(buf.substr(0, 20), names);
    CHECK(cut.addresses.empty());
    CHECK_FALSE(cut.done);
  }
  SECTION("NLMSG_ERROR carries the errno") {
    nlmsgerr err{};
    err.error = -EPERM;
    auto failed = pci::ParseNetlinkAddrs(
        NlMsg(NLMSG_ERROR, std::string(reinterpret_cast<const char*>(&err), sizeof err)), names);
    CHECK(failed.done);
    CHECK(failed.error == EPERM);
  }
}

TEST_CASE("discovery: the live host's IPv4 addresses come from netlink", "[discovery]") {
  // Given this machine's root (a live sysfs), then ReadIpv4Addresses answers from an
  // RTM_GETADDR dump (read-only) and never from the file; lo's 127.0.0.1/8 is in it when lo has
  // its address (every usual network namespace).
  if (!IsLiveSysfs("/")) return;  // a build sandbox without sysfs: nothing to ask
  RealHostFs fs("/");
  auto v4 = pci::ReadIpv4Addresses(fs);
  INFO((v4 ? "" : v4.error().message));
  REQUIRE(v4.has_value());
  for (const auto& a : *v4) {
    CHECK_FALSE(a.iface.empty());
    if (a.iface == "lo" && a.address == "127.0.0.1") CHECK(a.prefix == 8);
  }
}

TEST_CASE("discovery: an interface up with only a /32 is up with an address", "[discovery]") {
  // Given dual-82576 with enp3s0f0 up and only 192.0.2.1/32 (the builder writes no
  // proc/net/route row for a /32, as fib_add_ifaddr does not), then the address file names it
  // and discovery reports 03:00.0 as "up with an address".
  auto spec = Dual82576With32();
  testing::ScopedTempDir tmp("v4");
  std::string root = tmp.Sub("root");
  REQUIRE(sim::BuildHost(spec, root).has_value());
  RealHostFs fs(root);
  CHECK(fs.ReadFile("proc/net/route")->find("enp3s0f0") == std::string::npos);
  CHECK(*fs.ReadFile(pci::kIpv4AddressesFile) ==
        "eno1 192.168.1.10/24\nenp3s0f0 192.0.2.1/32\nenp3s0f1 10.0.1.5/24\n");
  auto host = pci::DiscoverHost(fs);
  REQUIRE(host.has_value());
  CHECK(HasUsage(*host, "0000:03:00.0", "interface enp3s0f0 is up with an address"));
  SECTION("without the file only routes count") {
    REQUIRE(std::remove((root + "/" + pci::kIpv4AddressesFile).c_str()) == 0);
    auto without = pci::DiscoverHost(fs);
    REQUIRE(without.has_value());
    CHECK_FALSE(HasUsage(*without, "0000:03:00.0", ""));
    CHECK(HasUsage(*without, "0000:03:00.1", "interface enp3s0f1 is up with an address"));
  }
}

TEST_CASE("discovery: a snapshot carries the IPv4 addresses and plans like its host",
          "[discovery]") {
  // Given the /32 host, when it is snapshotted (and the snapshot snapshotted again), then each
  // snapshot holds the same ipv4-addresses file and discovery on it reports the same usages.
  auto spec = Dual82576With32();
  testing::ScopedTempDir tmp("v4snap");
  std::string root = tmp.Sub("root");
  REQUIRE(sim::BuildHost(spec, root).has_value());
  RealHostFs host_fs(root);
  auto original = pci::DiscoverHost(host_fs);
  REQUIRE(original.has_value());
  std::string snap = tmp.Sub("snap"), snap2 = tmp.Sub("snap2");
  REQUIRE(snapshot::TakeSnapshot(host_fs, snap).has_value());
  RealHostFs snap_fs(snap);
  REQUIRE(snapshot::TakeSnapshot(snap_fs, snap2).has_value());
  const std::string want = ReadText(root + "/" + pci::kIpv4AddressesFile);
  for (const std::string& s : {snap, snap2}) {
    INFO(s);
    CHECK(ReadText(s + "/" + pci::kIpv4AddressesFile) == want);
    RealHostFs fs(s);
    auto found = pci::DiscoverHost(fs);
    REQUIRE(found.has_value());
    CHECK(HasUsage(*found, "0000:03:00.0", "interface enp3s0f0 is up with an address"));
    CHECK(found->usages.size() == original->usages.size());
  }
}

}  // namespace ptrec
