// PCI hostdevs in libvirt domain XML: reading them out of a domain definition, and writing the
// <hostdev> element that virDomainAttachDeviceFlags / virDomainDetachDeviceFlags take.
//
// Source of the format: libvirt docs/formatdomain.rst, "Host device assignment" / "PCI devices",
// and the parser src/conf/domain_conf.c (virDomainHostdevSubsysPCIDefParseXML,
// virPCIDeviceAddressParseXML). Pure functions, no I/O; XML through pugixml.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reconciler/error.h"
#include "reconciler/pci_address.h"

namespace ptrec::libvirt {

/// One <hostdev mode='subsystem' type='pci'> of a domain (libvirt formatdomain "Host device assignment").
struct PciHostdev {
  Bdf source;                        ///< <source><address domain= bus= slot= function=/>: the host BDF
  bool managed = false;              ///< managed='yes': libvirt binds the device to vfio-pci itself
                                     ///< on attach/start and gives it back to its driver afterwards
  std::string alias;                 ///< <alias name='hostdev0'/> (live XML only; "" otherwise)
  std::optional<Bdf> guest_address;  ///< <address type='pci' .../> directly under <hostdev>, if any

  bool operator==(const PciHostdev&) const = default;
};

/// Parses every PCI subsystem hostdev out of a domain XML document (as virDomainGetXMLDesc
/// returns it, or a file under /etc/libvirt/qemu), in document order. Hostdevs of other kinds
/// (USB, SCSI, mdev, mode='capabilities') are skipped. Address attributes are read as libvirt
/// reads them (strtoul base 0: "0x03" hex, "3" decimal) and range-checked like a BDF.
/// Errors: kInvalid — not XML (message has the byte offset), no <domain> root element, or a PCI
/// hostdev without a valid <source><address> (message names the hostdev's position).
Result<std::vector<PciHostdev>> ParseHostdevs(std::string_view domain_xml);

/// The <hostdev> element libvirt's attach/detach take, for one PciHostdev (alias left out), e.g.
///   <hostdev mode='subsystem' type='pci' managed='no'>
///     <source><address domain='0x0000' bus='0x03' slot='0x00' function='0x0'/></source>
///     <address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x0'/>
///   </hostdev>
/// (indented over several lines; the guest <address> only when guest_address is set).
/// managed is always written out so libvirt never falls back to its own default.
std::string HostdevXml(const PciHostdev& hostdev);

}  // namespace ptrec::libvirt
