// Tests of the sandbox host builder (providers/simkernel/host_builder.h): the tree it writes
// must read like a real host's sysfs/procfs, link for link.
#include "providers/simkernel/host_builder.h"

#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>

#include "providers/host/host_fs.h"
#include "providers/simkernel/sim_kernel.h"
#include "tests/support/sim_host.h"
#include "tests/support/temp_dir.h"

using ptrec::Code;
using ptrec::RealHostFs;
using ptrec::sim::BuildHost;
using ptrec::sim::HostSpec;
using ptrec::sim::LoadHostSpec;
using ptrec::sim::ParseHostSpec;
using ptrec::testing::ExampleHostPath;
using ptrec::testing::ScopedTempDir;
using ptrec::testing::SimHost;

namespace {

constexpr const char* kDev0 = "sys/bus/pci/devices/0000:03:00.0";

// A minimal host: one root port and one igb PF below it.
HostSpec SmallHost() {
  HostSpec spec;
  spec.iommu = HostSpec::Iommu::kIntel;
  spec.AddModule("igb", "", {"8086:10c9"}).sriov_configure = true;
  spec.AddModule("igbvf", "", {"8086:10ca"});
  spec.AddModule("pcieport").builtin = true;
  spec.AddDevice("0000:00:01.0", "8086:3c02", 0x060400, "pcieport");
  auto& pf = spec.AddDevice("0000:03:00.0", "8086:10c9", 0x020000, "igb");
  pf.parent = ptrec::Bdf::Parse("0000:00:01.0");
  pf.msix = true;
  pf.sriov = ptrec::sim::DeviceSpec::Sriov{7, 0, 0x10ca, 128, 2, true};
  return spec;
}

// Capability ids found walking the config space list from 0x34.
std::vector<int> CapabilityIds(const std::string& cfg) {
  std::vector<int> ids;
  if (cfg.size() < 256 || !(static_cast<uint8_t>(cfg[0x06]) & 0x10)) return ids;
  for (int at = static_cast<uint8_t>(cfg[0x34]), n = 0; at >= 0x40 && n < 48; ++n) {
    ids.push_back(static_cast<uint8_t>(cfg[at]));
    at = static_cast<uint8_t>(cfg[at + 1]);
  }
  return ids;
}

}  // namespace

TEST_CASE("simkernel: builder refuses / and non-empty output directories", "[simkernel]") {
  // Given a valid spec, then "/" (and spellings of it) and a directory with files are refused
  // before anything is written.
  HostSpec spec = SmallHost();
  for (const char* root : {"/", "//", "/.", "/tmp/.."}) {
    auto built = BuildHost(spec, root);
    REQUIRE_FALSE(built);
    CHECK(built.error().code == Code::kRefused);
  }
  ScopedTempDir dir("builder");
  std::FILE* f = std::fopen(dir.Sub("stray").c_str(), "w");
  REQUIRE(f);
  std::fclose(f);
  auto built = BuildHost(spec, dir.path());
  REQUIRE_FALSE(built);
  CHECK(built.error().code == Code::kRefused);
  CHECK_FALSE(RealHostFs(dir.path()).Exists("sys"));
}

TEST_CASE("simkernel: builder creates out_dir and an empty one is fine", "[simkernel]") {
  // Given a missing nested directory and an existing empty one, then both receive a host.
  ScopedTempDir dir("builder");
  REQUIRE(BuildHost(SmallHost(), dir.Sub("a/b/root")));
  CHECK(RealHostFs(dir.Sub("a/b/root")).Exists("sys/bus/pci/devices/0000:03:00.0/vendor"));
  ::mkdir(dir.Sub("empty").c_str(), 0755);
  REQUIRE(BuildHost(SmallHost(), dir.Sub("empty")));
}

