// Every sysfs, procfs and lib/modules path ptrec uses, built in one place, relative to the host
// root (no leading '/'). Nothing else in ptrec spells "sys/bus/pci".
//
// Sources: Documentation/ABI/testing/sysfs-bus-pci (devices, drivers, drivers_probe,
// driver_override, sriov_*), Documentation/ABI/testing/sysfs-kernel-iommu_groups,
// Documentation/ABI/testing/sysfs-class-net, proc(5) for proc/net/route and mountinfo.
#pragma once

#include <string>
#include <string_view>

#include "reconciler/pci_address.h"

namespace ptrec::paths {

// --- PCI bus --------------------------------------------------------------------------------
/// "sys/bus/pci/devices": one symlink per function, named by BDF.
std::string PciDevices();
/// "sys/bus/pci/devices/BDF".
std::string PciDevice(Bdf bdf);
/// "sys/bus/pci/devices/BDF/ATTR", e.g. attr "driver_override", "sriov_numvfs", "driver/unbind".
std::string PciDeviceAttr(Bdf bdf, std::string_view attr);
/// "sys/bus/pci/devices/BDF/virtfnN": link to VF N of a PF.
std::string PciVirtfn(Bdf pf, int n);
/// "sys/bus/pci/drivers": one directory per registered PCI driver.
std::string PciDrivers();
/// "sys/bus/pci/drivers/NAME".
std::string PciDriver(std::string_view driver);
/// "sys/bus/pci/drivers/NAME/ATTR" (attr "bind", "unbind", "new_id", ...).
std::string PciDriverAttr(std::string_view driver, std::string_view attr);
/// "sys/bus/pci/drivers_probe": writing a BDF makes the kernel probe drivers for it.
std::string PciDriversProbe();

// --- IOMMU ----------------------------------------------------------------------------------
/// "sys/kernel/iommu_groups".
std::string IommuGroups();
/// "sys/kernel/iommu_groups/N/devices".
std::string IommuGroupDevices(int group);
/// "sys/class/iommu": one entry per IOMMU unit (dmar0, ivhd0).
std::string ClassIommu();
/// "dev/vfio/N": the VFIO group char device that vfio-pci creates.
std::string DevVfioGroup(int group);

// --- Network and block ----------------------------------------------------------------------
/// "sys/class/net".
std::string ClassNet();
/// "sys/class/net/NAME/ATTR" (operstate, flags, device).
std::string NetAttr(std::string_view ifname, std::string_view attr);
/// "sys/block".
std::string Block();
/// "sys/block/NAME".
std::string BlockDev(std::string_view name);

// --- Modules --------------------------------------------------------------------------------
/// "sys/module".
std::string Modules();
/// "sys/module/NAME/parameters/PARAM".
std::string ModuleParam(std::string_view module, std::string_view param);
/// "lib/modules/RELEASE/FILE" (modules.dep, modules.builtin, modules.alias).
std::string LibModulesFile(std::string_view release, std::string_view file);

// --- procfs ---------------------------------------------------------------------------------
std::string ProcCmdline();       ///< "proc/cmdline"
std::string ProcOsRelease();     ///< "proc/sys/kernel/osrelease"
std::string ProcNetRoute();      ///< "proc/net/route"
std::string ProcNetIpv6Route();  ///< "proc/net/ipv6_route"
std::string ProcNetIfInet6();    ///< "proc/net/if_inet6"
std::string ProcMountinfo();     ///< "proc/self/mountinfo"

// --- ptrec's own state ----------------------------------------------------------------------
std::string StateDir();     ///< "var/lib/ptrec"
std::string LedgerFile();   ///< "var/lib/ptrec/state.json": what ptrec changed (Ledger)
std::string JournalFile();  ///< "var/lib/ptrec/journal.jsonl": steps of the running apply
std::string LockFile();     ///< "var/lib/ptrec/lock": one apply at a time

/// The last path component of a link target: "../../../bus/pci/drivers/igb" -> "igb".
std::string_view Basename(std::string_view path);

}  // namespace ptrec::paths
