#include "reconciler/pci_address.h"

#include <charconv>
#include <cstdio>

namespace ptrec {
namespace {

// Parses the whole of \a s as 1..max_digits hex digits (no sign, no 0x).
std::optional<unsigned> ParseHex(std::string_view s, size_t max_digits) {
  if (s.empty() || s.size() > max_digits) return std::nullopt;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value, 16);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<Bdf> Bdf::Parse(std::string_view text) {
  // "DDDD:BB:SS.F" or "BB:SS.F"; every field has a fixed width, as in sysfs names.
  std::optional<unsigned> domain = 0;
  if (text.size() == 12) {
    if (text[4] != ':') return std::nullopt;
    domain = ParseHex(text.substr(0, 4), 4);
    text.remove_prefix(5);
  }
  if (text.size() != 7 || text[2] != ':' || text[5] != '.') return std::nullopt;
  auto bus = ParseHex(text.substr(0, 2), 2);
  auto slot = ParseHex(text.substr(3, 2), 2);
  auto fn = ParseHex(text.substr(6, 1), 1);
  if (!domain || !bus || !slot || !fn || *slot > 0x1f || *fn > 7) return std::nullopt;
  return Bdf{static_cast<uint16_t>(*domain), static_cast<uint8_t>(*bus),
             static_cast<uint8_t>(*slot), static_cast<uint8_t>(*fn)};
}

Bdf Bdf::FromRoutingId(uint16_t domain, uint32_t rid) {
  return Bdf{domain, static_cast<uint8_t>((rid >> 8) & 0xff), static_cast<uint8_t>((rid >> 3) & 0x1f),
             static_cast<uint8_t>(rid & 7)};
}

std::string Bdf::str() const {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04x:%02x:%02x.%x", domain, bus, device, function);
  return buf;
}

std::optional<PciId> PciId::Parse(std::string_view text) {
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto strip = [](std::string_view s) {
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s.remove_prefix(2);
    return s;
  };
  auto vendor = ParseHex(strip(text.substr(0, colon)), 4);
  auto device = ParseHex(strip(text.substr(colon + 1)), 4);
  if (!vendor || !device) return std::nullopt;
  return PciId{static_cast<uint16_t>(*vendor), static_cast<uint16_t>(*device)};
}

std::string PciId::str() const {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04x:%04x", vendor, device);
  return buf;
}

}  // namespace ptrec