TEST_CASE("simkernel: dual-82576 host has the kernel's device links and attributes",
          "[simkernel]") {
  // Given examples/hosts/dual-82576.yaml, then devices nest under their bridge and every link
  // has the relative target the kernel gives it.
  SimHost h("dual-82576.yaml");
  CHECK(h.Link(kDev0) == "../../../devices/pci0000:00/0000:00:01.0/0000:03:00.0");
  CHECK(h.Link("sys/bus/pci/devices/0000:00:19.0") == "../../../devices/pci0000:00/0000:00:19.0");
  CHECK(h.Link(std::string(kDev0) + "/driver") == "../../../../bus/pci/drivers/igb");
  CHECK(h.Link("sys/bus/pci/devices/0000:00:19.0/driver") == "../../../bus/pci/drivers/e1000e");
  CHECK(h.Link("sys/bus/pci/drivers/igb/0000:03:00.0") ==
        "../../../../devices/pci0000:00/0000:00:01.0/0000:03:00.0");
  CHECK(h.Link(std::string(kDev0) + "/iommu_group") == "../../../../kernel/iommu_groups/14");
  CHECK(h.Link("sys/bus/pci/devices/0000:03:00.1/iommu_group") ==
        "../../../../kernel/iommu_groups/15");
  CHECK(h.Link("sys/bus/pci/devices/0000:00:19.0/iommu_group") == "../../../kernel/iommu_groups/5");
  CHECK(h.Link("sys/kernel/iommu_groups/14/devices/0000:03:00.0") ==
        "../../../../devices/pci0000:00/0000:00:01.0/0000:03:00.0");
  CHECK(h.Read("sys/kernel/iommu_groups/14/type") == "identity\n");  // iommu=pt
  CHECK(h.Link(std::string(kDev0) + "/subsystem") == "../../../../bus/pci");
  CHECK(h.Exists("sys/class/iommu/dmar0"));
  CHECK(h.Link("sys/class/iommu/dmar0") == "../../devices/virtual/iommu/dmar0");
  CHECK(h.Exists("sys/bus/pci/drivers_probe"));
  CHECK(h.Exists("sys/bus/pci/rescan"));
  for (const char* attr : {"bind", "unbind", "new_id", "remove_id", "uevent"})
    CHECK(h.Exists(std::string("sys/bus/pci/drivers/vfio-pci/") + attr));

  CHECK(h.Read(std::string(kDev0) + "/vendor") == "0x8086\n");
  CHECK(h.Read(std::string(kDev0) + "/device") == "0x10c9\n");
  CHECK(h.Read(std::string(kDev0) + "/subsystem_vendor") == "0x8086\n");
  CHECK(h.Read(std::string(kDev0) + "/subsystem_device") == "0xa03c\n");
  CHECK(h.Read(std::string(kDev0) + "/class") == "0x020000\n");
  CHECK(h.Read(std::string(kDev0) + "/driver_override") == "(null)\n");
  CHECK(h.Read(std::string(kDev0) + "/numa_node") == "-1\n");
  CHECK(h.Read(std::string(kDev0) + "/enable") == "1\n");
  CHECK(h.Read(std::string(kDev0) + "/local_cpus") == "ff\n");
  CHECK(h.Read(std::string(kDev0) + "/sriov_totalvfs") == "7\n");
  CHECK(h.Read(std::string(kDev0) + "/sriov_numvfs") == "0\n");
  CHECK(h.Read(std::string(kDev0) + "/sriov_offset") == "128\n");
  CHECK(h.Read(std::string(kDev0) + "/sriov_stride") == "2\n");
  CHECK(h.Read(std::string(kDev0) + "/sriov_vf_device") == "10ca\n");
  CHECK(h.Read(std::string(kDev0) + "/sriov_drivers_autoprobe") == "1\n");
  CHECK(h.Read(std::string(kDev0) + "/modalias") ==
        "pci:v00008086d000010C9sv00008086sd0000A03Cbc02sc00i00\n");
  CHECK_FALSE(h.Exists("sys/bus/pci/devices/0000:00:19.0/sriov_numvfs"));
}

