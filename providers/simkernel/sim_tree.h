// Internal to providers/simkernel: writes the directories, attribute files and links of a
// simulated host the way the kernel lays them out in sysfs. Shared by BuildHost (the whole
// host at "boot") and SimKernelFs (VFs appearing, drivers binding), so a VF made by either
// looks the same.
//
// Layout facts and their kernel sources:
//  - device directories nest under their upstream bridge: sys/devices/pci0000:00/0000:00:01.0/
//    0000:03:00.0 (drivers/pci/probe.c pci_setup_device: dev->dev.parent = bus->bridge);
//  - sys/bus/pci/devices/BDF and every other link are relative, computed by
//    kernfs_get_target_path() (fs/kernfs/symlink.c) -- see RelativeLinkTarget();
//  - attribute formats are those of drivers/pci/pci-sysfs.c ("0x%04x\n" ids, "0x%06x\n" class,
//    "%s\n" driver_override, "%d\n" numa_node) and drivers/pci/iov.c (sriov_*).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reconciler/error.h"
#include "reconciler/pci_address.h"

namespace ptrec::sim::internal {

/// The relative target the kernel gives a link in directory \a link_dir that points at
/// \a target (both relative to the host root). As kernfs_get_target_path() does: climb from
/// the link's directory until reaching a strict ancestor of \a target, then descend.
/// ("sys/devices/pci0000:00/0000:00:19.0/net/eno1", "sys/devices/pci0000:00/0000:00:19.0")
///   -> "../../../0000:00:19.0"   (the kernel's sys/class/net/eno1/device)
std::string RelativeLinkTarget(std::string_view link_dir, std::string_view target);

/// The path a link with target \a target inside directory \a dir names, relative to the root,
/// with "." and ".." folded: ("sys/bus/pci/devices", "../../../devices/pci0000:00/0000:00:01.0")
/// -> "sys/devices/pci0000:00/0000:00:01.0". "" when it climbs above the root.
std::string ResolveLinkTarget(std::string_view dir, std::string_view target);

/// Directory part of \a path ("a/b/c" -> "a/b"; "a" -> "").
std::string_view Dirname(std::string_view path);

/// Plain system calls under one host root; every path is relative to it. Not thread-safe by
/// itself: SimKernelFs serialises its use. Errors carry the errno (Error::sys_errno).
class TreeWriter {
 public:
  /// \a root: an existing directory ("/" is accepted here; callers refuse it earlier).
  explicit TreeWriter(std::string root);

  /// Absolute path of \a rel.
  std::string Abs(std::string_view rel) const;

  /// mkdir -p with mode 0755. Existing directories are fine.
  Result<void> MakeDirs(std::string_view rel);
  /// Creates or truncates regular file \a rel (parent must exist) with \a data and \a mode
  /// (sysfs modes: 0444 read-only, 0644 read-write, 0200 write-only).
  Result<void> WriteFile(std::string_view rel, std::string_view data, unsigned mode = 0444);
  /// Symlink \a rel_link -> RelativeLinkTarget(dir of \a rel_link, \a rel_target); an existing
  /// link of that name is replaced.
  Result<void> Link(std::string_view rel_link, std::string_view rel_target);
  /// Removes a file or link; a missing one is success.
  Result<void> Remove(std::string_view rel);
  /// rm -r of \a rel (never follows links); a missing one is success.
  Result<void> RemoveTree(std::string_view rel);
  /// rename(2) \a from to \a to, creating the parent of \a to.
  Result<void> Rename(std::string_view from, std::string_view to);
  /// True when \a rel exists (not following a final link).
  bool Present(std::string_view rel) const;

