// vfio-pci devices of a VM run without libvirt, seen and changed over QMP.
//
// Discovery walks the QOM tree, not query-pci: query-pci lists only what the guest's bus numbering
// reaches, and a guest that never ran (-S) has not numbered the buses behind its root ports, so
// devices there are missing (measured on QEMU 7.2). QOM facts relied on (QEMU 7.2, q35):
//  - qom-list /machine/peripheral -> [{"name": ID, "type": "child<TYPE>"}, ...] for every -device /
//    device_add with an id; devices without an id live under /machine/peripheral-anon as
//    "device[N]"; device_del accepts their QOM path in place of an id.
//  - qom-get PATH "type" -> "vfio-pci"; "parent_bus" -> the bus's QOM path, e.g.
//    "/machine/peripheral/rp1/rp1" or "/machine/q35/pcie.0"; its last component is the bus name
//    that device_add's "bus" takes. There is no "bus" property.
//  - vfio-pci "host" -> "0000:01:00.0" (or "sysfsdev" -> "/sys/bus/pci/devices/0000:01:00.0").
//  - a pcie-root-port's bus is its child of type child<PCIE> (named after the port's id); the
//    bus lists each plugged device as a "child[N]" link<TYPE> property. The port's "hotplug"
//    property (bool) is false when hot-plug was disabled.
//  - device_add on pcie.0 fails "Bus 'pcie.0' does not support hotplugging".
//  - device_del returns {} at once; DEVICE_DELETED {"device": ID, "path": QOM path} follows when
//    the guest (or, for a hot-added device on a never-started guest with native PCIe hot-plug,
//    QEMU itself) completes the unplug. With q35's default ACPI PCI hot-plug, or for a device
//    present at start-up, a guest that never ran never completes it. A second device_del meanwhile
//    fails "Device ID is already in the process of unplug".
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "providers/qmp/qmp_client.h"
#include "reconciler/pci_address.h"

namespace ptrec::qmp {

/// A vfio-pci device in the VM. \a id is its qdev id ("hostdev0"), or its QOM path
/// ("/machine/peripheral-anon/device[3]") when it has none — either works for DetachVfio.
/// \a host is the host BDF it passes through; \a bus the guest bus it sits on ("rp1", "pcie.0").
struct VfioDevice {
  std::string id;
  Bdf host;
  std::string bus;
};

/// Every vfio-pci device of the VM (from qom-list /machine/peripheral and /machine/peripheral-anon
/// plus qom-get, not query-pci), sorted by id. A vfio device whose host is not a PCI BDF (an mdev
/// given by sysfsdev=/sys/bus/mdev/...) is left out. Errors: those of Client::Execute.
Result<std::vector<VfioDevice>> ListVfioDevices(Client& qmp);

/// A hotplug-capable bus with a free slot: the bus of a pcie-root-port (or ioh3420 /
/// xio3130-downstream port) that has hot-plug enabled and no device on it. Ports are taken in id
/// order (rp2 before rp10). Returns the bus name for device_add ("rp1"). Errors: kNotFound when
/// there is none, with a hint to start the VM with `-device pcie-root-port,...` (pcie.0 refuses
/// hot-plug); those of Client::Execute.
Result<std::string> FindFreeHotplugBus(Client& qmp);

/// device_add driver=vfio-pci host=BDF id=ID bus=BUS. QMP errors are mapped by MapQmpError
/// (failed to open /dev/vfio/N, no such host device, group N is not viable, device is already
/// attached, ...), prefixed with "attach BDF as ID on BUS: ".
Result<void> AttachVfio(Client& qmp, const Bdf& host, const std::string& id, const std::string& bus);

/// device_del \a id, then waits for DEVICE_DELETED whose data.device is \a id (or whose data.path
/// is \a id, or /machine/peripheral/ID) up to \a timeout. "is already in the process of unplug"
/// means an earlier device_del is pending: keep waiting for the event. If no event came in time but
/// the device has gone from the QOM tree, that counts as done. Errors: kNotFound when the VM has no
/// device \a id; kTimeout (the guest did not release it: see the hint); those of Client::Execute.
Result<void> DetachVfio(Client& qmp, const std::string& id, std::chrono::milliseconds timeout);

}  // namespace ptrec::qmp