TEST_CASE("simkernel: config space carries ids, header type and the capability chain",
          "[simkernel]") {
  // Given the 82576 (MSI + MSI-X + PCIe), the root port and the host bridge (no PCIe cap), then
  // `config` is 256 bytes with the ids, header type and capabilities a parser walks.
  SimHost h("dual-82576.yaml");
  std::string cfg = h.Read(std::string(kDev0) + "/config");
  REQUIRE(cfg.size() == 256);
  CHECK(static_cast<uint8_t>(cfg[0]) == 0x86);
  CHECK(static_cast<uint8_t>(cfg[1]) == 0x80);
  CHECK(static_cast<uint8_t>(cfg[2]) == 0xc9);
  CHECK(static_cast<uint8_t>(cfg[3]) == 0x10);
  CHECK(static_cast<uint8_t>(cfg[0x0b]) == 0x02);  // class: network
  CHECK((static_cast<uint8_t>(cfg[0x0e]) & 0x7f) == 0);
  CHECK((static_cast<uint8_t>(cfg[0x0e]) & 0x80) != 0);  // 03:00.0 and .1: multi-function
  CHECK(CapabilityIds(cfg) == std::vector<int>{0x01, 0x05, 0x11, 0x10});

  std::string port = h.Read("sys/bus/pci/devices/0000:00:01.0/config");
  CHECK((static_cast<uint8_t>(port[0x0e]) & 0x7f) == 1);
  CHECK(static_cast<uint8_t>(port[0x19]) == 0x03);  // secondary bus
  std::string mgmt = h.Read("sys/bus/pci/devices/0000:00:19.0/config");
  CHECK(CapabilityIds(mgmt) == std::vector<int>{0x01, 0x05, 0x10});  // MSI, no MSI-X
  std::string host = h.Read("sys/bus/pci/devices/0000:00:00.0/config");
  CHECK(CapabilityIds(host) == std::vector<int>{0x01});
}

TEST_CASE("simkernel: net interfaces, block devices and procfs read like a real host",
          "[simkernel]") {
  // Given dual-82576 (eno1 up with the default route, enp3s0f1 up with an address, sda2 at /),
  // then sys/class/net, sys/block and proc/ have the kernel's links and formats.
  SimHost h("dual-82576.yaml");
  CHECK(h.Link("sys/class/net/eno1") == "../../devices/pci0000:00/0000:00:19.0/net/eno1");
  CHECK(h.Link("sys/class/net/eno1/device") == "../../../0000:00:19.0");
  CHECK(h.Link("sys/class/net/enp3s0f0/device") == "../../../0000:03:00.0");
  CHECK(h.Read("sys/class/net/eno1/operstate") == "up\n");
  CHECK(h.Read("sys/class/net/eno1/flags") == "0x1003\n");
  CHECK(h.Read("sys/class/net/enp3s0f0/operstate") == "down\n");
  CHECK(h.Read("sys/class/net/enp3s0f0/flags") == "0x1002\n");
  CHECK(h.Read("sys/class/net/eno1/address") == "00:25:90:12:34:56\n");
  CHECK(h.Link("sys/class/net/lo") == "../../devices/virtual/net/lo");
  CHECK(h.Link("sys/block/sda") ==
        "../devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda");
  CHECK(h.Read("sys/block/sda/dev") == "8:0\n");
  CHECK(h.Read("sys/block/sda/sda2/dev") == "8:2\n");
  CHECK(h.Read("sys/block/sda/sda2/partition") == "2\n");
  CHECK(h.Link("sys/block/sda/device") == "../../../0:0:0:0");
  CHECK(h.Read("sys/kernel/iommu_groups/5/reserved_regions") ==
        "0x00000000fee00000 0x00000000feefffff msi\n");

  CHECK(h.Read("proc/cmdline") ==
        "BOOT_IMAGE=/vmlinuz-6.1.0-28-amd64 root=/dev/sda2 ro quiet intel_iommu=on iommu=pt\n");
  CHECK(h.Read("proc/sys/kernel/osrelease") == "6.1.0-28-amd64\n");
  std::string route = h.Read("proc/net/route");
  CHECK(route.rfind(
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT",
            0) == 0);
  CHECK(route.find("\neno1\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0") !=
        std::string::npos);
  CHECK(route.find("\neno1\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF") != std::string::npos);
  CHECK(route.find("\nenp3s0f1\t0001000A\t00000000\t0001") != std::string::npos);
  CHECK(route.find("enp3s0f0") == std::string::npos);  // down: no routes
  CHECK(route.substr(0, route.find('\n')).size() == 127);
  CHECK(
      h.Read("proc/net/if_inet6").find("00000000000000000000000000000001 01 80 10 80       lo\n") !=
      std::string::npos);
  std::string mountinfo = h.Read("proc/self/mountinfo");
  CHECK(mountinfo.find("21 1 8:2 / / rw,relatime shared:1 - ext4 /dev/sda2 rw") !=
        std::string::npos);
  CHECK(mountinfo.find(" 8:1 / /boot/efi rw,relatime ") != std::string::npos);
}

