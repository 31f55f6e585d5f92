// libvirt domain XML, pure: reading PCI hostdevs and writing the <hostdev> element
// (providers/libvirt/hostdev.h). Inputs follow libvirt's docs/formatdomain.rst "Host device
// assignment", written by hand; what libvirt itself produces is tested against a real daemon in
// tests/libvirt/.
#include "providers/libvirt/hostdev.h"

#include <catch2/catch.hpp>
#include <string>

namespace ptrec::libvirt {
namespace {

Bdf B(const char* text) { return *Bdf::Parse(text); }

TEST_CASE("libvirt xml: PCI subsystem hostdevs are read, other hostdevs skipped", "[libvirt]") {
  // Given a domain with a managed PCI hostdev that has a guest address and an alias, a USB
  // hostdev, an unmanaged PCI hostdev with decimal attributes and no domain= (libvirt reads both
  // with base 0 and domain 0), and an mdev, then exactly the two PCI ones come out, in order.
  const std::string xml = R"(<?xml version="1.0"?>
<domain type='kvm' id='3'>
  <name>vm1</name>
  <devices>
    <disk type='file' device='disk'><source file='/x.img'/><target dev='vda'/></disk>
    <hostdev mode='subsystem' type='pci' managed='yes'>
      <driver name='vfio'/>
      <source>
        <address domain='0x0000' bus='0x06' slot='0x02' function='0x0'/>
      </source>
      <alias name='hostdev0'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </hostdev>
    <hostdev mode='subsystem' type='usb'>
      <source><vendor id='0x1234'/><product id='0xbeef'/></source>
    </hostdev>
    <hostdev mode='subsystem' type='pci'>
      <source><address bus='33' slot='16' function='7'/></source>
    </hostdev>
    <hostdev mode='subsystem' type='mdev' model='vfio-pci'>
      <source><address uuid='c2177883-f1bb-47f0-914d-32a22e3a8804'/></source>
    </hostdev>
  </devices>
</domain>)";
  auto hostdevs = ParseHostdevs(xml);
  REQUIRE(hostdevs);
  REQUIRE(hostdevs->size() == 2);
  CHECK((*hostdevs)[0] == PciHostdev{B("0000:06:02.0"), true, "hostdev0", B("0000:01:00.0")});
  CHECK((*hostdevs)[1] == PciHostdev{B("0000:21:10.7"), false, "", std::nullopt});
}

TEST_CASE("libvirt xml: a domain without devices has no hostdevs", "[libvirt]") {
  // Given a bare <domain>, then an empty list, not an error.
  auto hostdevs = ParseHostdevs("<domain type='qemu'><name>empty</name></domain>");
  REQUIRE(hostdevs);
  CHECK(hostdevs->empty());
}

TEST_CASE("libvirt xml: bad documents are kInvalid with a useful message", "[libvirt]") {
  // Given not-XML, a wrong root element, and PCI hostdevs with a missing or out-of-range source
  // address, then kInvalid whose message says what is wrong.
  SECTION("not XML") {
    auto r = ParseHostdevs("<domain><devices></domain>");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Code::kInvalid);
    CHECK(r.error().message.find("at byte") != std::string::npos);
  }
  SECTION("root is not <domain>") {
    auto r = ParseHostdevs("<network><name>default</name></network>");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Code::kInvalid);
    CHECK(r.error().message.find("<network>") != std::string::npos);
  }
  SECTION("empty input") {
    auto r = ParseHostdevs("");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Code::kInvalid);
  }
  SECTION("PCI hostdev without a source address") {
    auto r = ParseHostdevs(
        "<domain><name>vm2</name><devices><hostdev mode='subsystem' type='pci'><source/></hostdev>"
        "</devices></domain>");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Code::kInvalid);
    CHECK(r.error().message.find("'vm2'") != std::string::npos);
    CHECK(r.error().message.find("number 1") != std::string::npos);
  }
  SECTION("slot out of range (device > 0x1f)") {
    auto r = ParseHostdevs(
        "<domain><name>vm3</name><devices><hostdev mode='subsystem' type='pci'><source>"
        "<address domain='0x0000' bus='0x01' slot='0x20' function='0x0'/></source></hostdev>"
        "</devices></domain>");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Code::kInvalid);
  }
  SECTION("function not a number") {
    auto r = ParseHostdevs(
        "<domain><name>vm4</name><devices><hostdev mode='subsystem' type='pci'><source>"
        "<address domain='0x0000' bus='0x01' slot='0x00' function='one'/></source></hostdev>"
        "</devices></domain>");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Code::kInvalid);
  }
}

TEST_CASE("libvirt xml: HostdevXml writes libvirt's hostdev element", "[libvirt]") {
  // Given an unmanaged hostdev without guest address, then the element formatdomain.rst shows,
  // with managed='no' spelled out and libvirt's hex widths; given a managed one with a guest
  // address (and an alias, which is never written), then that address follows <source>.
  PciHostdev plain{B("0000:03:00.1"), false, "", std::nullopt};
  CHECK(HostdevXml(plain) ==
        "<hostdev mode='subsystem' type='pci' managed='no'>\n"
        "  <source>\n"
        "    <address domain='0x0000' bus='0x03' slot='0x00' function='0x1' />\n"
        "  </source>\n"
        "</hostdev>\n");

  PciHostdev placed{B("0001:af:1f.7"), true, "hostdev3", B("0000:05:00.0")};
  CHECK(HostdevXml(placed) ==
        "<hostdev mode='subsystem' type='pci' managed='yes'>\n"
        "  <source>\n"
        "    <address domain='0x0001' bus='0xaf' slot='0x1f' function='0x7' />\n"
        "  </source>\n"
        "  <address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x0' />\n"
        "</hostdev>\n");
}

TEST_CASE("libvirt xml: HostdevXml output reads back the same, alias aside", "[libvirt]") {
  // Given hostdevs with every field combination, when each element is put in a <domain> and
  // read back, then it equals the input with the alias dropped.
  for (bool managed : {false, true}) {
    for (std::optional<Bdf> guest : {std::optional<Bdf>{}, std::optional<Bdf>{B("0000:02:00.0")}}) {
      PciHostdev in{B("0000:82:10.3"), managed, "hostdev9", guest};
      auto out = ParseHostdevs("<domain><devices>" + HostdevXml(in) + "</devices></domain>");
      REQUIRE(out);
      REQUIRE(out->size() == 1);
      in.alias.clear();
      CHECK(out->front() == in);
    }
  }
}

}  // namespace
}  // namespace ptrec::libvirt
