// PCI addresses and ids, the two kinds of names a PCI function has.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace ptrec {

/// A PCI function address (BDF): domain:bus:device.function, printed "0000:03:00.0".
/// Ranges: domain 0..0xffff, bus 0..0xff, device 0..0x1f, function 0..7
/// (PCI Local Bus Spec 3.0 §3.2.2.3.1; the kernel's sysfs names in
/// Documentation/ABI/testing/sysfs-bus-pci use the same "%04x:%02x:%02x.%d" form).
struct Bdf {
  uint16_t domain = 0;
  uint8_t bus = 0;
  uint8_t device = 0;
  uint8_t function = 0;

  /// Parses "0000:03:00.0" or the short "03:00.0" (domain 0). Hex digits in either case.
  /// Returns nullopt for anything else, including out-of-range device (> 0x1f) or function (> 7).
  static std::optional<Bdf> Parse(std::string_view text);

  /// Builds the BDF of routing id \a rid (bus << 8 | devfn) in \a domain. Used for VFs:
  /// VF n of a PF has rid = PF rid + sriov_offset + n * sriov_stride (PCIe SR-IOV spec §3.3.10).
  static Bdf FromRoutingId(uint16_t domain, uint32_t rid);

  /// bus << 8 | device << 3 | function.
  uint32_t routing_id() const { return (uint32_t{bus} << 8) | (uint32_t{device} << 3) | function; }

  /// The canonical form "0000:03:00.0" (lower-case hex), as sysfs names devices.
  std::string str() const;

  auto operator<=>(const Bdf&) const = default;
};

/// A vendor:device id pair such as 8086:10c9. Parsed from "8086:10c9" (hex, optional 0x).
struct PciId {
  uint16_t vendor = 0;
  uint16_t device = 0;

  /// Parses "8086:10c9" or "0x8086:0x10c9". Returns nullopt if either half is not 1-4 hex digits.
  static std::optional<PciId> Parse(std::string_view text);
  /// "8086:10c9".
  std::string str() const;
  auto operator<=>(const PciId&) const = default;
};

}  // namespace ptrec

template <>
struct std::hash<ptrec::Bdf> {
  size_t operator()(const ptrec::Bdf& b) const noexcept {
    return (size_t{b.domain} << 16) | b.routing_id();
  }
};