TEST_CASE("simkernel: modules appear in sys/module, lib/modules and dev/vfio", "[simkernel]") {
  // Given dual-82576's modules, then loaded ones have sys/module entries with drivers links,
  // modules.alias has the real line format, built-ins are in modules.builtin, and vfio loaded
  // gives dev/vfio/vfio.
  SimHost h("dual-82576.yaml");
  CHECK(h.Link("sys/module/igb/drivers/pci:igb") == "../../../bus/pci/drivers/igb");
  CHECK(h.Link("sys/module/vfio_pci/drivers/pci:vfio-pci") == "../../../bus/pci/drivers/vfio-pci");
  CHECK(h.Link("sys/bus/pci/drivers/igb/module") == "../../../../module/igb");
  CHECK(h.Read("sys/module/igb/initstate") == "live\n");
  // Built in without parameters: a driver directory but no sys/module entry or module link
  // (as pcieport in the e2e reference dump).
  CHECK_FALSE(h.Exists("sys/module/pci_stub"));
  CHECK_FALSE(h.Exists("sys/bus/pci/drivers/pci-stub/module"));
  CHECK(h.Exists("sys/bus/pci/drivers/pci-stub/bind"));
  CHECK(h.Read("sys/module/igb/parameters/max_vfs") == "0\n");
  const std::string lib = "lib/modules/6.1.0-28-amd64/";
  CHECK(h.Read(lib + "modules.alias").find("alias pci:v00008086d000010C9sv*sd*bc*sc*i* igb\n") !=
        std::string::npos);
  CHECK(h.Read(lib + "modules.alias").find("alias pci:v00008086d000010CAsv*sd*bc*sc*i* igbvf\n") !=
        std::string::npos);
  CHECK(h.Read(lib + "modules.dep").find("kernel/drivers/net/ethernet/intel/igb/igb.ko:\n") !=
        std::string::npos);
  CHECK(h.Read(lib + "modules.builtin").find("kernel/drivers/pci/pci-stub.ko\n") !=
        std::string::npos);
  CHECK(h.Exists("dev/vfio/vfio"));
}

TEST_CASE("simkernel: bcm5720-shared-group host shares group 16 and boots from NVMe",
          "[simkernel]") {
  // Given examples/hosts/bcm5720-shared-group.yaml, then both BCM5720 ports are in group 16,
  // the NVMe namespace and its partitions exist, and / is on nvme0n1p2.
  SimHost h("bcm5720-shared-group.yaml");
  auto members = h.fs().ListDir("sys/kernel/iommu_groups/16/devices");
  REQUIRE(members);
  CHECK(*members == std::vector<std::string>{"0000:02:00.0", "0000:02:00.1"});
  CHECK(h.Link("sys/bus/pci/devices/0000:02:00.1/iommu_group") ==
        "../../../../kernel/iommu_groups/16");
  CHECK(h.Read("sys/kernel/iommu_groups/16/type") == "DMA\n");  // no iommu=pt
  // Native NVMe multipath (Debian's CONFIG_NVME_MULTIPATH=y), as in the e2e reference dump.
  CHECK(h.Link("sys/block/nvme0n1") == "../devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1");
  CHECK(h.Link("sys/block/nvme0c0n1") ==
        "../devices/pci0000:00/0000:00:1d.0/0000:04:00.0/nvme/nvme0/nvme0c0n1");
  CHECK(h.Link("sys/class/nvme/nvme0") ==
        "../../devices/pci0000:00/0000:00:1d.0/0000:04:00.0/nvme/nvme0");
  CHECK(h.Link("sys/class/nvme/nvme0/device") == "../../../0000:04:00.0");
  CHECK(h.Link("sys/devices/virtual/nvme-subsystem/nvme-subsys0/nvme0") ==
        "../../../pci0000:00/0000:00:1d.0/0000:04:00.0/nvme/nvme0");
  CHECK(h.Read("sys/block/nvme0n1/nvme0n1p2/dev") == "259:2\n");
  CHECK(h.Read("sys/class/nvme/nvme0/state") == "live\n");
  CHECK(
      h.Read("proc/self/mountinfo").find("259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2") !=
      std::string::npos);
  CHECK(h.Read("sys/bus/pci/devices/0000:01:00.0/sriov_offset") == "384\n");
  CHECK(h.Read("sys/bus/pci/devices/0000:01:00.0/sriov_vf_device") == "1520\n");
  CHECK(
      h.Read("proc/net/if_inet6").find("20010db8002000000000000000000015 02 40 00 80     eno1\n") !=
      std::string::npos);
  CHECK(h.Read("proc/net/ipv6_route").find("00000000000000000000000000000000 00 ") !=
        std::string::npos);                   // IPv6 default route on eno1
  CHECK_FALSE(h.Exists("sys/module/igbvf"));  // not loaded
}

