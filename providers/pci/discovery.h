// Discovery: reads a host's PCI devices, IOMMU groups, SR-IOV facts, drivers, modules, network
// and storage use, and ptrec's own ledger, all through a HostFs rooted at the host root.
//
// Cost model (big SR-IOV hosts carry thousands of functions): per device one readlink of its
// sys/bus/pci/devices entry, a readlink per link used (driver, iommu_group, physfn, virtfnN),
// and one read per attribute used. IOMMU groups are the inverse of each device's own
// `iommu_group` link, network and block devices come from sys/class/net and sys/block:
// nothing rescans the tree, nothing is listed per device.
#pragma once

#include <set>
#include <string>
#include <string_view>

#include "providers/host/host_fs.h"
#include "reconciler/model.h"

namespace ptrec::pci {

/// What discovery should look at beyond the PCI inventory.
struct DiscoverOptions {
  /// Module names (with '_') whose availability in lib/modules matters to the plan; modules.dep
  /// and modules.builtin are read only when one of these is not loaded already.
  std::set<std::string> modules_of_interest;
  /// Module names (with '_') whose running parameters the plan compares: every readable
  /// sys/module/NAME/parameters/* of these goes into HostState::module_params.
  std::set<std::string> module_params_of;
  /// Also read facts only shown to people (subsystem ids, NUMA node); a plan needs none.
  bool display_facts = true;
};

/// Reads everything a plan needs from the host under \a fs. Missing optional files (no IOMMU,
/// no proc/net/route in a minimal snapshot) are absence, not errors.
/// Errors: kNotFound when sys/bus/pci/devices does not exist (not a host root); kIo/kInvalid
/// for an unreadable or malformed ledger (var/lib/ptrec/state.json).
Result<HostState> DiscoverHost(const HostFs& fs, const DiscoverOptions& options = {});

/// Reads one device's facts: everything in PciDevice but vf_index, net_interfaces and
/// block_devices, which come from whole-host listings. About a dozen system calls: one
/// readlink each for the device, `driver`, `iommu_group` and `physfn`, one read each for the
/// attributes used (no directory listing: an absent `sriov_totalvfs` says "not a PF").
/// Errors: kNotFound when the device does not exist.
Result<PciDevice> ReadDevice(const HostFs& fs, Bdf bdf, const DiscoverOptions& options = {});

/// Current driver of \a bdf ("" when unbound), from its `driver` link
/// (Documentation/ABI/testing/sysfs-bus-pci). Errors: kNotFound when the device is gone.
Result<std::string> ReadDriver(const HostFs& fs, Bdf bdf);

/// Current driver_override of \a bdf; "" when the kernel shows "(null)".
Result<std::string> ReadDriverOverride(const HostFs& fs, Bdf bdf);

/// Capabilities found in a PCI config-space image (the binary `config` attribute).
struct ConfigCaps {
  bool parsed = false;  ///< false when the image is too short for the capability list
  uint8_t header_type = 0;  ///< byte 0x0e & 0x7f
  bool msi = false;     ///< capability id 0x05
  bool msix = false;    ///< capability id 0x11
  bool pcie = false;    ///< capability id 0x10
};

/// Walks the standard capability list of \a config (PCI Local Bus Spec 3.0 §6.7: status bit 4
/// at 0x06 says a list exists; its head is at 0x34, or 0x14 for CardBus; each entry is
/// [id, next]). Unprivileged reads of `config` return only 64 bytes: then parsed is false.
/// Stops after 48 entries so a looping list cannot hang.
ConfigCaps ParseConfigCaps(std::string_view config);

/// Parses "0x8086\n"-style hex attributes; nullopt when malformed.
std::optional<uint32_t> ParseHexAttr(std::string_view text);

/// The deepest PCI function named in a sysfs device path, e.g.
/// "../../devices/pci0000:00/0000:00:1f.2/ata1/host0/.../block/sda" -> 0000:00:1f.2.
/// nullopt for virtual devices ("../../devices/virtual/net/lo").
std::optional<Bdf> DeepestBdfInPath(std::string_view path);

}  // namespace ptrec::pci
