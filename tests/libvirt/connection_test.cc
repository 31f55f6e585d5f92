// providers/libvirt against a real libvirt daemon (libvirtd 9.0 + QEMU TCG), private to this test
// run: tests/libvirt/libvirtd-sandbox, started by the CTest fixture "libvirtd" (tests/CMakeLists.txt)
// or, when this binary runs on its own, by the first test that needs it (and stopped at exit).
// Domains are TCG (<domain type='qemu'>) q35 guests with 64 MiB and no disk. Host BDFs are ones
// this machine does not have (bus 0x7e), so nothing here can take a real device from the host:
// libvirt does not look at the host for persistent-config changes.
//
// Expected values come from the domain XML these tests give libvirt, and from libvirt's own XML
// read through the C API directly — never from the code under test.
#include "providers/libvirt/connection.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "providers/host/command_runner.h"
#include "tests/support/run_ptrec.h"
#include "tests/support/temp_dir.h"

namespace ptrec::libvirt {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kSandboxDir = PTREC_LIBVIRT_SANDBOX_DIR;
const std::string kCacheDir = PTREC_LIBVIRT_CACHE_DIR;
const std::string kScript = std::string(PTREC_SOURCE_DIR) + "/tests/libvirt/libvirtd-sandbox";
constexpr int kSkipExitCode = 77;  // CTest SKIP_RETURN_CODE

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

bool DaemonAlive() {
  std::string pid = Slurp(kSandboxDir + "/libvirtd.pid");
  return !pid.empty() && kill(std::stoi(pid), 0) == 0;
}

// Skips the whole binary, loudly: CTest shows the test as skipped (exit 77), a terminal shows why.
[[noreturn]] void SkipAll(const std::string& reason) {
  std::cerr << "\n*** SKIPPED: no private libvirt daemon on this machine: " << reason << "\n";
  std::exit(kSkipExitCode);
}

// The URI of the run's private daemon, starting it when nobody has.
const std::string& DaemonUri() {
  static const std::string uri = [] {
    if (fs::exists(kSandboxDir + "/skip")) SkipAll(Slurp(kSandboxDir + "/skip"));
    if (!DaemonAlive()) {
      SpawnRunner runner;
      auto r = runner.Run({kScript, "start", kSandboxDir, kCacheDir}, 120000);
      if (!r) FAIL("libvirtd-sandbox start: " << r.error().message);
      if (r->exit_code == kSkipExitCode) SkipAll(r->output);
      if (r->exit_code != 0) FAIL("libvirtd-sandbox start failed:\n" << r->output);
      std::atexit([] {
        SpawnRunner stopper;
        (void)stopper.Run({kScript, "stop", kSandboxDir}, 60000);
      });
    }
    return Slurp(kSandboxDir + "/uri");
  }();
  return uri;
}

// A raw libvirt connection for setting up domains and reading their XML, independent of the
// code under test.
virConnectPtr Raw() {
  static virConnectPtr conn = [] {
    virSetErrorFunc(nullptr, [](void*, virErrorPtr) {});
    virConnectPtr c = virConnectOpen(DaemonUri().c_str());
    if (!c) FAIL("virConnectOpen " << DaemonUri() << ": " << virGetLastErrorMessage());
    return c;
  }();
  return conn;
}

std::string DomainXmlText(const std::string& name, const std::string& devices) {
  return "<domain type='qemu'><name>" + name +
         "</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
         "<os><type arch='x86_64' machine='q35'>hvm</type></os>"
         "<devices><controller type='usb' model='none'/><memballoon model='none'/>"
         "<controller type='pci' index='0' model='pcie-root'/>"
         "<controller type='pci' index='1' model='pcie-root-port'/>"
         "<controller type='pci' index='2' model='pcie-root-port'/>"
         "<controller type='pci' index='3' model='pcie-root-port'/>" +
         devices + "</devices></domain>";
}

enum class Lifetime { kDefined, kDefinedAndRunning, kTransient };

// A domain of the private daemon, removed (destroyed, undefined) on scope exit.
class TestDomain {
 public:
  TestDomain(std::string name, Lifetime lifetime, const std::string& devices = "") : name_(std::move(name)) {
    Remove();  // left over from an interrupted run
    std::string xml = DomainXmlText(name_, devices);
    if (lifetime == Lifetime::kTransient) {
      dom_ = virDomainCreateXML(Raw(), xml.c_str(), 0);
    } else {
      dom_ = virDomainDefineXML(Raw(), xml.c_str());
      if (dom_ && lifetime == Lifetime::kDefinedAndRunning && virDomainCreate(dom_) < 0) {
        FAIL("start domain " << name_ << ": " << virGetLastErrorMessage());
      }
    }
    if (!dom_) FAIL("create domain " << name_ << ": " << virGetLastErrorMessage());
  }
  ~TestDomain() {
    if (dom_) virDomainFree(dom_);
    Remove();
  }
  TestDomain(const TestDomain&) = delete;
  TestDomain& operator=(const TestDomain&) = delete;

