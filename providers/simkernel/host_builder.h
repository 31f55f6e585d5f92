// The sandbox host builder: writes a host-root directory laid out as the Linux kernel lays out
// sysfs and procfs, from a HostSpec (C++ or a YAML file), so that ptrec's discovery reading it
// through HostFs sees what it would see on that host. SimKernelFs (sim_kernel.h) then gives the
// tree the kernel's reactions to writes.
//
// What BuildHost writes (every link relative, as kernfs makes them; kernel sources cited in
// sim_tree.h and host_builder.cc):
//
//   sys/devices/pci0000:00/0000:00:01.0/0000:03:00.0/   vendor "0x8086\n", device, class
//       "0x020000\n", subsystem_*, driver_override "(null)\n", numa_node, irq, enable,
//       local_cpus, config (256 bytes), sriov_* (PFs), driver -> ../../../../bus/pci/drivers/igb,
//       iommu_group -> ../../../../kernel/iommu_groups/14, virtfnN -> ../0000:03:10.0 (PF),
//       physfn -> ../0000:03:00.0 (VF), net/IFNAME/{operstate,flags,address,device}
//   sys/bus/pci/devices/BDF -> ../../../devices/pci0000:00/.../BDF
//   sys/bus/pci/drivers/NAME/{bind,unbind,new_id,remove_id,uevent,BDF links,module}
//   sys/bus/pci/{drivers_probe,rescan,drivers_autoprobe}
//   sys/kernel/iommu_groups/N/{devices/BDF,type,reserved_regions}; sys/class/iommu/dmar0
//   sys/class/net/IFNAME, sys/block/DISK, sys/class/block/{DISK,PART}, sys/class/nvme/nvmeN
//   sys/module/NAME/{drivers/pci:DRIVER,parameters/P,initstate,refcnt}
//   lib/modules/RELEASE/{modules.dep,modules.builtin,modules.alias,modules.builtin.alias}
//   proc/cmdline, proc/sys/kernel/osrelease, proc/net/{route,ipv6_route,if_inet6},
//   proc/self/mountinfo, dev/vfio/{vfio,N}, .ptrec-sim.yaml (SimOptions),
//   var/lib/ptrec/snapshot/ipv4-addresses (the IPv4 addresses, as `ptrec snapshot` records
//   them: pci::kIpv4AddressesFile)
//   HostSpec::files: any other file (etc/default/grub, etc/modprobe.d/*.conf, usr/sbin/...)
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "providers/simkernel/sim_options.h"
#include "reconciler/error.h"
#include "reconciler/pci_address.h"

namespace ptrec::sim {

/// One PCI function present at boot.
struct DeviceSpec {
  Bdf bdf;
  /// Upstream bridge (root port, switch port). nullopt: the function sits on a root bus and its
  /// directory is sys/devices/pciDDDD:BB/BDF. Otherwise it nests in the parent's directory.
  std::optional<Bdf> parent;
  PciId id;                 ///< vendor:device
  PciId subsystem;          ///< subsystem vendor:device; {0,0} = same as \a id
  uint32_t class_code = 0;  ///< 24-bit class, e.g. 0x020000; 0x0604xx makes a bridge
  uint8_t revision = 0x01;
  std::string driver;           ///< bound driver at boot ("igb"); "" = none
  std::string driver_override;  ///< "" = (null)
  /// IOMMU group. -1: a fresh group is assigned when the host has an IOMMU (none otherwise).
  /// Setting one on a host without IOMMU is an error.
  int iommu_group = -1;
  int numa_node = -1;  ///< -1 = no affinity (local_cpus = every CPU)
  int irq = 0;
  bool msi = false;           ///< MSI capability (0x05) in config space
  bool msix = false;          ///< MSI-X capability (0x11)
  bool pcie = true;           ///< PCI Express capability (0x10); false for host bridges
  std::string net_interface;  ///< "enp3s0f0" or "" (created only while the driver is bound)
  bool net_up = false;        ///< operstate "up"/"down", flags 0x1003/0x1002
  std::string mac;            ///< "" = derived from the BDF
  /// SR-IOV capability (drivers/pci/iov.c). num_vfs > 0 creates VFs at boot the way the PF
  /// driver does with pci_enable_sriov() (igb max_vfs=N), through SimKernelFs::EnableSriov.
  struct Sriov {
    int total_vfs = 0;
    int num_vfs = 0;
    uint16_t vf_device = 0;
    int offset = 0;  ///< routing-id offset of VF 0
    int stride = 1;
    bool drivers_autoprobe = true;
  };
  std::optional<Sriov> sriov;
  /// Whole disks below this controller: "nvme0n1" or "sda". Partitions come from
  /// \a partitions and from mounts that name them ("sda2", "nvme0n1p2").
  ///  - NVMe, native multipath (the kernel default, Debian's build; as the e2e reference dump
  ///    shows): controller BDF/nvme/nvme0 with the hidden path disk nvme0c0n1, namespace disk
  ///    sys/block/nvme0n1 -> ../devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1 (dev 259:0,
  ///    partitions 259:1...), nvme-subsys0/nvme0 -> the controller. With
  ///    "nvme_core.multipath=N" on the cmdline: BDF/nvme/nvme0/nvme0n1 directly.
  ///  - SATA: BDF/ataN/hostM/targetM:0:0/M:0:0:0/block/sdX (dev 8:16*M).
  std::vector<std::string> block_devices;
  int partitions = 0;  ///< partitions per disk at least (mounts may ask for more)
};

/// A kernel module: modules.dep/modules.builtin entry, aliases, and the PCI driver it registers.
struct ModuleSpec {
  std::string name;      ///< module name, '_' form: "vfio_pci"
  std::string driver;    ///< PCI driver it registers ("vfio-pci"); "" = none
  bool loaded = true;    ///< in sys/module with its driver under sys/bus/pci/drivers
  bool builtin = false;  ///< built into the kernel (modules.builtin); implies present
  std::vector<PciId>
      pci_ids;  ///< static id table -> "alias pci:v0000VVVVd0000DDDDsv*sd*bc*sc*i* NAME"
  std::vector<std::string> aliases;  ///< extra raw alias patterns, "pci:v*d*sv*sd*bc06sc04i00*"
  bool sriov_configure = false;      ///< driver has .sriov_configure (sysfs sriov_numvfs works)
  std::map<std::string, std::string> parameters;  ///< sys/module/NAME/parameters/P contents
  std::string path;  ///< .ko path in modules.dep; "" = a typical one for the name
};

/// Addresses and the default route, for proc/net/*.
struct NetworkSpec {
  std::string default_route;  ///< interface carrying the IPv4 (and IPv6) default route; "" none
  std::string gateway;        ///< IPv4 gateway; "" = first host of the interface's subnet
  /// "eno1" -> {"192.168.1.10/24", "2001:db8::10/64"}. Only interfaces that are up get routes,
  /// and an IPv4 /32 gets no prefix route (fib_add_ifaddr); every IPv4 address, up or down, is
  /// in pci::kIpv4AddressesFile.
  std::map<std::string, std::vector<std::string>> addresses;
};

/// One mount for proc/self/mountinfo.
struct MountSpec {
  std::string source;  ///< partition or disk ("sda2", "nvme0n1p2") or a pseudo fs name
  std::string target;  ///< "/", "/boot"
  std::string fstype = "ext4";
  std::string options = "rw,relatime";
};

/// A configuration file of the host (etc/default/grub, a stand-in usr/sbin/update-grub).
struct FileSpec {
  std::string path;     ///< relative to the root, no "..", not under sys/, proc/ or dev/
  std::string content;  ///< written as is
  unsigned mode = 0644;
};

/// A libvirt domain of the sandbox host, simulated as XML files (providers/vm/sim_domains.h):
/// etc/libvirt/qemu/NAME.xml and, when running, run/libvirt/qemu/NAME.xml.
struct DomainSpec {
  std::string name;
  bool running = false;
  std::vector<Bdf> hostdevs;  ///< PCI hostdevs (managed='no') in the definition (and live when running)
};

/// A whole simulated host.
struct HostSpec {
  enum class Iommu { kNone, kIntel, kAmd };

