#include "providers/libvirt/connection.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include <fmt/format.h>

namespace ptrec::libvirt {
namespace {

struct DomainFree {
  void operator()(virDomainPtr dom) const { virDomainFree(dom); }
};
using DomainHandle = std::unique_ptr<virDomain, DomainFree>;

// libvirt prints every error to stderr unless an error function is set; ptrec reports errors
// itself, so the default printer is replaced once per process by one that does nothing.
void SilenceLibvirt() {
  static std::once_flag once;
  std::call_once(once, [] {
    virInitialize();
    virSetErrorFunc(nullptr, [](void*, virErrorPtr) {});
  });
}

// The symbolic name of the libvirt error numbers ptrec meets, for messages.
const char* VirErrorName(int number) {
  switch (number) {
    case VIR_ERR_NO_DOMAIN: return "VIR_ERR_NO_DOMAIN";
    case VIR_ERR_DEVICE_MISSING: return "VIR_ERR_DEVICE_MISSING";
    case VIR_ERR_OPERATION_INVALID: return "VIR_ERR_OPERATION_INVALID";
    case VIR_ERR_CONFIG_UNSUPPORTED: return "VIR_ERR_CONFIG_UNSUPPORTED";
    case VIR_ERR_NO_SUPPORT: return "VIR_ERR_NO_SUPPORT";
    case VIR_ERR_OPERATION_UNSUPPORTED: return "VIR_ERR_OPERATION_UNSUPPORTED";
    case VIR_ERR_ARGUMENT_UNSUPPORTED: return "VIR_ERR_ARGUMENT_UNSUPPORTED";
    case VIR_ERR_SYSTEM_ERROR: return "VIR_ERR_SYSTEM_ERROR";
    case VIR_ERR_NO_CONNECT: return "VIR_ERR_NO_CONNECT";
    case VIR_ERR_INTERNAL_ERROR: return "VIR_ERR_INTERNAL_ERROR";
    case VIR_ERR_OPERATION_FAILED: return "VIR_ERR_OPERATION_FAILED";
    case VIR_ERR_OPERATION_TIMEOUT: return "VIR_ERR_OPERATION_TIMEOUT";
    case VIR_ERR_XML_ERROR: return "VIR_ERR_XML_ERROR";
    case VIR_ERR_XML_DETAIL: return "VIR_ERR_XML_DETAIL";
    case VIR_ERR_INVALID_ARG: return "VIR_ERR_INVALID_ARG";
    case VIR_ERR_AUTH_FAILED: return "VIR_ERR_AUTH_FAILED";
    case VIR_ERR_ACCESS_DENIED: return "VIR_ERR_ACCESS_DENIED";
    case VIR_ERR_OPERATION_DENIED: return "VIR_ERR_OPERATION_DENIED";
    case VIR_ERR_NO_NODE_DEVICE: return "VIR_ERR_NO_NODE_DEVICE";
    default: return "libvirt error";
  }
}

// What to do about a libvirt error, by error number, for the message's tail.
std::string Hint(int number, const std::string& uri) {
  switch (number) {
    case VIR_ERR_NO_DOMAIN:
      return fmt::format("check the VM name with `virsh -c {} list --all`", uri);
    case VIR_ERR_DEVICE_MISSING:
      return "the hostdev (matched by its source BDF) is not in the domain: nothing to detach";
    case VIR_ERR_OPERATION_INVALID:
      return "a hostdev with this source BDF is already in the domain, or the domain's state does "
             "not allow the change (live changes need a running domain, config ones a persistent one)";
    case VIR_ERR_CONFIG_UNSUPPORTED:
      return "live PCI assignment needs an IOMMU: boot with intel_iommu=on (or amd_iommu=on) and "
             "load vfio-pci, or change only the persistent definition";
    case VIR_ERR_AUTH_FAILED:
    case VIR_ERR_ACCESS_DENIED:
    case VIR_ERR_OPERATION_DENIED:
      return "run as root or as a member of the libvirt group, with a read-write connection";
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_SYSTEM_ERROR:
      return "is libvirtd (or virtqemud) running, and is the URI's socket right?";
    case VIR_ERR_OPERATION_TIMEOUT:
      return "libvirt timed out waiting for QEMU or a job on the domain; retry when it is idle";
    default:
      return "see libvirtd's log for details";
  }
}

// Turns libvirt's last error (thread-local, virGetLastError) into an Error:
// "<what> on <uri>: <libvirt message> [VIR_ERR_...]; <hint>". Resets libvirt's last error.
Error LastError(const std::string& what, const std::string& uri) {
  int number = VIR_ERR_INTERNAL_ERROR;
  int sys_errno = 0;
  std::string libvirt_message = "unknown libvirt error";
  if (virErrorPtr err = virGetLastError()) {
    number = err->code;
    if (number == VIR_ERR_SYSTEM_ERROR) sys_errno = err->int1;
    if (err->message) libvirt_message = err->message;
  }
  virResetLastError();
  Error error;
  error.code = CodeForVirError(number, sys_errno);
  error.sys_errno = sys_errno;
  error.message = fmt::format("{} on {}: {} [{}]; {}", what, uri, libvirt_message, VirErrorName(number),
                              Hint(number, uri));
  return error;
}

// The domain's XML with \a flags, or an error naming the domain.
Result<std::string> DomainXml(virDomainPtr dom, unsigned flags, const std::string& name,
                              const std::string& uri) {
  char* xml = virDomainGetXMLDesc(dom, flags);
  if (!xml) return std::unexpected(LastError(fmt::format("read the XML of domain '{}'", name), uri));
  std::string text(xml);
  std::free(xml);
  return text;
}

Result<std::vector<PciHostdev>> DomainHostdevs(virDomainPtr dom, unsigned flags, const std::string& name,
                                               const std::string& uri) {
  auto xml = DomainXml(dom, flags, name, uri);
  if (!xml) return std::unexpected(xml.error());
  auto hostdevs = ParseHostdevs(*xml);
  if (!hostdevs) {
    Error error = hostdevs.error();
    error.message = fmt::format("domain '{}' on {}: {}", name, uri, error.message);
    return std::unexpected(error);
  }
  return hostdevs;
}

unsigned AffectFlags(bool config, bool live) {
  unsigned flags = 0;
  if (config) flags |= VIR_DOMAIN_AFFECT_CONFIG;
  if (live) flags |= VIR_DOMAIN_AFFECT_LIVE;
  return flags;
}

const char* Where(bool config, bool live) {
  if (config && live) return "the persistent definition and the live";
  return config ? "the persistent definition of" : "the live";
}

}  // namespace

Code CodeForVirError(int vir_error_number, int sys_errno) {
  switch (vir_error_number) {
    case VIR_ERR_NO_DOMAIN:
    case VIR_ERR_DEVICE_MISSING:
    case VIR_ERR_NO_NODE_DEVICE:
      return Code::kNotFound;
    case VIR_ERR_OPERATION_INVALID:
    case VIR_ERR_INVALID_ARG:
    case VIR_ERR_XML_ERROR:
    case VIR_ERR_XML_DETAIL:
    case VIR_ERR_INVALID_DOMAIN:
      return Code::kInvalid;
    case VIR_ERR_CONFIG_UNSUPPORTED:
    case VIR_ERR_NO_SUPPORT:
    case VIR_ERR_OPERATION_UNSUPPORTED:
    case VIR_ERR_ARGUMENT_UNSUPPORTED:
      return Code::kUnsupported;
    case VIR_ERR_AUTH_FAILED:
    case VIR_ERR_AUTH_CANCELLED:
    case VIR_ERR_ACCESS_DENIED:
    case VIR_ERR_OPERATION_DENIED:
      return Code::kPermission;
    case VIR_ERR_OPERATION_TIMEOUT:
    case VIR_ERR_AGENT_UNRESPONSIVE:
      return Code::kTimeout;
    case VIR_ERR_SYSTEM_ERROR:
      return sys_errno > 0 ? CodeFromErrno(sys_errno) : Code::kIo;
    default:
      return Code::kIo;
  }
}

Result<Connection> Connection::Open(const std::string& uri) {
  SilenceLibvirt();
  virConnectPtr conn = virConnectOpen(uri.c_str());
  if (!conn) {
    Error error = LastError("connect", uri);
    // No daemon listening on an existing socket is as absent as no socket at all.
    if (error.sys_errno == ECONNREFUSED) error.code = Code::kNotFound;
    return std::unexpected(error);
  }
  return Connection(conn, uri);
}

Connection::Connection(Connection&& other) noexcept
    : conn_(std::exchange(other.conn_, nullptr)), uri_(std::move(other.uri_)) {}

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    if (conn_) virConnectClose(conn_);
    conn_ = std::exchange(other.conn_, nullptr);
    uri_ = std::move(other.uri_);
  }
  return *this;
}

