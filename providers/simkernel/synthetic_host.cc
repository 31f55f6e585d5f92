#include "providers/simkernel/synthetic_host.h"


namespace ptrec::sim {
namespace {

std::string BdfText(int bus, int dev, int fn) {
  return Bdf{0, static_cast<uint8_t>(bus), static_cast<uint8_t>(dev), static_cast<uint8_t>(fn)}.str();
}

}  // namespace

HostSpec SyntheticHost(const SyntheticShape& shape) {
  HostSpec spec;
  spec.release = "6.1.0-28-amd64";
  spec.cmdline = "BOOT_IMAGE=/vmlinuz-6.1.0-28-amd64 root=/dev/sda2 ro quiet intel_iommu=on iommu=pt";
  spec.iommu = HostSpec::Iommu::kIntel;
  spec.AddModule("ice", "ice", {"8086:1592"}).sriov_configure = true;
  spec.AddModule("iavf", "iavf", {"8086:1889"});
  spec.AddModule("e1000e", "e1000e", {"8086:15b8"});
  spec.AddModule("ahci", "ahci", {"8086:a352"});
  spec.AddModule("vfio_pci", "vfio-pci");
  spec.AddModule("pcieport", "pcieport").builtin = true;
  spec.modules.back().aliases = {"pci:v*d*sv*sd*bc06sc04i00*"};

  spec.AddDevice("0000:00:00.0", "8086:3e30", 0x060000).pcie = false;
  auto& mgmt = spec.AddDevice("0000:00:1f.6", "8086:15b8", 0x020000, "e1000e");
  mgmt.msi = true;
  mgmt.net_interface = "eno1";
  mgmt.net_up = true;
  auto& sata = spec.AddDevice("0000:00:17.0", "8086:a352", 0x010601, "ahci");
  sata.msi = true;
  sata.block_devices = {"sda"};
  spec.network.default_route = "eno1";
  spec.network.addresses["eno1"] = {"192.168.10.2/24"};
  spec.mounts.push_back({"sda2", "/", "ext4", "rw,relatime"});

  for (int b = 0; b < shape.pfs; ++b) {
    int bus = b + 1;
    std::string port = BdfText(0, b / 8 + 1, b % 8);
    auto& rp = spec.AddDevice(port, "8086:a110", 0x060400, "pcieport");
    rp.msi = true;
    auto& pf = spec.AddDevice(BdfText(bus, 0, 0), "8086:1592", 0x020000, "ice");
    pf.parent = *Bdf::Parse(port);
    pf.msix = true;
    pf.numa_node = b % 2;
    pf.net_interface = "ens" + std::to_string(bus) + "f0";
    pf.sriov = DeviceSpec::Sriov{shape.total_vfs, shape.vfs_per_pf, 0x1889, 8, 1, true};
  }
  return spec;
}

std::string SyntheticDesiredState(const SyntheticShape& shape) {
  std::string y = "apiVersion: ptrec/v1\nkind: HostConfig\nmetadata:\n  name: synthetic\nsriov:\n";
  for (int b = 0; b < shape.pfs; ++b) {
    y += "  - device: \"" + BdfText(b + 1, 0, 0) + "\"\n    numVfs: " + std::to_string(shape.vfs_per_pf) + "\n";
    if (b % 4 == 0) y += "    vfDriver: vfio-pci\n";
  }
  return y;
}

}  // namespace ptrec::sim