  const std::string& name() const { return name_; }
  /// libvirt's XML of the domain, read with the C API: persistent (inactive) or live.
  std::string Xml(bool inactive) const {
    char* xml = virDomainGetXMLDesc(dom_, inactive ? VIR_DOMAIN_XML_INACTIVE : 0);
    if (!xml) FAIL("virDomainGetXMLDesc " << name_ << ": " << virGetLastErrorMessage());
    std::string text(xml);
    std::free(xml);
    return text;
  }

 private:
  void Remove() {
    if (virDomainPtr d = virDomainLookupByName(Raw(), name_.c_str())) {
      if (virDomainIsActive(d) == 1) virDomainDestroy(d);
      if (virDomainIsPersistent(d) == 1) virDomainUndefine(d);
      virDomainFree(d);
    }
    virResetLastError();
  }

  std::string name_;
  virDomainPtr dom_ = nullptr;
};

// A host BDF this machine does not have (checked, read-only), so no test can affect a real device.
Bdf AbsentBdf(uint8_t function) {
  Bdf bdf{0, 0x7e, 0x1f, function};
  REQUIRE_FALSE(fs::exists("/sys/bus/pci/devices/" + bdf.str()));
  return bdf;
}

Connection Open() {
  auto conn = Connection::Open(DaemonUri());
  if (!conn) FAIL(conn.error().message);
  return std::move(*conn);
}

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// This machine offers PCI passthrough when the kernel has IOMMU groups (what libvirt's
// virHostHasIOMMU checks: /sys/kernel/iommu_groups not empty).
bool HostHasIommu() {
  std::error_code ec;
  return fs::exists("/sys/kernel/iommu_groups", ec) && !fs::is_empty("/sys/kernel/iommu_groups", ec);
}

TEST_CASE("libvirt: Open on a socket that does not exist is kNotFound naming the URI", "[libvirt]") {
  // Given a URI whose socket path does not exist, then kNotFound, and the message has the URI,
  // libvirt's own words and a hint about the daemon.
  const std::string uri = "qemu:///system?socket=/nonexistent/ptrec/libvirt-sock";
  auto conn = Connection::Open(uri);
  REQUIRE_FALSE(conn);
  CHECK(conn.error().code == Code::kNotFound);
  CHECK(Contains(conn.error().message, uri));
  CHECK(Contains(conn.error().message, "libvirtd"));
}

TEST_CASE("libvirt: Describe of an unknown domain is kNotFound naming domain and URI", "[libvirt]") {
  Connection conn = Open();
  auto info = conn.Describe("ptrec-no-such-domain");
  REQUIRE_FALSE(info);
  CHECK(info.error().code == Code::kNotFound);
  CHECK(Contains(info.error().message, "'ptrec-no-such-domain'"));
  CHECK(Contains(info.error().message, DaemonUri()));
  CHECK(Contains(info.error().message, "VIR_ERR_NO_DOMAIN"));
}

TEST_CASE("libvirt: ParseHostdevs reads the XML libvirt itself writes", "[libvirt]") {
  // Given a domain defined with a managed PCI hostdev placed at guest 02:00.0, an unmanaged one
  // written with decimal attributes and no guest address, and an mdev hostdev, when libvirt's
  // persistent XML is read back, then the two PCI hostdevs come out as defined, the unmanaged
  // one with the guest address libvirt assigned (a root port's bus, not 02:00.0, which is taken).
  TestDomain dom("ptrec-test-parse", Lifetime::kDefined,
                 "<hostdev mode='subsystem' type='pci' managed='yes'><source>"
                 "<address domain='0x0000' bus='0x7e' slot='0x1f' function='0x1'/></source>"
                 "<address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x0'/></hostdev>"
                 "<hostdev mode='subsystem' type='pci' managed='no'><source>"
                 "<address domain='0' bus='126' slot='31' function='2'/></source></hostdev>"
                 "<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source>"
                 "<address uuid='c2177883-f1bb-47f0-914d-32a22e3a8804'/></source></hostdev>");
  const std::string xml = dom.Xml(/*inactive=*/true);
  INFO(xml);
  CHECK(Contains(xml, "type='mdev'"));
  CHECK(Contains(xml, "bus='0x7e' slot='0x1f' function='0x2'"));  // libvirt rewrote the decimals
  auto hostdevs = ParseHostdevs(xml);
  REQUIRE(hostdevs);
  REQUIRE(hostdevs->size() == 2);
  CHECK((*hostdevs)[0].source == AbsentBdf(1));
  CHECK((*hostdevs)[0].managed);
  CHECK((*hostdevs)[0].guest_address == Bdf{0, 2, 0, 0});
  CHECK((*hostdevs)[0].alias.empty());
  CHECK((*hostdevs)[1].source == AbsentBdf(2));
  CHECK_FALSE((*hostdevs)[1].managed);
  REQUIRE((*hostdevs)[1].guest_address);
  CHECK((*hostdevs)[1].guest_address->bus != 0);  // behind a root port, as libvirt places PCIe devices
  CHECK((*hostdevs)[1].guest_address != Bdf{0, 2, 0, 0});
}

TEST_CASE("libvirt: Describe reports state and persistent hostdevs", "[libvirt]") {
  // Given a defined (stopped) domain with one hostdev, then running=false, persistent=true, the
  // hostdev in config and nothing live; given a running one without hostdevs, then running=true
  // and its live list empty; given a transient domain, then persistent=false and no config.
  Connection conn = Open();
  SECTION("defined, stopped") {
    TestDomain dom("ptrec-test-describe", Lifetime::kDefined,
                   "<hostdev mode='subsystem' type='pci' managed='no'><source>"
                   "<address domain='0x0000' bus='0x7e' slot='0x1f' function='0x3'/></source></hostdev>");
    auto info = conn.Describe(dom.name());
    REQUIRE(info);
    CHECK(info->name == dom.name());
    CHECK_FALSE(info->running);
    CHECK(info->persistent);
    REQUIRE(info->config.size() == 1);
    CHECK(info->config[0].source == AbsentBdf(3));
    CHECK_FALSE(info->config[0].managed);
    CHECK(info->live.empty());
  }
  SECTION("running") {
    TestDomain dom("ptrec-test-describe-run", Lifetime::kDefinedAndRunning);
    auto info = conn.Describe(dom.name());
    REQUIRE(info);
    CHECK(info->running);
    CHECK(info->persistent);
    CHECK(info->config.empty());
    CHECK(info->live.empty());
  }
  SECTION("transient") {
    TestDomain dom("ptrec-test-describe-transient", Lifetime::kTransient);
    auto info = conn.Describe(dom.name());
    REQUIRE(info);
    CHECK(info->running);
    CHECK_FALSE(info->persistent);
    CHECK(info->config.empty());
  }
}

TEST_CASE("libvirt: persistent-config attach then detach", "[libvirt]") {
  // Given a defined domain without hostdevs, when a hostdev is attached to its persistent
  // definition, then libvirt's XML has it (and Describe agrees); when it is detached, then
  // neither has it any more.
  TestDomain dom("ptrec-test-config", Lifetime::kDefined);
  Connection conn = Open();
  const PciHostdev hostdev{AbsentBdf(4), false, "", std::nullopt};
  const std::string source = "bus='0x7e' slot='0x1f' function='0x4'";
  REQUIRE_FALSE(Contains(dom.Xml(true), source));

  auto attached = conn.Attach(dom.name(), hostdev, /*config=*/true, /*live=*/false);
  REQUIRE(attached);
  CHECK(Contains(dom.Xml(true), source));
  auto info = conn.Describe(dom.name());
  REQUIRE(info);
  REQUIRE(info->config.size() == 1);
  CHECK(info->config[0].source == hostdev.source);

  auto detached = conn.Detach(dom.name(), hostdev, /*config=*/true, /*live=*/false, 1s);
  REQUIRE(detached);
  CHECK_FALSE(Contains(dom.Xml(true), source));
  info = conn.Describe(dom.name());
  REQUIRE(info);
  CHECK(info->config.empty());
}

TEST_CASE("libvirt: a second attach is kInvalid, a second detach kNotFound", "[libvirt]") {
  // Given a hostdev attached to the persistent definition, when it is attached again (even with
  // another managed= value: libvirt matches the source address only), then kInvalid naming the
  // BDF and domain, and the definition still has it once; when it is detached twice, then the
  // second detach is kNotFound.
  TestDomain dom("ptrec-test-idempotency", Lifetime::kDefined);
  Connection conn = Open();
  PciHostdev hostdev{AbsentBdf(5), false, "", std::nullopt};
  REQUIRE(conn.Attach(dom.name(), hostdev, true, false));

  auto again = conn.Attach(dom.name(), hostdev, true, false);
  REQUIRE_FALSE(again);
  CHECK(again.error().code == Code::kInvalid);
  CHECK(Contains(again.error().message, "0000:7e:1f.5"));
  CHECK(Contains(again.error().message, "'ptrec-test-idempotency'"));
  CHECK(Contains(again.error().message, "already in the domain configuration"));  // libvirt's words
  CHECK(Contains(again.error().message, "VIR_ERR_OPERATION_INVALID"));

  hostdev.managed = true;
  auto other_managed = conn.Attach(dom.name(), hostdev, true, false);
  REQUIRE_FALSE(other_managed);
  CHECK(other_managed.error().code == Code::kInvalid);
  auto info = conn.Describe(dom.name());
  REQUIRE(info);
  CHECK(info->config.size() == 1);

  REQUIRE(conn.Detach(dom.name(), hostdev, true, false, 1s));
  auto second = conn.Detach(dom.name(), hostdev, true, false, 1s);
  REQUIRE_FALSE(second);
  CHECK(second.error().code == Code::kNotFound);
  CHECK(Contains(second.error().message, "0000:7e:1f.5"));
  CHECK(Contains(second.error().message, "VIR_ERR_DEVICE_MISSING"));
}

TEST_CASE("libvirt: managed yes/no and the guest address round-trip through libvirt", "[libvirt]") {
  // Given hostdevs attached with managed yes and no, one with a guest address on root port
  // bus 3, then libvirt's own XML says managed='yes'/'no' for each and keeps the address, and
  // Describe returns them equal to what was attached (libvirt adds a guest address to the other).
  TestDomain dom("ptrec-test-managed", Lifetime::kDefined);
  Connection conn = Open();
  const PciHostdev managed{AbsentBdf(6), true, "", Bdf{0, 3, 0, 0}};
  const PciHostdev unmanaged{AbsentBdf(7), false, "", std::nullopt};
  REQUIRE(conn.Attach(dom.name(), managed, true, false));
  REQUIRE(conn.Attach(dom.name(), unmanaged, true, false));

  const std::string xml = dom.Xml(true);
  INFO(xml);
  CHECK(Contains(xml, "managed='yes'>\n      <source>\n        <address domain='0x0000' bus='0x7e' slot='0x1f' "
                      "function='0x6'/>"));
  CHECK(Contains(xml, "managed='no'>\n      <source>\n        <address domain='0x0000' bus='0x7e' slot='0x1f' "
                      "function='0x7'/>"));
  CHECK(Contains(xml, "<address type='pci' domain='0x0000' bus='0x03' slot='0x00' function='0x0'/>"));

  auto info = conn.Describe(dom.name());
  REQUIRE(info);
  REQUIRE(info->config.size() == 2);
  CHECK(info->config[0] == managed);
  CHECK(info->config[1].source == unmanaged.source);
  CHECK_FALSE(info->config[1].managed);
  CHECK(info->config[1].guest_address.has_value());
}

TEST_CASE("libvirt: live changes: no IOMMU is kUnsupported, stopped domain and absent device refused",
          "[libvirt]") {
  // Given a running domain, when a hostdev is attached live on a host without IOMMU groups, then
  // kUnsupported with libvirt's "host doesn't support passthrough" and an IOMMU hint; given a
  // stopped domain, then a live attach is kInvalid; given a running domain without the hostdev,
  // then a live detach is kNotFound. The persistent definitions stay untouched.
  Connection conn = Open();
  const PciHostdev hostdev{AbsentBdf(0), false, "", std::nullopt};
  SECTION("running domain") {
    TestDomain dom("ptrec-test-live", Lifetime::kDefinedAndRunning);
    auto attached = conn.Attach(dom.name(), hostdev, /*config=*/false, /*live=*/true);
    REQUIRE_FALSE(attached);
    INFO(attached.error().message);
    if (!HostHasIommu()) {
      CHECK(attached.error().code == Code::kUnsupported);
      CHECK(Contains(attached.error().message, "host doesn't support passthrough of host PCI devices"));
      CHECK(Contains(attached.error().message, "intel_iommu=on"));
      CHECK(Contains(attached.error().message, "VIR_ERR_CONFIG_UNSUPPORTED"));
    }
    CHECK(Contains(attached.error().message, "0000:7e:1f.0"));

    // config+live in one call: libvirt changes neither when live fails.
    auto both = conn.Attach(dom.name(), hostdev, true, true);
    REQUIRE_FALSE(both);
    CHECK_FALSE(Contains(dom.Xml(true), "bus='0x7e'"));

    auto detached = conn.Detach(dom.name(), hostdev, false, true, 2s);
    REQUIRE_FALSE(detached);
    CHECK(detached.error().code == Code::kNotFound);

    // In the persistent definition only: a config+live detach fails on the live side and
    // leaves the persistent definition as it was; a config-only detach then works.
    REQUIRE(conn.Attach(dom.name(), hostdev, true, false));
    REQUIRE(Contains(dom.Xml(true), "bus='0x7e'"));
    auto both_detached = conn.Detach(dom.name(), hostdev, true, true, 2s);
    REQUIRE_FALSE(both_detached);
    INFO(both_detached.error().message);
    CHECK(both_detached.error().code == Code::kNotFound);
    CHECK(Contains(dom.Xml(true), "bus='0x7e'"));
    REQUIRE(conn.Detach(dom.name(), hostdev, true, false, 2s));
    CHECK_FALSE(Contains(dom.Xml(true), "bus='0x7e'"));
  }
  SECTION("stopped domain") {
    TestDomain dom("ptrec-test-live-stopped", Lifetime::kDefined);
    auto attached = conn.Attach(dom.name(), hostdev, false, true);
    REQUIRE_FALSE(attached);
    INFO(attached.error().message);
    CHECK(attached.error().code == Code::kInvalid);
    CHECK(Contains(attached.error().message, "not running"));
    CHECK_FALSE(Contains(dom.Xml(true), "bus='0x7e'"));
  }
}

TEST_CASE("libvirt: a transient domain has no persistent definition to change", "[libvirt]") {
  // Given a transient (created, never defined) domain, when a hostdev is attached to its
  // persistent definition, then libvirt refuses and ptrec says kInvalid.
  TestDomain dom("ptrec-test-transient", Lifetime::kTransient);
  Connection conn = Open();
  auto attached = conn.Attach(dom.name(), PciHostdev{AbsentBdf(1), false, "", std::nullopt}, true, false);
  REQUIRE_FALSE(attached);
  INFO(attached.error().message);
  CHECK(attached.error().code == Code::kInvalid);
  CHECK(Contains(attached.error().message, "transient"));
}

TEST_CASE("libvirt: choosing neither config nor live is kInvalid before libvirt is asked", "[libvirt]") {
  Connection conn = Open();
  auto attached = conn.Attach("ptrec-no-such-domain", PciHostdev{AbsentBdf(1)}, false, false);
  REQUIRE_FALSE(attached);
  CHECK(attached.error().code == Code::kInvalid);  // not kNotFound: libvirt was not asked
  auto detached = conn.Detach("ptrec-no-such-domain", PciHostdev{AbsentBdf(1)}, false, false, 1s);
  REQUIRE_FALSE(detached);
  CHECK(detached.error().code == Code::kInvalid);
}

TEST_CASE("libvirt: libvirt error numbers map to ptrec codes", "[libvirt]") {
  // Given the error numbers of include/libvirt/virterror.h that ptrec meets, then these Codes.
  CHECK(CodeForVirError(VIR_ERR_NO_DOMAIN, 0) == Code::kNotFound);
  CHECK(CodeForVirError(VIR_ERR_DEVICE_MISSING, 0) == Code::kNotFound);
  CHECK(CodeForVirError(VIR_ERR_OPERATION_INVALID, 0) == Code::kInvalid);
  CHECK(CodeForVirError(VIR_ERR_XML_ERROR, 0) == Code::kInvalid);
  CHECK(CodeForVirError(VIR_ERR_CONFIG_UNSUPPORTED, 0) == Code::kUnsupported);
  CHECK(CodeForVirError(VIR_ERR_ACCESS_DENIED, 0) == Code::kPermission);
  CHECK(CodeForVirError(VIR_ERR_AUTH_FAILED, 0) == Code::kPermission);
  CHECK(CodeForVirError(VIR_ERR_OPERATION_TIMEOUT, 0) == Code::kTimeout);
  CHECK(CodeForVirError(VIR_ERR_SYSTEM_ERROR, ENOENT) == Code::kNotFound);
  CHECK(CodeForVirError(VIR_ERR_SYSTEM_ERROR, EACCES) == Code::kPermission);
  CHECK(CodeForVirError(VIR_ERR_SYSTEM_ERROR, 0) == Code::kIo);
  CHECK(CodeForVirError(VIR_ERR_INTERNAL_ERROR, 0) == Code::kIo);
}


// End to end: the ptrec binary plans and applies a vms entry whose uri is this private daemon,
// on a sandbox host root (--root, --simulate): the sandbox's simulated kernel does the binding,
// the real libvirtd gets the hostdevs in the domain's persistent definition. The BCM5720
// functions 0000:02:00.0/.1 exist only in the sandbox (checked), and the domain never starts.
TEST_CASE("libvirt: ptrec plan/apply with uri: qemu:///system?socket=... on a sandbox root", "[libvirt][cli]") {
  using ptrec::testing::RunPtrec;
  REQUIRE_FALSE(fs::exists("/sys/bus/pci/devices/0000:02:00.0"));
  TestDomain dom("ptrec-cli-fw", Lifetime::kDefined);
  ptrec::testing::ScopedTempDir tmp("libvirt-cli");
  std::string root = tmp.Sub("host");
  auto made = RunPtrec({"sandbox", "create", ptrec::testing::SourcePath("examples/hosts/bcm5720-shared-group.yaml"), root});
  INFO(made.err);
  REQUIRE(made.exit_code == 0);
  std::string head = "apiVersion: ptrec/v1\nkind: HostConfig\nvms:\n  - name: ptrec-cli-fw\n    uri: \"" + DaemonUri() + "\"\n";
  std::ofstream(tmp.Sub("fw.yaml")) << head << "    devices: [{device: \"0000:02:00.0\"}, {device: \"0000:02:00.1\"}]\n";
  std::ofstream(tmp.Sub("none.yaml")) << head << "    devices: []\n";
  auto apply = [&](const std::string& file) {
    return RunPtrec({"apply", "-f", tmp.Sub(file), "--root", root, "--simulate", "--auto-approve"});
  };

  auto plan = RunPtrec({"plan", "-f", tmp.Sub("fw.yaml"), "--root", root});
  INFO(plan.out << plan.err);
  CHECK(plan.exit_code == 2);
  CHECK(Contains(plan.out, "attach to ptrec-cli-fw (config only)"));
  auto applied = apply("fw.yaml");
  INFO(applied.out << applied.err);
  REQUIRE(applied.exit_code == 0);
  std::string xml = dom.Xml(true);
  CHECK(Contains(xml, "bus='0x02' slot='0x00' function='0x0'"));
  CHECK(Contains(xml, "bus='0x02' slot='0x00' function='0x1'"));
  CHECK(Contains(xml, "managed='no'"));
  auto again = RunPtrec({"plan", "-f", tmp.Sub("fw.yaml"), "--root", root});
  CHECK(again.exit_code == 0);

  // Dropping the devices detaches them (ptrec attached them: the ledger says so) and gives
  // them back to tg3 in the sandbox.
  auto removed = apply("none.yaml");
  INFO(removed.out << removed.err);
  REQUIRE(removed.exit_code == 0);
  CHECK_FALSE(Contains(dom.Xml(true), "<hostdev"));
  CHECK(fs::read_symlink(root + "/sys/bus/pci/devices/0000:02:00.0/driver").filename() == "tg3");
}

}  // namespace
}  // namespace ptrec::libvirt