Connection::~Connection() {
  if (conn_) virConnectClose(conn_);
}

Result<DomainInfo> Connection::Describe(const std::string& domain) {
  DomainHandle dom(virDomainLookupByName(conn_, domain.c_str()));
  if (!dom) return std::unexpected(LastError(fmt::format("look up domain '{}'", domain), uri_));
  DomainInfo info;
  info.name = domain;
  int active = virDomainIsActive(dom.get());
  int persistent = virDomainIsPersistent(dom.get());
  if (active < 0 || persistent < 0) {
    return std::unexpected(LastError(fmt::format("read the state of domain '{}'", domain), uri_));
  }
  info.running = active == 1;
  info.persistent = persistent == 1;
  if (info.persistent) {
    auto config = DomainHostdevs(dom.get(), VIR_DOMAIN_XML_INACTIVE, domain, uri_);
    if (!config) return std::unexpected(config.error());
    info.config = std::move(*config);
  }
  if (info.running) {
    auto live = DomainHostdevs(dom.get(), 0, domain, uri_);
    if (!live) return std::unexpected(live.error());
    info.live = std::move(*live);
  }
  return info;
}

Result<void> Connection::Attach(const std::string& domain, const PciHostdev& hostdev, bool config,
                                bool live) {
  if (!config && !live) {
    return Fail(Code::kInvalid, fmt::format("attach {} to domain '{}' on {}: neither the persistent "
                                            "definition nor the live domain was chosen",
                                            hostdev.source.str(), domain, uri_));
  }
  std::string what = fmt::format("attach hostdev {} (managed={}) to {} domain '{}'", hostdev.source.str(),
                                 hostdev.managed ? "yes" : "no", Where(config, live), domain);
  DomainHandle dom(virDomainLookupByName(conn_, domain.c_str()));
  if (!dom) return std::unexpected(LastError(what, uri_));
  std::string xml = HostdevXml(hostdev);
  if (virDomainAttachDeviceFlags(dom.get(), xml.c_str(), AffectFlags(config, live)) < 0) {
    return std::unexpected(LastError(what, uri_));
  }
  return {};
}

