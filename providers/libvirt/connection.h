// A libvirt connection for ptrec: what PCI hostdevs a domain has (persistent definition and live),
// and attaching/detaching one. Uses the libvirt C API (include/libvirt/libvirt-domain.h), never
// virsh. Facts relied on, measured with libvirt 9.0 / QEMU 7.2 (see tests/libvirt/):
//  - virDomainAttachDeviceFlags of a hostdev whose source address is already in the definition
//    fails with VIR_ERR_OPERATION_INVALID ("device is already in the domain configuration"); the
//    match is on the source address only (virDomainHostdevFind), so managed= does not matter.
//  - virDomainDetachDeviceFlags of a hostdev not in the definition: VIR_ERR_DEVICE_MISSING.
//  - Live attach on a host without an IOMMU: VIR_ERR_CONFIG_UNSUPPORTED ("host doesn't support
//    passthrough of host PCI devices").
//  - A second live attach of a device already assigned: VIR_ERR_OPERATION_INVALID ("PCI device
//    0000:01:00.0 is in use by driver QEMU, domain NAME").
//  - A live detach can return success while the device is still in the live XML (the guest has
//    not released it yet; with QEMU's ACPI hotplug on q35 it may never); libvirt waits only ~5 s
//    for QEMU's DEVICE_DELETED itself. Detach therefore checks the live XML until it is gone.
//    With native PCIe hotplug and no guest OS, the device is gone when libvirt returns (~0.2-0.4 s).
//  - managed='yes' on hotplug: libvirt binds the device to vfio-pci and, after the detach, back to
//    its driver, but only if libvirtd has not seen it as managed='no' before: it keeps a device's
//    first managed= value in its inactive list for the daemon's lifetime ("Not reattaching
//    unmanaged PCI device"). Callers that need the host driver back must check it themselves.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "providers/libvirt/hostdev.h"
#include "reconciler/error.h"

struct _virConnect;  // libvirt's virConnect (virConnectPtr), kept out of this header

namespace ptrec::libvirt {

/// What ptrec needs to know about one domain.
struct DomainInfo {
  std::string name;
  bool running = false;            ///< virDomainIsActive
  bool persistent = true;          ///< virDomainIsPersistent (false: a transient domain)
  std::vector<PciHostdev> config;  ///< from the persistent definition (VIR_DOMAIN_XML_INACTIVE);
                                   ///< empty for a transient domain
  std::vector<PciHostdev> live;    ///< from the running domain (empty when not running)
};

/// An open libvirt connection (virConnectOpen; closed in the destructor; movable, not copyable).
/// Not for use by two threads at once. Every error message names the URI and the domain/BDF,
/// carries libvirt's own message (virGetLastError) and ends with a hint on what to do.
class Connection {
 public:
  /// uri e.g. "qemu:///system" or "qemu:///system?socket=/tmp/x/libvirt-sock". Errors: kNotFound
  /// (no daemon / socket), kPermission, kIo — message names the URI and libvirt's own message.
  /// libvirt's default error printing to stderr is turned off for the whole process.
  static Result<Connection> Open(const std::string& uri);

  Connection(Connection&& other) noexcept;
  Connection& operator=(Connection&& other) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  /// The URI this connection was opened with.
  const std::string& uri() const { return uri_; }

  /// Errors: kNotFound when no domain has that name (VIR_ERR_NO_DOMAIN); kInvalid when libvirt's
  /// XML has a PCI hostdev without a source address (see ParseHostdevs).
  Result<DomainInfo> Describe(const std::string& domain);

  /// virDomainAttachDeviceFlags with VIR_DOMAIN_AFFECT_CONFIG and/or _LIVE. A duplicate
  /// (VIR_ERR_OPERATION_INVALID "already in the domain configuration") -> kInvalid with a clear message;
  /// no IOMMU for live (VIR_ERR_CONFIG_UNSUPPORTED) -> kUnsupported. Neither config nor live -> kInvalid.
  /// The two flags go in one call: libvirt changes both or neither.
  Result<void> Attach(const std::string& domain, const PciHostdev& hostdev, bool config, bool live);

  /// virDomainDetachDeviceFlags; for live, waits (polling the live XML every 100 ms) until the
  /// device is really gone from the live XML, up to live_timeout from the call (libvirt's own
  /// wait of up to 5 s included; it may overrun a shorter live_timeout) -> kTimeout (the device
  /// is then still assigned to the guest; the message says so). The hostdev is matched on its source
  /// BDF only. A device already missing (VIR_ERR_DEVICE_MISSING) -> kNotFound. With config and
  /// live together (one libvirt call) the hostdev must be in both, else kNotFound and neither is
  /// changed: detach from each separately when they differ. A domain that stops while waiting
  /// counts as detached (a stopped domain has no live devices).
  Result<void> Detach(const std::string& domain, const PciHostdev& hostdev, bool config, bool live,
                      std::chrono::milliseconds live_timeout);

 private:
  Connection(_virConnect* conn, std::string uri) : conn_(conn), uri_(std::move(uri)) {}

  _virConnect* conn_ = nullptr;  ///< nullptr once moved from
  std::string uri_;
};

/// The ptrec Code for a libvirt error number (virErrorNumber, e.g. VIR_ERR_NO_DOMAIN -> kNotFound,
/// VIR_ERR_CONFIG_UNSUPPORTED -> kUnsupported). \a sys_errno is virError.int1 for
/// VIR_ERR_SYSTEM_ERROR (an errno, mapped with CodeFromErrno), else ignored. Unknown numbers: kIo.
Code CodeForVirError(int vir_error_number, int sys_errno);

}  // namespace ptrec::libvirt
