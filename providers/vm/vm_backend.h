// VM backends: the ways ptrec reads and changes a domain's PCI hostdevs.
//
//   libvirt    a libvirt connection (providers/libvirt): persistent definition and live domain
//   QMP        a QEMU run without libvirt (providers/qmp): live devices only
//   simulated  domain XML files under a sandbox host root, so plans and applies on
//              `--root DIR` rehearse VM changes without any daemon
//
// Safety (notes/vm-api.md): with a host root other than "/", a VM without an explicit `uri`
// or `qmp` is always simulated; the host's default libvirt URI is never opened.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "providers/host/host_fs.h"
#include "reconciler/error.h"
#include "reconciler/model.h"

namespace ptrec::vm {

/// One backend for a set of domains. Implementations are used under Backends' lock, one call
/// at a time.
class Backend {
 public:
  virtual ~Backend() = default;
  /// The domain's state and PCI hostdevs (name, exists, running, has_config, config, live;
  /// uri/qmp are filled by the caller). Errors: kNotFound when no such domain; kIo,
  /// kPermission, kNotFound (no daemon/socket) when the backend cannot be reached.
  virtual Result<ObservedVm> Describe(const std::string& domain) = 0;
  /// Adds \a hostdev (source, managed, guest_address) to the persistent definition (\a config)
  /// and/or the running domain (\a live). Errors: kInvalid when it is already there, kNotFound
  /// when the domain is gone, the backend's errors otherwise.
  virtual Result<void> Attach(const std::string& domain, const VmHostdev& hostdev, bool config, bool live) = 0;
  /// Removes the hostdev whose source is \a hostdev.source. Errors: kNotFound when it is not
  /// there; kTimeout when a live removal did not complete.
  virtual Result<void> Detach(const std::string& domain, const VmHostdev& hostdev, bool config, bool live) = 0;
  /// Names of every domain the backend knows (for `ptrec show`); empty when it cannot list.
  virtual std::vector<std::string> List() { return {}; }
};

/// A backend over a libvirt connection to \a uri (providers/libvirt). Live detaches wait up to
/// 60 s for the device to leave the live XML. Errors: libvirt::Connection::Open's.
Result<std::unique_ptr<Backend>> OpenLibvirtBackend(const std::string& uri);
/// A backend over the QMP socket \a socket_path (providers/qmp): live devices only, added with
/// id QmpDeviceId(bdf) on a free hotplug-capable root port. Errors: qmp::Client::Connect's.
Result<std::unique_ptr<Backend>> OpenQmpBackend(const std::string& socket_path);

/// Where the default connection of a VM goes.
enum class DefaultConnection {
  kHostLibvirt,  ///< the real root: qemu:///system
  kSimulated,    ///< a sandbox root: domain XML under the root
};

/// Opens and caches one backend per connection (uri or qmp socket). Thread-safe: callers take
/// lock() around each use of a backend.
class Backends {
 public:
  /// \a fs is the host root's HostFs (simulated domains live under it); not owned.
  Backends(HostFs& fs, DefaultConnection default_connection) : fs_(fs), default_(default_connection) {}
  ~Backends();

  /// The backend for a VM with \a uri and \a qmp as in VmSpec ("" = default). Errors: the
  /// backend's own when it cannot be opened; kUnsupported when this ptrec was built without it.
  Result<Backend*> For(const std::string& uri, const std::string& qmp);
  /// Serialises use of the backends (the simulated one edits files; libvirt's job lock would
  /// make parallel changes of one domain wait anyway).
  std::mutex& lock() { return mu_; }

  /// The URI a libvirt VM with \a uri connects to: \a uri, or qemu:///system.
  static std::string LibvirtUri(const std::string& uri) { return uri.empty() ? "qemu:///system" : uri; }

 private:
  HostFs& fs_;
  DefaultConnection default_;
  std::map<std::string, std::unique_ptr<Backend>> open_;
  std::mutex mu_;
};

/// Describes every domain in \a vms (desired state or plan file) and every domain \a ledger records a hostdev
/// in, through \a backends. A domain that does not exist gets exists = false; a backend that
/// cannot be reached gets exists = false and `problem` set to the error. Never fails.
std::vector<ObservedVm> ObserveVms(const std::vector<VmSpec>& vms, const Ledger& ledger, Backends& backends);

/// The domains of the default connection (`ptrec show`), as VmSpecs with only the name set;
/// empty when the backend cannot be opened or cannot list.
std::vector<VmSpec> ListDefaultDomains(Backends& backends);

/// The QMP device id ptrec gives a host device: "ptrec-0000_03_00_0".
std::string QmpDeviceId(Bdf bdf);

}  // namespace ptrec::vm
