#include "providers/vm/sim_domains.h"

#include <pugixml.hpp>

#include <cstdio>
#include <set>
#include <sstream>

#include "providers/host/sysfs_paths.h"
#include "providers/libvirt/hostdev.h"

namespace ptrec::vm {
namespace {

// A PCI <address domain='0x0000' bus='0x03' slot='0x00' function='0x0'/> (libvirt
// formatdomain "Device Addresses"); nullopt when an attribute is missing or malformed.
std::optional<Bdf> AddressOf(const pugi::xml_node& address) {
  auto hex = [&](const char* name, unsigned long max) -> std::optional<unsigned long> {
    pugi::xml_attribute a = address.attribute(name);
    if (!a) return std::nullopt;
    char* end = nullptr;
    unsigned long v = std::strtoul(a.value(), &end, 0);  // "0x03" and "3" alike, as libvirt reads them
    if (end == a.value() || *end != '\0' || v > max) return std::nullopt;
    return v;
  };
  auto domain = hex("domain", 0xffff), bus = hex("bus", 0xff), slot = hex("slot", 0x1f), function = hex("function", 7);
  if (!bus || !slot || !function) return std::nullopt;
  return Bdf{static_cast<uint16_t>(domain.value_or(0)), static_cast<uint8_t>(*bus), static_cast<uint8_t>(*slot),
             static_cast<uint8_t>(*function)};
}

bool IsPciHostdev(const pugi::xml_node& h) {
  return std::string_view(h.attribute("mode").value()) == "subsystem" &&
         std::string_view(h.attribute("type").value()) == "pci";
}

Result<pugi::xml_node> LoadDomain(pugi::xml_document& doc, std::string_view xml) {
  pugi::xml_parse_result r = doc.load_buffer(xml.data(), xml.size());
  if (!r) return Fail(Code::kInvalid, std::string("domain XML is not well-formed: ") + r.description());
  pugi::xml_node domain = doc.child("domain");
  // libvirtd's live status file (run/libvirt/qemu/NAME.xml) wraps the domain in <domstatus>.
  if (!domain) domain = doc.child("domstatus").child("domain");
  if (!domain) return Fail(Code::kInvalid, "domain XML has no <domain> element");
  return domain;
}

std::string Dump(const pugi::xml_node& node) {
  std::ostringstream out;
  node.print(out, "  ", pugi::format_default | pugi::format_no_declaration);
  return out.str();
}

}  // namespace

Result<std::vector<VmHostdev>> ParseDomainHostdevs(std::string_view domain_xml) {
  pugi::xml_document doc;
  auto domain = LoadDomain(doc, domain_xml);
  if (!domain) return std::unexpected(domain.error());
  // libvirt::ParseHostdevs reads a <domain> document: unwrap a live status file first.
  std::string text = doc.child("domain") ? std::string(domain_xml) : Dump(*domain);
  auto parsed = libvirt::ParseHostdevs(text);
  if (!parsed) return std::unexpected(parsed.error());
  std::vector<VmHostdev> out;
  for (const auto& h : *parsed) out.push_back(VmHostdev{h.source, h.managed, h.guest_address, h.alias});
  return out;
}

Result<std::string> AddHostdevXml(std::string_view domain_xml, const VmHostdev& hostdev) {
  pugi::xml_document doc;
  auto domain = LoadDomain(doc, domain_xml);
  if (!domain) return std::unexpected(domain.error());
  pugi::xml_node devices = domain->child("devices");
  if (!devices) devices = domain->append_child("devices");
  for (pugi::xml_node h : devices.children("hostdev"))
    if (IsPciHostdev(h) && AddressOf(h.child("source").child("address")) == hostdev.source)
      // libvirt: VIR_ERR_OPERATION_INVALID "device is already in the domain configuration".
      return Fail(Code::kInvalid, "PCI device " + hostdev.source.str() + " is already in the domain configuration");
  // The element libvirt's attach takes, as providers/libvirt writes it for the real daemon.
  pugi::xml_document element;
  std::string xml = libvirt::HostdevXml(libvirt::PciHostdev{hostdev.source, hostdev.managed, "", hostdev.guest_address});
  if (!element.load_buffer(xml.data(), xml.size())) return Fail(Code::kInvalid, "bad <hostdev> element");
  devices.append_copy(element.first_child());
  return Dump(doc);
}

Result<std::string> RemoveHostdevXml(std::string_view domain_xml, Bdf source) {
  pugi::xml_document doc;
  auto domain = LoadDomain(doc, domain_xml);
  if (!domain) return std::unexpected(domain.error());
  pugi::xml_node devices = domain->child("devices");
  for (pugi::xml_node h : devices.children("hostdev")) {
    if (!IsPciHostdev(h) || AddressOf(h.child("source").child("address")) != source) continue;
    devices.remove_child(h);
    return Dump(doc);
  }
  // libvirt: VIR_ERR_DEVICE_MISSING "matching host device not found".
  return Fail(Code::kNotFound, "PCI device " + source.str() + " is not in the domain definition");
}

std::string SimConfigPath(const std::string& domain) { return "etc/libvirt/qemu/" + domain + ".xml"; }
std::string SimLivePath(const std::string& domain) { return "run/libvirt/qemu/" + domain + ".xml"; }

Result<ObservedVm> SimBackend::Describe(const std::string& domain) {
  ObservedVm vm;
  vm.name = domain;
  auto config = fs_.ReadFile(SimConfigPath(domain));
  auto live = fs_.ReadFile(SimLivePath(domain));
  if (!config && config.error().code != Code::kNotFound) return std::unexpected(config.error());
  if (!live && live.error().code != Code::kNotFound) return std::unexpected(live.error());
  if (!config && !live) return Fail(Code::kNotFound, "domain " + domain + " does not exist (no " + SimConfigPath(domain) + " under the root)");
  vm.exists = true;
  vm.has_config = config.has_value();
  if (config) {
    auto list = ParseDomainHostdevs(*config);
    if (!list) return Fail(Code::kInvalid, SimConfigPath(domain) + ": " + list.error().message);
    vm.config = std::move(*list);
  }
  if (live) {
    vm.running = true;
    auto list = ParseDomainHostdevs(*live);
    if (!list) return Fail(Code::kInvalid, SimLivePath(domain) + ": " + list.error().message);
    vm.live = std::move(*list);
  }
  return vm;
}

Result<void> SimBackend::Attach(const std::string& domain, const VmHostdev& hostdev, bool config, bool live) {
  std::string config_path = SimConfigPath(domain), live_path = SimLivePath(domain);
  std::optional<std::string> new_config, new_live;
  if (config) {
    auto xml = fs_.ReadFile(config_path);
    if (!xml) return Fail(Code::kNotFound, "domain " + domain + " has no persistent definition (" + config_path + ")");
    auto edited = AddHostdevXml(*xml, hostdev);
    if (!edited) return Fail(edited.error().code, "domain " + domain + ": " + edited.error().message);
    new_config = std::move(*edited);
  }
  if (live) {
    auto xml = fs_.ReadFile(live_path);
    if (!xml) return Fail(Code::kInvalid, "domain " + domain + " is not running, so nothing can be attached live");
    if (!hostdev.managed) {
      // QEMU opens /dev/vfio/N: the device must already be on vfio-pci (managed='no').
      auto driver = fs_.ReadLink(paths::PciDeviceAttr(hostdev.source, "driver"));
      std::string name = driver ? driver->substr(driver->rfind('/') + 1) : "";
      if (name != "vfio-pci")
        return Fail(Code::kInvalid, "domain " + domain + ": PCI device " + hostdev.source.str() + " is on " +
                                        (name.empty() ? "no driver" : name) + ", not vfio-pci, so QEMU cannot open it");
    }
    auto edited = AddHostdevXml(*xml, hostdev);
    if (!edited) return Fail(edited.error().code, "domain " + domain + " (live): " + edited.error().message);
    new_live = std::move(*edited);
  }
  if (new_config)
    if (auto w = fs_.WriteFileAtomic(config_path, *new_config); !w) return w;
  if (new_live)
    if (auto w = fs_.WriteFileAtomic(live_path, *new_live); !w) return w;
  return {};
}

Result<void> SimBackend::Detach(const std::string& domain, const VmHostdev& hostdev, bool config, bool live) {
  std::string config_path = SimConfigPath(domain), live_path = SimLivePath(domain);
  std::optional<std::string> new_config, new_live;
  for (auto [wanted, path, out] : {std::tuple{config, &config_path, &new_config}, std::tuple{live, &live_path, &new_live}}) {
    if (!wanted) continue;
    auto xml = fs_.ReadFile(*path);
    if (!xml) return Fail(Code::kNotFound, "domain " + domain + " has no " + *path);
    auto edited = RemoveHostdevXml(*xml, hostdev.source);
    if (!edited) return Fail(edited.error().code, "domain " + domain + ": " + edited.error().message);
    *out = std::move(*edited);
  }
  if (new_config)
    if (auto w = fs_.WriteFileAtomic(config_path, *new_config); !w) return w;
  if (new_live)
    if (auto w = fs_.WriteFileAtomic(live_path, *new_live); !w) return w;
  return {};
}

std::vector<std::string> SimBackend::List() {
  std::set<std::string> names;
  for (const char* dir : {"etc/libvirt/qemu", "run/libvirt/qemu"}) {
    auto entries = fs_.ListDir(dir);
    if (!entries) continue;
    for (const auto& e : *entries)
      if (e.size() > 4 && e.ends_with(".xml")) names.insert(e.substr(0, e.size() - 4));
  }
  return {names.begin(), names.end()};
}

}  // namespace ptrec::vm
