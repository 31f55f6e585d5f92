// Simulated libvirt domains (providers/vm/sim_domains.h): the XML edits libvirt would make, and
// its errors for a duplicate attach and a missing detach.
#include <catch2/catch.hpp>

#include "providers/vm/sim_domains.h"

namespace ptrec::vm {
namespace {

Bdf At(const char* s) { return *Bdf::Parse(s); }

const char* kDomain =
    "<domain type='kvm'><name>g</name><devices>"
    "<hostdev mode='subsystem' type='usb'><source><vendor id='0x1'/></source></hostdev>"
    "<hostdev mode='subsystem' type='pci' managed='yes'><source>"
    "<address domain='0x0000' bus='0x03' slot='0x10' function='0x2'/></source>"
    "<alias name='hostdev0'/><address type='pci' domain='0x0000' bus='0x07' slot='0x00' function='0x0'/>"
    "</hostdev></devices></domain>";

}  // namespace

TEST_CASE("sim domains: PCI hostdevs are read from a domain and from libvirtd's status file", "[vm]") {
  for (std::string xml : {std::string(kDomain), "<domstatus state='running'>" + std::string(kDomain) + "</domstatus>"}) {
    auto list = ParseDomainHostdevs(xml);
    REQUIRE(list);
    REQUIRE(list->size() == 1);  // the USB hostdev is not a PCI one
    CHECK((*list)[0].source == At("0000:03:10.2"));
    CHECK((*list)[0].managed);
    CHECK((*list)[0].guest_address == At("0000:07:00.0"));
    CHECK((*list)[0].alias == "hostdev0");
  }
  CHECK(ParseDomainHostdevs("<notadomain/>").error().code == Code::kInvalid);
}

TEST_CASE("sim domains: attach appends a hostdev, refuses a duplicate; detach removes, refuses a missing one", "[vm]") {
  auto added = AddHostdevXml(kDomain, VmHostdev{At("0000:02:00.1"), false, std::nullopt, ""});
  REQUIRE(added);
  auto list = ParseDomainHostdevs(*added);
  REQUIRE(list);
  REQUIRE(list->size() == 2);
  CHECK((*list)[1].source == At("0000:02:00.1"));
  CHECK_FALSE((*list)[1].managed);
  // libvirt matches a duplicate on the source address alone, whatever managed says.
  auto dup = AddHostdevXml(*added, VmHostdev{At("0000:02:00.1"), true, std::nullopt, ""});
  REQUIRE_FALSE(dup);
  CHECK(dup.error().code == Code::kInvalid);
  auto removed = RemoveHostdevXml(*added, At("0000:03:10.2"));
  REQUIRE(removed);
  auto left = ParseDomainHostdevs(*removed);
  REQUIRE(left);
  REQUIRE(left->size() == 1);
  CHECK((*left)[0].source == At("0000:02:00.1"));
  auto missing = RemoveHostdevXml(*removed, At("0000:03:10.2"));
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Code::kNotFound);
}

}  // namespace ptrec::vm