  std::string release = "6.1.0-28-amd64";  ///< proc/sys/kernel/osrelease, lib/modules/RELEASE
  std::string cmdline;                     ///< proc/cmdline (without newline)
  Iommu iommu = Iommu::kNone;
  /// IOMMU group `type`; "" = "identity" when cmdline has iommu=pt, else "DMA".
  std::string iommu_domain_type;
  int cpus = 8;
  int numa_nodes = 1;
  std::vector<ModuleSpec> modules;
  std::vector<DeviceSpec> devices;
  NetworkSpec network;
  std::vector<MountSpec> mounts;
  std::vector<DomainSpec> domains;  ///< libvirt domains (simulated); names unique
  SimOptions sim;  ///< written to .ptrec-sim.yaml (plus drivers without sriov_configure)
  /// Configuration files (bootloader, modprobe.d, ...), written after the kernel's trees.
  std::vector<FileSpec> files;

  /// Appends a device and returns it for more settings; one call per device:
  ///   spec.AddDevice("0000:03:00.0", "8086:10c9", 0x020000, "igb").msix = true;
  /// Throws std::invalid_argument on a malformed \a bdf or \a id literal (a bug in the caller).
  DeviceSpec& AddDevice(std::string_view bdf, std::string_view id, uint32_t class_code,
                        std::string driver = {});
  /// Appends a loaded module; \a driver "" = same as \a name. \a ids: "8086:10c9" literals.
  ModuleSpec& AddModule(std::string name, std::string driver = {},
                        std::vector<std::string_view> ids = {});
};

/// Reads a host spec YAML file (see examples/hosts/*.yaml for every key). Unknown keys are
/// errors. Errors: kNotFound (no file), kInvalid with message "FILE:LINE:COL: what".
Result<HostSpec> LoadHostSpec(const std::string& yaml_path);
/// Same from YAML text; \a name stands for the file in messages.
Result<HostSpec> ParseHostSpec(const std::string& yaml, const std::string& name);

/// Writes the host described by \a spec into \a out_dir, which must not exist or be empty
/// (created with its parents). Refuses "/" and any live sysfs (kRefused). Checks the spec first
/// (kInvalid: duplicate BDFs, a missing parent, a driver no present module provides, an IOMMU
/// group without IOMMU, a mount of an unknown disk). VFs with num_vfs > 0 are created through
/// SimKernelFs::EnableSriov, the same code that serves sriov_numvfs writes.
/// Errors: kRefused, kInvalid, kIo (with errno).
Result<void> BuildHost(const HostSpec& spec, const std::string& out_dir);

}  // namespace ptrec::sim
