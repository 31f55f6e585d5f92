#include "providers/libvirt/hostdev.h"

#include <cerrno>
#include <cstdlib>
#include <sstream>

#include <fmt/format.h>
#include <pugixml.hpp>

namespace ptrec::libvirt {
namespace {

// One address attribute, read the way libvirt does (virStrToLong_uip with base 0), then
// range-checked. Returns nullopt when missing, not a number, or above max.
std::optional<unsigned> ParseNumber(const pugi::xml_node& node, const char* name, unsigned max) {
  pugi::xml_attribute attr = node.attribute(name);
  if (!attr) return std::nullopt;
  const char* text = attr.value();
  if (*text == '\0' || *text == '-' || *text == '+') return std::nullopt;
  char* end = nullptr;
  errno = 0;
  unsigned long value = std::strtoul(text, &end, 0);
  if (errno != 0 || *end != '\0' || value > max) return std::nullopt;
  return static_cast<unsigned>(value);
}

// A libvirt PCI address element (<address domain= bus= slot= function=/>). A missing domain
// attribute means 0, as in virPCIDeviceAddressParseXML; bus, slot and function are required.
std::optional<Bdf> ParseAddress(const pugi::xml_node& node) {
  std::optional<unsigned> domain = node.attribute("domain") ? ParseNumber(node, "domain", 0xffff) : 0u;
  std::optional<unsigned> bus = ParseNumber(node, "bus", 0xff);
  std::optional<unsigned> slot = ParseNumber(node, "slot", 0x1f);
  std::optional<unsigned> function = ParseNumber(node, "function", 7);
  if (!domain || !bus || !slot || !function) return std::nullopt;
  return Bdf{static_cast<uint16_t>(*domain), static_cast<uint8_t>(*bus), static_cast<uint8_t>(*slot),
             static_cast<uint8_t>(*function)};
}

void SetAddress(pugi::xml_node node, const Bdf& bdf) {
  node.append_attribute("domain") = fmt::format("0x{:04x}", bdf.domain).c_str();
  node.append_attribute("bus") = fmt::format("0x{:02x}", bdf.bus).c_str();
  node.append_attribute("slot") = fmt::format("0x{:02x}", bdf.device).c_str();
  node.append_attribute("function") = fmt::format("0x{:x}", bdf.function).c_str();
}

}  // namespace

Result<std::vector<PciHostdev>> ParseHostdevs(std::string_view domain_xml) {
  pugi::xml_document doc;
  pugi::xml_parse_result parsed = doc.load_buffer(domain_xml.data(), domain_xml.size());
  if (!parsed) {
    return Fail(Code::kInvalid, fmt::format("domain XML: {} at byte {}", parsed.description(), parsed.offset));
  }
  pugi::xml_node domain = doc.child("domain");
  if (!domain) {
    return Fail(Code::kInvalid, fmt::format("domain XML: the root element is <{}>, not <domain>",
                                            doc.document_element().name()));
  }
  std::vector<PciHostdev> hostdevs;
  int position = 0;
  for (pugi::xml_node node : domain.child("devices").children("hostdev")) {
    ++position;
    if (std::string_view(node.attribute("mode").as_string("subsystem")) != "subsystem" ||
        std::string_view(node.attribute("type").value()) != "pci") {
      continue;
    }
    PciHostdev hostdev;
    pugi::xml_node source = node.child("source").child("address");
    std::optional<Bdf> bdf = source ? ParseAddress(source) : std::nullopt;
    if (!bdf) {
      return Fail(Code::kInvalid,
                  fmt::format("domain XML: <hostdev> number {} of <domain> '{}' has no valid "
                              "<source><address domain= bus= slot= function=/>",
                              position, domain.child_value("name")));
    }
    hostdev.source = *bdf;
    hostdev.managed = std::string_view(node.attribute("managed").value()) == "yes";
    hostdev.alias = node.child("alias").attribute("name").value();
    for (pugi::xml_node address : node.children("address")) {
      if (std::string_view(address.attribute("type").value()) == "pci") {
        hostdev.guest_address = ParseAddress(address);  // incomplete: libvirt picks one
        break;
      }
    }
    hostdevs.push_back(std::move(hostdev));
  }
  return hostdevs;
}

std::string HostdevXml(const PciHostdev& hostdev) {
  pugi::xml_document doc;
  pugi::xml_node node = doc.append_child("hostdev");
  node.append_attribute("mode") = "subsystem";
  node.append_attribute("type") = "pci";
  node.append_attribute("managed") = hostdev.managed ? "yes" : "no";
  SetAddress(node.append_child("source").append_child("address"), hostdev.source);
  if (hostdev.guest_address) {
    pugi::xml_node address = node.append_child("address");
    address.append_attribute("type") = "pci";
    SetAddress(address, *hostdev.guest_address);
  }
  std::ostringstream out;
  doc.save(out, "  ", pugi::format_indent | pugi::format_no_declaration | pugi::format_attribute_single_quote);
  return out.str();
}

}  // namespace ptrec::libvirt