TEST_CASE("simkernel: bcm57810 host has 64-VF PFs with non-overlapping VF ranges", "[simkernel]") {
  // Given examples/hosts/bcm57810-bnx2x.yaml, then each PF reports 64 VFs, and enabling all of
  // them on both PFs yields disjoint addresses: port 0 05:01.0-05:08.7, port 1 05:09.0-05:10.7.
  SimHost h("bcm57810-bnx2x.yaml");
  CHECK(h.Read("sys/bus/pci/devices/0000:05:00.0/sriov_totalvfs") == "64\n");
  CHECK(h.Read("sys/bus/pci/devices/0000:05:00.1/sriov_offset") == "71\n");
  CHECK(h.Read("sys/bus/pci/devices/0000:05:00.0/numa_node") == "0\n");
  CHECK(h.Read("sys/bus/pci/devices/0000:05:00.0/local_cpus") == "000fff\n");
  REQUIRE(h.Write("sys/bus/pci/devices/0000:05:00.0/sriov_numvfs", "64") == 0);
  REQUIRE(h.Write("sys/bus/pci/devices/0000:05:00.1/sriov_numvfs", "64") == 0);
  CHECK(h.Link("sys/bus/pci/devices/0000:05:00.0/virtfn0") == "../0000:05:01.0");
  CHECK(h.Link("sys/bus/pci/devices/0000:05:00.0/virtfn63") == "../0000:05:08.7");
  CHECK(h.Link("sys/bus/pci/devices/0000:05:00.1/virtfn0") == "../0000:05:09.0");
  CHECK(h.Link("sys/bus/pci/devices/0000:05:00.1/virtfn63") == "../0000:05:10.7");
}

TEST_CASE("simkernel: no-iommu host has no groups and no IOMMU units", "[simkernel]") {
  // Given examples/hosts/no-iommu.yaml, then the iommu_groups and class/iommu directories are
  // empty and no device has an iommu_group link.
  SimHost h("no-iommu.yaml");
  CHECK(h.fs().ListDir("sys/kernel/iommu_groups").value_or(std::vector<std::string>{"?"}).empty());
  CHECK(h.fs().ListDir("sys/class/iommu").value_or(std::vector<std::string>{"?"}).empty());
  CHECK_FALSE(h.Exists("sys/bus/pci/devices/0000:02:00.0/iommu_group"));
  CHECK(h.Read("proc/cmdline").find("intel_iommu") == std::string::npos);
  CHECK(h.Link("sys/bus/pci/devices/0000:02:00.0/driver") == "../../../../bus/pci/drivers/e1000e");
}

TEST_CASE("simkernel: a host without IPv4 routes has an empty proc/net/route", "[simkernel]") {
  // Given a host with no addresses (like the e2e guest), then proc/net/route is empty: without a
  // main table fib_route_seq_start() prints not even the header.
  SimHost h(SmallHost());
  CHECK(h.Read("proc/net/route").empty());
}