Result<void> Connection::Detach(const std::string& domain, const PciHostdev& hostdev, bool config, bool live,
                                std::chrono::milliseconds live_timeout) {
  if (!config && !live) {
    return Fail(Code::kInvalid, fmt::format("detach {} from domain '{}' on {}: neither the persistent "
                                            "definition nor the live domain was chosen",
                                            hostdev.source.str(), domain, uri_));
  }
  std::string what =
      fmt::format("detach hostdev {} from {} domain '{}'", hostdev.source.str(), Where(config, live), domain);
  DomainHandle dom(virDomainLookupByName(conn_, domain.c_str()));
  if (!dom) return std::unexpected(LastError(what, uri_));
  // libvirt finds the hostdev by its source address (virDomainHostdevFind); a guest address
  // that differs from the one libvirt assigned would only confuse, so it is left out.
  PciHostdev match = hostdev;
  match.guest_address.reset();
  std::string xml = HostdevXml(match);
  // The deadline counts libvirt's own wait too: Detach returns within about live_timeout.
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + live_timeout;
  if (virDomainDetachDeviceFlags(dom.get(), xml.c_str(), AffectFlags(config, live)) < 0) {
    return std::unexpected(LastError(what, uri_));
  }
  if (!live) return {};

  // libvirt returns once it has asked QEMU (device_del) and waited up to 5 s for the guest
  // (qemuDomainWaitForDeviceRemoval); the device is only gone when it has left the live XML.
  while (true) {
    int active = virDomainIsActive(dom.get());
    if (active < 0) return std::unexpected(LastError(what + ": check the domain's state", uri_));
    if (active == 0) return {};
    auto now_live = DomainHostdevs(dom.get(), 0, domain, uri_);
    if (!now_live) return std::unexpected(now_live.error());
    bool present = std::any_of(now_live->begin(), now_live->end(),
                               [&](const PciHostdev& h) { return h.source == hostdev.source; });
    if (!present) return {};
    if (Clock::now() >= deadline) {
      return Fail(Code::kTimeout,
                  fmt::format("{} on {}: libvirt accepted the detach but {} is still in the live domain "
                              "after {} ms; the guest has not released it (q35 with ACPI PCI hotplug may "
                              "never: use native PCIe hotplug, or detach from the persistent definition "
                              "and restart the domain)",
                              what, uri_, hostdev.source.str(), live_timeout.count()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace ptrec::libvirt