 private:
  std::string prefix_;  ///< root without trailing '/' ("" for "/")
};

/// SR-IOV capability facts of a PF as drivers/pci/iov.c shows them.
struct SriovAttrs {
  int total_vfs = 0;              ///< sriov_totalvfs "%u\n"
  int num_vfs = 0;                ///< sriov_numvfs "%u\n" (0 when written; VFs are added later)
  uint16_t vf_device = 0;         ///< sriov_vf_device "%x\n" (no 0x)
  int offset = 0;                 ///< sriov_offset "%u\n": routing-id offset of VF 0
  int stride = 1;                 ///< sriov_stride "%u\n"
  bool drivers_autoprobe = true;  ///< sriov_drivers_autoprobe "%u\n"
};

/// Everything needed to write one PCI function's directory.
struct FunctionAttrs {
  Bdf bdf;
  std::string dir;  ///< canonical dir, "sys/devices/pci0000:00/0000:00:01.0/0000:03:00.0"
  PciId id;
  PciId subsystem;
  uint32_t class_code = 0;
  uint8_t revision = 0x01;
  bool bridge = false;          ///< header type 1 (PCI-to-PCI bridge / PCIe port)
  bool multifunction = false;   ///< header type bit 7: the slot has more than one function
  uint8_t secondary_bus = 0;    ///< bridges: config 0x19
  uint8_t subordinate_bus = 0;  ///< bridges: config 0x1a
  bool msi = false;
  bool msix = false;
  bool pcie = true;  ///< PCI Express capability present
  bool vf = false;   ///< config space vendor/device read 0xffff (SR-IOV 1.1 §3.4.1.1-2)
  int numa_node = -1;
  int irq = 0;
  std::string local_cpus = "ff";      ///< cpumask "%*pb", e.g. "ff"
  std::string local_cpulist = "0-7";  ///< "%*pbl"
  bool enabled = false;               ///< `enable`: a driver called pci_enable_device()
  std::optional<SriovAttrs> sriov;
};

/// 256 bytes of type-0/type-1 config space for \a f: ids at 0x00, status bit 4 (capability
/// list) at 0x06, class at 0x09..0x0b, header type at 0x0e, bus numbers (bridges) at 0x18..0x1a,
/// subsystem ids (endpoints) at 0x2c, capability pointer at 0x34, then a chain of PM (0x01,
/// at 0x40, not for VFs), MSI (0x05, 0x50), MSI-X (0x11, 0x70), PCI Express (0x10, 0xa0) as set.
/// Source: PCI Local Bus Spec 3.0 §6.1, §6.7; PCIe Base Spec §7.5.3.
std::string ConfigSpace(const FunctionAttrs& f);

/// "pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X" (drivers/pci/pci-sysfs.c modalias_show).
std::string Modalias(PciId id, PciId subsystem, uint32_t class_code);

/// Writes \a f.dir with every attribute file, `config`, the `subsystem` link and the
/// sys/bus/pci/devices/BDF link. No driver, IOMMU group or SR-IOV links.
Result<void> WriteFunction(TreeWriter& w, const FunctionAttrs& f);

/// Links device \a bdf (canonical \a dir) and driver \a driver both ways: DIR/driver ->
/// sys/bus/pci/drivers/DRIVER and sys/bus/pci/drivers/DRIVER/BDF -> DIR
/// (drivers/base/bus.c driver_sysfs_add). The driver directory must exist.
Result<void> LinkDriver(TreeWriter& w, Bdf bdf, std::string_view dir, std::string_view driver);
/// Removes both links made by LinkDriver (drivers/base/dd.c driver_sysfs_remove).
Result<void> UnlinkDriver(TreeWriter& w, Bdf bdf, std::string_view dir, std::string_view driver);

/// Puts \a dir in IOMMU group \a group: DIR/iommu_group -> sys/kernel/iommu_groups/N and
/// sys/kernel/iommu_groups/N/devices/BDF -> DIR; creates the group (with `type` \a type and an
/// empty `reserved_regions`) when missing (drivers/iommu/iommu.c iommu_group_add_device).
/// When \a iommu_unit is not empty, DIR/iommu -> sys/devices/virtual/iommu/UNIT too.
Result<void> AddToIommuGroup(TreeWriter& w, Bdf bdf, std::string_view dir, int group,
                             std::string_view type, std::string_view iommu_unit);

/// The VFIO group device vfio-pci registers for IOMMU group \a group (drivers/vfio/group.c
/// vfio_group_alloc): dev/vfio/N (a regular file stands in for the character device),
/// sys/devices/virtual/vfio/N and sys/class/vfio/N -> ../../devices/virtual/vfio/N.
Result<void> AddVfioGroup(TreeWriter& w, int group);
/// Removes what AddVfioGroup made (the group's last vfio device was released).
void RemoveVfioGroup(TreeWriter& w, int group);

/// One network interface as net/core/net-sysfs.c shows it.
struct NetInterfaceAttrs {
  std::string dir;         ///< "sys/devices/.../0000:01:00.0/net/eth0" or ".../virtual/net/lo"
  std::string name;        ///< "eth0"
  int ifindex = 0;
  std::string mac;         ///< "52:54:00:e2:e0:01"
  bool up = false;         ///< flags 0x1003 (IFF_UP|IFF_BROADCAST|IFF_MULTICAST) / 0x1002
  std::string operstate;   ///< "" = "up" when \a up, else "down"
  std::string flags;       ///< "" = from \a up; "0x9" for lo
  int mtu = 1500;
  int type = 1;            ///< ARPHRD_ETHER = 1, ARPHRD_LOOPBACK = 772
  std::string device_dir;  ///< the PCI function; "" for virtual interfaces
};

/// Writes \a n.dir with address, addr_len, broadcast, flags, ifindex, iflink, mtu, operstate,
/// carrier (only when up: carrier_show gives EINVAL on a down interface and a file cannot fail
/// its read), type, uevent, the `subsystem` and `device` links, and sys/class/net/NAME.
Result<void> WriteNetInterface(TreeWriter& w, const NetInterfaceAttrs& n);

/// Canonical directory of IOMMU group \a group ("sys/kernel/iommu_groups/N").
std::string IommuGroupDir(int group);

/// cpumask of \a count CPUs from \a first, as "%*pb" prints it for \a total CPUs: "ff",
/// "ffffffff,ffffffff" (32-bit groups separated by ',').
std::string CpuMask(int first, int count, int total);
/// The same set as "%*pbl": "0-7", "4".
std::string CpuList(int first, int count);

/// Runs \a fn(i) for every i in [0, \a n), spread over up to 4 threads (on the calling thread
/// alone when \a n is small). Host trees are thousands of tiny files and creating them is
/// syscall-bound, so the builder and VF creation write devices in parallel. \a fn must touch
/// distinct files, or create shared directories idempotently (TreeWriter::MakeDirs does).
void ParallelFor(size_t n, const std::function<void(size_t)>& fn);

/// Vendor/device/subsystem/class fields of \a text, parsed as the kernel prints them
/// ("0x8086\n"). nullopt when malformed.
std::optional<uint32_t> ParseHexAttr(std::string_view text);

}  // namespace ptrec::sim::internal