TEST_CASE("simkernel: boot-time VFs are made by the simulated kernel's code path", "[simkernel]") {
  // Given a PF with num_vfs: 2 in the spec (igb max_vfs=2), then the VFs exist with PF/VF links,
  // fresh IOMMU groups, and were autoprobed to the loaded igbvf.
  HostSpec spec = SmallHost();
  spec.devices.back().sriov->num_vfs = 2;
  SimHost h(spec);
  CHECK(h.Read(std::string(kDev0) + "/sriov_numvfs") == "2\n");
  CHECK(h.Link(std::string(kDev0) + "/virtfn1") == "../0000:03:10.2");
  CHECK(h.Link("sys/bus/pci/devices/0000:03:10.2/physfn") == "../0000:03:00.0");
  CHECK(h.Link("sys/bus/pci/devices/0000:03:10.2/driver") == "../../../../bus/pci/drivers/igbvf");
  CHECK(h.Exists("sys/kernel/iommu_groups/2/devices/0000:03:10.0"));
}

TEST_CASE("simkernel: host spec errors name file, line and column", "[simkernel]") {
  // Given YAML with a typo'd key, a bad BDF and a missing file, then errors are kInvalid /
  // kNotFound with "file:line:col".
  auto typo = ParseHostSpec(
      "release: x\ndevices:\n  - {bdf: 0000:03:00.0, id: 8086:10c9, "
      "class: 0x020000, drvier: igb}\n",
      "h.yaml");
  REQUIRE_FALSE(typo);
  CHECK(typo.error().code == Code::kInvalid);
  CHECK(typo.error().message.rfind("h.yaml:3:", 0) == 0);
  CHECK(typo.error().message.find("drvier") != std::string::npos);

  auto bad_bdf =
      ParseHostSpec("devices:\n  - bdf: 03:00\n    id: 8086:10c9\n    class: 0x020000\n", "h.yaml");
  REQUIRE_FALSE(bad_bdf);
  CHECK(bad_bdf.error().message.rfind("h.yaml:2:10:", 0) == 0);

  auto missing = LoadHostSpec("/nonexistent/host.yaml");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Code::kNotFound);
}

TEST_CASE("simkernel: builder rejects inconsistent specs", "[simkernel]") {
  // Given specs with a missing parent, a driver no module provides, and a group without IOMMU,
  // then BuildHost fails with kInvalid and writes nothing.
  ScopedTempDir dir("builder");
  HostSpec orphan = SmallHost();
  orphan.devices.back().parent = ptrec::Bdf::Parse("0000:00:02.0");
  HostSpec no_driver = SmallHost();
  no_driver.devices.back().driver = "ixgbe";
  HostSpec no_iommu = SmallHost();
  no_iommu.iommu = HostSpec::Iommu::kNone;
  no_iommu.devices.back().iommu_group = 3;
  for (const HostSpec* spec : {&orphan, &no_driver, &no_iommu}) {
    auto built = BuildHost(*spec, dir.Sub("root"));
    REQUIRE_FALSE(built);
    CHECK(built.error().code == Code::kInvalid);
    CHECK_FALSE(RealHostFs(dir.path()).Exists("root/sys"));
  }
}

