// Simulated libvirt domains for sandbox host roots: each domain is its XML under the root,
// as libvirtd keeps it (src/qemu/qemu_driver.c: configDir /etc/libvirt/qemu, stateDir
// /run/libvirt/qemu):
//
//   etc/libvirt/qemu/NAME.xml   the persistent definition (virsh dumpxml --inactive)
//   run/libvirt/qemu/NAME.xml   the live domain while it "runs" (its presence = running)
//
// Attach and detach edit those files the way virDomainAttachDeviceFlags / DetachDeviceFlags
// change the definitions, with libvirt's errors for a duplicate or a missing hostdev.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "providers/host/host_fs.h"
#include "providers/vm/vm_backend.h"

namespace ptrec::vm {

/// Every <hostdev mode='subsystem' type='pci'> in a domain XML document: source address,
/// managed='yes', guest <address type='pci'> and <alias name>. Errors: kInvalid (not XML, or no
/// <domain> root).
Result<std::vector<VmHostdev>> ParseDomainHostdevs(std::string_view domain_xml);

/// \a domain_xml with \a hostdev appended to <devices> (created if absent). Errors: kInvalid as
/// ParseDomainHostdevs, and when a hostdev with the same source is there already.
Result<std::string> AddHostdevXml(std::string_view domain_xml, const VmHostdev& hostdev);

/// \a domain_xml without the hostdev whose source is \a source. Errors: kInvalid (not XML),
/// kNotFound when there is none.
Result<std::string> RemoveHostdevXml(std::string_view domain_xml, Bdf source);

/// The paths of a simulated domain, relative to the root.
std::string SimConfigPath(const std::string& domain);  ///< "etc/libvirt/qemu/NAME.xml"
std::string SimLivePath(const std::string& domain);    ///< "run/libvirt/qemu/NAME.xml"

/// Simulated domains under a sandbox root. A live attach of a managed='no' device requires it
/// to be bound to vfio-pci in the (simulated) sysfs, as QEMU's vfio-pci needs /dev/vfio/N.
class SimBackend : public Backend {
 public:
  explicit SimBackend(HostFs& fs) : fs_(fs) {}
  Result<ObservedVm> Describe(const std::string& domain) override;
  Result<void> Attach(const std::string& domain, const VmHostdev& hostdev, bool config, bool live) override;
  Result<void> Detach(const std::string& domain, const VmHostdev& hostdev, bool config, bool live) override;
  /// Every NAME.xml under etc/libvirt/qemu and run/libvirt/qemu, sorted.
  std::vector<std::string> List() override;

 private:
  HostFs& fs_;
};

}  // namespace ptrec::vm
