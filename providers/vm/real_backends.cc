// The backends that reach a real hypervisor: a libvirt connection (providers/libvirt) and a
// QMP socket (providers/qmp). Thin adapters: the facts and error mapping live in those libraries.
#include <algorithm>

#include "providers/libvirt/connection.h"
#include "providers/qmp/qmp_client.h"
#include "providers/qmp/vfio_devices.h"
#include "providers/vm/vm_backend.h"

namespace ptrec::vm {
namespace {

// How long a live removal may take before ptrec reports the truth (still attached). The
// real-kernel test bed measured ~45-50 s for a whole libvirt round trip under TCG.
constexpr std::chrono::seconds kLiveDetachTimeout{60};
constexpr std::chrono::seconds kQmpConnectTimeout{5};

VmHostdev FromLibvirt(const libvirt::PciHostdev& h) { return VmHostdev{h.source, h.managed, h.guest_address, h.alias}; }
libvirt::PciHostdev ToLibvirt(const VmHostdev& h) { return libvirt::PciHostdev{h.source, h.managed, "", h.guest_address}; }

class LibvirtBackend : public Backend {
 public:
  explicit LibvirtBackend(libvirt::Connection conn) : conn_(std::move(conn)) {}

  Result<ObservedVm> Describe(const std::string& domain) override {
    auto info = conn_.Describe(domain);
    if (!info) return std::unexpected(info.error());
    ObservedVm vm;
    vm.name = info->name;
    vm.exists = true;
    vm.running = info->running;
    vm.has_config = info->persistent;
    for (const auto& h : info->config) vm.config.push_back(FromLibvirt(h));
    for (const auto& h : info->live) vm.live.push_back(FromLibvirt(h));
    return vm;
  }
  Result<void> Attach(const std::string& domain, const VmHostdev& hostdev, bool config, bool live) override {
    return conn_.Attach(domain, ToLibvirt(hostdev), config, live);
  }
  Result<void> Detach(const std::string& domain, const VmHostdev& hostdev, bool config, bool live) override {
    auto both = conn_.Detach(domain, ToLibvirt(hostdev), config, live, kLiveDetachTimeout);
    if (both || !(config && live) || both.error().code != Code::kNotFound) return both;
    // One libvirt call changes both or neither: when the hostdev is in only one, do each alone.
    auto c = conn_.Detach(domain, ToLibvirt(hostdev), true, false, kLiveDetachTimeout);
    auto l = conn_.Detach(domain, ToLibvirt(hostdev), false, true, kLiveDetachTimeout);
    if (!c && c.error().code != Code::kNotFound) return c;
    if (!l && l.error().code != Code::kNotFound) return l;
    return (!c && !l) ? c : Result<void>{};
  }

 private:
  libvirt::Connection conn_;
};

// A QEMU without libvirt: only live devices, ids "ptrec-DDDD_BB_DD_F", on a free root port.
class QmpBackend : public Backend {
 public:
  explicit QmpBackend(qmp::Client client) : qmp_(std::move(client)) {}

  Result<ObservedVm> Describe(const std::string& domain) override {
    auto devices = qmp::ListVfioDevices(qmp_);
    if (!devices) return std::unexpected(devices.error());
    ObservedVm vm;
    vm.name = domain;
    vm.exists = true;
    vm.running = true;
    vm.has_config = false;
    for (const auto& d : *devices) vm.live.push_back(VmHostdev{d.host, false, std::nullopt, d.id});
    return vm;
  }
  Result<void> Attach(const std::string&, const VmHostdev& hostdev, bool config, bool live) override {
    if (config || !live)
      return Fail(Code::kUnsupported, "a QEMU run without libvirt (" + qmp_.socket_path() +
                                          ") has no persistent definition: only live changes are possible");
    auto bus = qmp::FindFreeHotplugBus(qmp_);
    if (!bus) return std::unexpected(bus.error());
    return qmp::AttachVfio(qmp_, hostdev.source, QmpDeviceId(hostdev.source), *bus);
  }
  Result<void> Detach(const std::string&, const VmHostdev& hostdev, bool, bool live) override {
    if (!live) return {};  // nothing persistent to change
    auto devices = qmp::ListVfioDevices(qmp_);
    if (!devices) return std::unexpected(devices.error());
    auto it = std::find_if(devices->begin(), devices->end(), [&](const qmp::VfioDevice& d) { return d.host == hostdev.source; });
    if (it == devices->end())
      return Fail(Code::kNotFound, "no vfio-pci device with host " + hostdev.source.str() + " in " + qmp_.socket_path());
    return qmp::DetachVfio(qmp_, it->id, kLiveDetachTimeout);
  }

 private:
  qmp::Client qmp_;
};

}  // namespace

Result<std::unique_ptr<Backend>> OpenLibvirtBackend(const std::string& uri) {
  auto conn = libvirt::Connection::Open(uri);
  if (!conn) return std::unexpected(conn.error());
  return std::make_unique<LibvirtBackend>(std::move(*conn));
}

Result<std::unique_ptr<Backend>> OpenQmpBackend(const std::string& socket_path) {
  auto client = qmp::Client::Connect(socket_path, kQmpConnectTimeout);
  if (!client) return std::unexpected(client.error());
  return std::make_unique<QmpBackend>(std::move(*client));
}

}  // namespace ptrec::vm