TEST_CASE("simkernel: builder writes thousands of devices quickly", "[simkernel]") {
  // Given 1000 igb PFs with 2 boot-time VFs each (3000 functions), then the build succeeds and,
  // on tmpfs, stays linear: about 1 s on a loaded 2-vCPU VM, where each file creation costs
  // ~15 us (a disk file system costs ~15x more). The bound only catches quadratic regressions.
  HostSpec spec;
  spec.iommu = HostSpec::Iommu::kIntel;
  spec.AddModule("igb", "", {"8086:10c9"}).sriov_configure = true;
  spec.AddModule("igbvf", "", {"8086:10ca"});
  for (int i = 0; i < 1000; ++i) {
    char bdf[16];
    std::snprintf(bdf, sizeof bdf, "%04x:%02x:00.%x", i / 400, 1 + (i / 2) % 200, i % 2);
    auto& pf = spec.AddDevice(bdf, "8086:10c9", 0x020000, "igb");
    pf.msix = true;
    pf.sriov = ptrec::sim::DeviceSpec::Sriov{7, 2, 0x10ca, 128, 2, true};
  }
  ScopedTempDir dir("bench");
  auto start = std::chrono::steady_clock::now();
  REQUIRE(BuildHost(spec, dir.Sub("root")));
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  RealHostFs fs(dir.Sub("root"));
  CHECK(fs.ListDir("sys/bus/pci/devices")->size() == 3000);
  CHECK(fs.ReadLink("sys/bus/pci/devices/0002:64:10.2/physfn").value_or("") == "../0002:64:00.0");
  struct statfs st {};
  bool tmpfs = ::statfs(dir.path().c_str(), &st) == 0 && st.f_type == TMPFS_MAGIC;
  INFO("3000 functions built in " << ms << " ms" << (tmpfs ? " on tmpfs" : ""));
  if (tmpfs) CHECK(ms < 10000);
}

TEST_CASE("simkernel: nvme_core.multipath=N puts the NVMe disk under its controller",
          "[simkernel]") {
  // Given the bcm5720-shared-group spec with nvme_core.multipath=N on the command line, then
  // nvme0n1 sits under the PCI function's controller and no nvme-subsystem disk exists.
  auto spec = LoadHostSpec(ExampleHostPath("bcm5720-shared-group.yaml"));
  REQUIRE(spec);
  spec->cmdline += " nvme_core.multipath=N";
  SimHost h(*spec);
  CHECK(h.Link("sys/block/nvme0n1") ==
        "../devices/pci0000:00/0000:00:1d.0/0000:04:00.0/nvme/nvme0/nvme0n1");
  CHECK_FALSE(h.Exists("sys/block/nvme0c0n1"));
  CHECK(h.Read("sys/block/nvme0n1/nvme0n1p2/dev") == "259:2\n");
}

TEST_CASE("simkernel: builder writes the spec's files (files: key)", "[simkernel]") {
  // Given a spec with files: as text and as {content, mode}, then both exist with that content
  // and mode; paths that leave the root or land in the kernel's trees are refused.
  auto spec = ParseHostSpec(
      "files:\n"
      "  etc/default/grub: |\n"
      "    GRUB_CMDLINE_LINUX=\"quiet\"\n"
      "  usr/sbin/update-grub: {content: \"#!/bin/sh\\n\", mode: \"0755\"}\n",
      "h.yaml");
  REQUIRE(spec.has_value());
  REQUIRE(spec->files.size() == 2);
  HostSpec small = SmallHost();
  small.files = spec->files;
  ScopedTempDir tmp("files");
  REQUIRE(BuildHost(small, tmp.Sub("h")).has_value());
  RealHostFs fs(tmp.Sub("h"));
  CHECK(fs.ReadFile("etc/default/grub").value_or("") == "GRUB_CMDLINE_LINUX=\"quiet\"\n");
  CHECK(fs.ReadFile("usr/sbin/update-grub").value_or("") == "#!/bin/sh\n");
  struct stat st {};
  REQUIRE(::stat((tmp.Sub("h") + "/usr/sbin/update-grub").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0755);
  REQUIRE(::stat((tmp.Sub("h") + "/etc/default/grub").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0644);

  for (const char* bad : {"../etc/passwd", "/etc/x", "sys/bus/pci/rescan", "proc/cmdline", "etc/../x"}) {
    HostSpec h = SmallHost();
    h.files = {{bad, "x", 0644}};
    ScopedTempDir t2("files-bad");
    auto built = BuildHost(h, t2.Sub("h"));
    INFO(bad);
    REQUIRE_FALSE(built.has_value());
    CHECK(built.error().code == Code::kInvalid);
  }
  auto typo = ParseHostSpec("files:\n  etc/x: {content: a, mod: \"0644\"}\n", "h.yaml");
  REQUIRE_FALSE(typo.has_value());
  CHECK_THAT(typo.error().message, Catch::Contains("unknown file key 'mod'"));
}
