#include "providers/qmp/vfio_devices.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include <fmt/format.h>

namespace ptrec::qmp {
namespace {

using nlohmann::json;

// Where qdev puts user-created devices: with an id, and without one ("device[N]").
constexpr const char* kPeripheral = "/machine/peripheral";
constexpr const char* kPeripheralAnon = "/machine/peripheral-anon";

struct Child {
  std::string name;  ///< property name: the device id, or "device[N]"
  std::string type;  ///< QOM type inside "child<...>", e.g. "vfio-pci"
  std::string path;  ///< QOM path
};

/// The child<...> properties of \a path. A missing container (kNotFound) is an empty list.
Result<std::vector<Child>> ListChildren(Client& qmp, const std::string& path) {
  auto listed = qmp.Execute("qom-list", {{"path", path}});
  if (!listed) {
    if (listed.error().code == Code::kNotFound) return std::vector<Child>{};
    return std::unexpected(listed.error());
  }
  std::vector<Child> children;
  if (!listed->is_array()) return children;
  for (const auto& prop : *listed) {
    std::string type = prop.value("type", "");
    if (!type.starts_with("child<") || !type.ends_with(">")) continue;
    std::string name = prop.value("name", "");
    children.push_back({name, type.substr(6, type.size() - 7), path + "/" + name});
  }
  return children;
}

/// User-created devices: /machine/peripheral and /machine/peripheral-anon together.
Result<std::vector<Child>> ListPeripherals(Client& qmp) {
  auto named = ListChildren(qmp, kPeripheral);
  if (!named) return named;
  auto anon = ListChildren(qmp, kPeripheralAnon);
  if (!anon) return anon;
  named->insert(named->end(), anon->begin(), anon->end());
  return named;
}

/// qom-get \a path \a property as a string; nullopt when absent or not a string.
Result<std::optional<std::string>> GetString(Client& qmp, const std::string& path,
                                             const char* property) {
  auto value = qmp.Execute("qom-get", {{"path", path}, {"property", property}});
  if (!value) {
    // A device that went away between qom-list and qom-get, or a property it lacks.
    if (value.error().code == Code::kNotFound) {
      return std::optional<std::string>{};
    }
    return std::unexpected(value.error());
  }
  if (!value->is_string()) return std::optional<std::string>{};
  return std::optional<std::string>{value->get<std::string>()};
}

std::string LastComponent(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

/// "rp2" < "rp10": runs of digits compare by value.
bool NaturalLess(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) &&
        std::isdigit(static_cast<unsigned char>(b[j]))) {
      size_t ie = i, je = j;
      while (ie < a.size() && std::isdigit(static_cast<unsigned char>(a[ie]))) ++ie;
      while (je < b.size() && std::isdigit(static_cast<unsigned char>(b[je]))) ++je;
      std::string_view na(a.data() + i, ie - i), nb(b.data() + j, je - j);
      while (na.size() > 1 && na.front() == '0') na.remove_prefix(1);
      while (nb.size() > 1 && nb.front() == '0') nb.remove_prefix(1);
      if (na.size() != nb.size()) return na.size() < nb.size();
      if (na != nb) return na < nb;
      i = ie;
      j = je;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

bool IsVfioPci(const std::string& type) { return type == "vfio-pci" || type == "vfio-pci-nohotplug"; }

bool IsHotplugPort(const std::string& type) {
  return type == "pcie-root-port" || type == "ioh3420" || type == "xio3130-downstream";
}

std::string QomPathOf(const std::string& id) {
  return id.starts_with("/") ? id : std::string(kPeripheral) + "/" + id;
}

std::unexpected<Error> Prefixed(Error error, const std::string& prefix) {
  error.message = prefix + error.message;
  return std::unexpected(std::move(error));
}

}  // namespace

Result<std::vector<VfioDevice>> ListVfioDevices(Client& qmp) {
  auto peripherals = ListPeripherals(qmp);
  if (!peripherals) return std::unexpected(peripherals.error());
  std::vector<VfioDevice> devices;
  for (const auto& child : *peripherals) {
    if (!IsVfioPci(child.type)) continue;
    std::optional<Bdf> host;
    auto host_text = GetString(qmp, child.path, "host");
    if (!host_text) return std::unexpected(host_text.error());
    if (*host_text) host = Bdf::Parse(**host_text);
    if (!host) {  // added with sysfsdev= instead of host=
      auto sysfsdev = GetString(qmp, child.path, "sysfsdev");
      if (!sysfsdev) return std::unexpected(sysfsdev.error());
      if (*sysfsdev) host = Bdf::Parse(LastComponent(**sysfsdev));
    }
    if (!host) continue;  // an mdev or a device that went away: not a host PCI function
    auto parent_bus = GetString(qmp, child.path, "parent_bus");
    if (!parent_bus) return std::unexpected(parent_bus.error());
    // device_del takes the id of a named device and the QOM path of an anonymous one.
    std::string id = child.path.starts_with(std::string(kPeripheral) + "/") ? child.name : child.path;
    devices.push_back({id, *host, *parent_bus ? LastComponent(**parent_bus) : ""});
  }
  std::sort(devices.begin(), devices.end(),
            [](const VfioDevice& a, const VfioDevice& b) { return NaturalLess(a.id, b.id); });
  return devices;
}

Result<std::string> FindFreeHotplugBus(Client& qmp) {
  auto peripherals = ListPeripherals(qmp);
  if (!peripherals) return std::unexpected(peripherals.error());
  std::vector<Child> ports;
  for (const auto& child : *peripherals) {
    if (IsHotplugPort(child.type)) ports.push_back(child);
  }
  std::sort(ports.begin(), ports.end(),
            [](const Child& a, const Child& b) { return NaturalLess(a.name, b.name); });
  int occupied = 0;
  for (const auto& port : ports) {
    auto hotplug = qmp.Execute("qom-get", {{"path", port.path}, {"property", "hotplug"}});
    if (hotplug && hotplug->is_boolean() && !hotplug->get<bool>()) continue;
    auto port_children = ListChildren(qmp, port.path);
    if (!port_children) return std::unexpected(port_children.error());
    for (const auto& bus : *port_children) {
      if (bus.type != "PCIE" && bus.type != "PCI") continue;
      auto bus_props = qmp.Execute("qom-list", {{"path", bus.path}});
      if (!bus_props) return std::unexpected(bus_props.error());
      bool empty = std::none_of(bus_props->begin(), bus_props->end(), [](const json& prop) {
        return prop.value("name", "").starts_with("child[");
      });
      if (empty) return bus.name;
      ++occupied;
    }
  }
  return Fail(Code::kNotFound,
              fmt::format("QMP {}: no free hotplug-capable bus: {} root port(s), {} occupied (hint: "
                          "start the VM with one free -device pcie-root-port,id=rpN,chassis=N,"
                          "bus=pcie.0 per device to hot-add; pcie.0 refuses hot-plug)",
                          qmp.socket_path(), ports.size(), occupied),
              qmp.socket_path());
}

Result<void> AttachVfio(Client& qmp, const Bdf& host, const std::string& id, const std::string& bus) {
  auto added = qmp.Execute("device_add", {{"driver", "vfio-pci"},
                                          {"host", host.str()},
                                          {"id", id},
                                          {"bus", bus}});
  if (!added) {
    return Prefixed(added.error(), fmt::format("attach {} as '{}' on bus {}: ", host.str(), id, bus));
  }
  return {};
}

Result<void> DetachVfio(Client& qmp, const std::string& id, std::chrono::milliseconds timeout) {
  const std::string prefix = fmt::format("detach '{}': ", id);
  const std::string path = QomPathOf(id);
  auto deleted = qmp.Execute("device_del", {{"id", id}});
  if (!deleted) {
    bool pending = deleted.error().code == Code::kBusy &&
                   deleted.error().message.find("already in the process of unplug") != std::string::npos;
    if (!pending) return Prefixed(deleted.error(), prefix);
  }
  auto event = qmp.WaitEvent(
      "DEVICE_DELETED",
      [&](const json& data) {
        if (!data.is_object()) return false;
        return data.value("device", "") == id || data.value("path", "") == id ||
               data.value("path", "") == path;
      },
      timeout);
  if (event) return {};
  if (event.error().code != Code::kTimeout) return Prefixed(event.error(), prefix);
  // The event can have gone to an earlier QMP session; the QOM tree tells the truth.
  auto still = qmp.Execute("qom-get", {{"path", path}, {"property", "type"}});
  if (!still && still.error().code == Code::kNotFound) return {};
  return Fail(Code::kTimeout,
              fmt::format("{}QMP {}: no DEVICE_DELETED within {} ms; the device is still in the VM "
                          "(hint: the guest must release it, and a guest that is not running or "
                          "lacks PCIe hot-plug support never does; only a device hot-added to a "
                          "never-started q35 with native PCIe hot-plug (-global "
                          "ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off) goes at once)",
                          prefix, qmp.socket_path(), timeout.count()),
              qmp.socket_path());
}

}  // namespace ptrec::qmp
