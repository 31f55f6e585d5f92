// LoadHostSpec / ParseHostSpec: the YAML form of HostSpec (examples/hosts/*.yaml).
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "providers/simkernel/host_builder.h"

namespace ptrec::sim {
namespace {

// Parsing context: the file name for "file:line:col" messages.
class Parser {
 public:
  explicit Parser(std::string name) : name_(std::move(name)) {}

  std::unexpected<Error> Bad(const YAML::Node& node, const std::string& msg) const {
    const YAML::Mark m = node.Mark();
    return Fail(
        Code::kInvalid,
        name_ + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) + ": " + msg,
        name_);
  }

  Result<std::string> Str(const YAML::Node& n, const char* what) const {
    if (!n.IsScalar()) return Bad(n, std::string(what) + " must be a string");
    return n.Scalar();
  }

  Result<bool> Bool(const YAML::Node& n, const char* what) const {
    bool v = false;
    if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v))
      return Bad(n, std::string(what) + " must be true or false");
    return v;
  }

  Result<int> Int(const YAML::Node& n, const char* what, int min = 0) const {
    if (!n.IsScalar()) return Bad(n, std::string(what) + " must be a number");
    const std::string& s = n.Scalar();
    int v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || v < min)
      return Bad(n, std::string(what) + " must be an integer >= " + std::to_string(min) +
                        ", not '" + s + "'");
    return v;
  }

  /// Hex, with or without 0x ("0x020000", "10ca"), as sysfs prints ids and classes.
  Result<uint32_t> Hex(const YAML::Node& n, const char* what, uint32_t max) const {
    if (!n.IsScalar()) return Bad(n, std::string(what) + " must be a hex number");
    std::string_view s = n.Scalar();
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s.remove_prefix(2);
    uint32_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v > max)
      return Bad(n, std::string(what) + " must be a hex number, not '" + n.Scalar() + "'");
    return v;
  }

  Result<Bdf> ParseBdf(const YAML::Node& n, const char* what) const {
    auto s = Str(n, what);
    if (!s) return std::unexpected(s.error());
    auto bdf = Bdf::Parse(*s);
    if (!bdf)
      return Bad(n,
                 std::string(what) + " must be a PCI address like 0000:03:00.0, not '" + *s + "'");
    return *bdf;
  }

  Result<PciId> Id(const YAML::Node& n, const char* what) const {
    auto s = Str(n, what);
    if (!s) return std::unexpected(s.error());
    auto id = PciId::Parse(*s);
    if (!id)
      return Bad(n, std::string(what) + " must be vendor:device like 8086:10c9, not '" + *s + "'");
    return *id;
  }

  Result<std::vector<std::string>> Strings(const YAML::Node& n, const char* what) const {
    std::vector<std::string> out;
    if (n.IsScalar()) {
      out.push_back(n.Scalar());
      return out;
    }
    if (!n.IsSequence()) return Bad(n, std::string(what) + " must be a string or a list");
    for (const auto& item : n) {
      auto s = Str(item, what);
      if (!s) return std::unexpected(s.error());
      out.push_back(*s);
    }
    return out;
  }

  Result<HostSpec> Host(const YAML::Node& root) const;

 private:
  Result<ModuleSpec> Module(const YAML::Node& n) const;
  Result<DeviceSpec> Device(const YAML::Node& n) const;
  Result<void> Network(const YAML::Node& n, NetworkSpec& out) const;
  Result<MountSpec> Mount(const YAML::Node& n) const;
  Result<DomainSpec> Domain(const YAML::Node& n) const;

  std::string name_;
};

// Assigns the parsed value or returns its error from the enclosing function.
#define PTREC_TRY_SET(target, expr)                        \
  do {                                                     \
    auto ptrec_v = (expr);                                 \
    if (!ptrec_v) return std::unexpected(ptrec_v.error()); \
    target = std::move(*ptrec_v);                          \
  } while (0)

Result<ModuleSpec> Parser::Module(const YAML::Node& n) const {
  if (!n.IsMap()) return Bad(n, "a module is a mapping {name: igb, ...}");
  ModuleSpec m;
  bool driver_set = false;
  for (const auto& kv : n) {
    const std::string key = kv.first.Scalar();
    const YAML::Node& v = kv.second;
    if (key == "name") {
      PTREC_TRY_SET(m.name, Str(v, "name"));
    } else if (key == "driver") {
      PTREC_TRY_SET(m.driver, Str(v, "driver"));
      driver_set = true;
    } else if (key == "loaded") {
      PTREC_TRY_SET(m.loaded, Bool(v, "loaded"));
    } else if (key == "builtin") {
      PTREC_TRY_SET(m.builtin, Bool(v, "builtin"));
    } else if (key == "ids") {
      if (!v.IsSequence()) return Bad(v, "ids must be a list of vendor:device");
      for (const auto& id : v) {
        PciId parsed;
        PTREC_TRY_SET(parsed, Id(id, "id"));
        m.pci_ids.push_back(parsed);
      }
    } else if (key == "aliases") {
      PTREC_TRY_SET(m.aliases, Strings(v, "aliases"));
    } else if (key == "sriov_configure") {
      PTREC_TRY_SET(m.sriov_configure, Bool(v, "sriov_configure"));
    } else if (key == "parameters") {
      if (!v.IsMap()) return Bad(v, "parameters must be a mapping name: value");
      for (const auto& p : v) {
        std::string value;
        PTREC_TRY_SET(value, Str(p.second, "parameter value"));
        m.parameters[p.first.Scalar()] = value;
      }
    } else if (key == "path") {
      PTREC_TRY_SET(m.path, Str(v, "path"));
    } else {
      return Bad(kv.first, "unknown module key '" + key +
                               "' (name, driver, loaded, builtin, ids, aliases, sriov_configure, "
                               "parameters, path)");
    }
  }
  if (m.name.empty()) return Bad(n, "module needs a name");
  if (!driver_set) m.driver = m.name;
  return m;
}

Result<DeviceSpec> Parser::Device(const YAML::Node& n) const {
  if (!n.IsMap()) return Bad(n, "a device is a mapping {bdf: ..., id: ..., class: ...}");
  DeviceSpec d;
  bool has_bdf = false, has_id = false, has_class = false;
  for (const auto& kv : n) {
    const std::string key = kv.first.Scalar();
    const YAML::Node& v = kv.second;
    if (key == "bdf") {
      PTREC_TRY_SET(d.bdf, ParseBdf(v, "bdf"));
      has_bdf = true;
    } else if (key == "parent") {
      Bdf parent;
      PTREC_TRY_SET(parent, ParseBdf(v, "parent"));
      d.parent = parent;
    } else if (key == "id") {
      PTREC_TRY_SET(d.id, Id(v, "id"));
      has_id = true;
    } else if (key == "subsystem") {
      PTREC_TRY_SET(d.subsystem, Id(v, "subsystem"));
    } else if (key == "class") {
      PTREC_TRY_SET(d.class_code, Hex(v, "class", 0xffffff));
      has_class = true;
    } else if (key == "revision") {
      uint32_t rev = 0;
      PTREC_TRY_SET(rev, Hex(v, "revision", 0xff));
      d.revision = static_cast<uint8_t>(rev);
    } else if (key == "driver") {
      PTREC_TRY_SET(d.driver, Str(v, "driver"));
    } else if (key == "driver_override") {
      PTREC_TRY_SET(d.driver_override, Str(v, "driver_override"));
    } else if (key == "iommu_group") {
      PTREC_TRY_SET(d.iommu_group, Int(v, "iommu_group"));
    } else if (key == "numa_node") {
      PTREC_TRY_SET(d.numa_node, Int(v, "numa_node", -1));
    } else if (key == "irq") {
      PTREC_TRY_SET(d.irq, Int(v, "irq"));
    } else if (key == "msi") {
      PTREC_TRY_SET(d.msi, Bool(v, "msi"));
    } else if (key == "msix") {
      PTREC_TRY_SET(d.msix, Bool(v, "msix"));
    } else if (key == "pcie") {
      PTREC_TRY_SET(d.pcie, Bool(v, "pcie"));
    } else if (key == "net") {
      if (!v.IsMap()) return Bad(v, "net must be a mapping {name, up, mac}");
      for (const auto& f : v) {
        const std::string k = f.first.Scalar();
        if (k == "name") {
          PTREC_TRY_SET(d.net_interface, Str(f.second, "net name"));
        } else if (k == "up") {
          PTREC_TRY_SET(d.net_up, Bool(f.second, "net up"));
        } else if (k == "mac") {
          PTREC_TRY_SET(d.mac, Str(f.second, "mac"));
        } else {
          return Bad(f.first, "unknown net key '" + k + "' (name, up, mac)");
        }
      }
      if (d.net_interface.empty()) return Bad(v, "net needs a name");
    } else if (key == "sriov") {
      if (!v.IsMap())
        return Bad(v, "sriov must be a mapping {total_vfs, vf_device, offset, stride}");
      DeviceSpec::Sriov s;
      for (const auto& f : v) {
        const std::string k = f.first.Scalar();
        if (k == "total_vfs") {
          PTREC_TRY_SET(s.total_vfs, Int(f.second, "total_vfs"));
        } else if (k == "num_vfs") {
          PTREC_TRY_SET(s.num_vfs, Int(f.second, "num_vfs"));
        } else if (k == "vf_device") {
          uint32_t dev = 0;
          PTREC_TRY_SET(dev, Hex(f.second, "vf_device", 0xffff));
          s.vf_device = static_cast<uint16_t>(dev);
        } else if (k == "offset") {
          PTREC_TRY_SET(s.offset, Int(f.second, "offset"));
        } else if (k == "stride") {
          PTREC_TRY_SET(s.stride, Int(f.second, "stride"));
        } else if (k == "drivers_autoprobe") {
          PTREC_TRY_SET(s.drivers_autoprobe, Bool(f.second, "drivers_autoprobe"));
        } else {
          return Bad(f.first, "unknown sriov key '" + k +
                                  "' (total_vfs, num_vfs, vf_device, offset, stride, "
                                  "drivers_autoprobe)");
        }
      }
      d.sriov = s;
    } else if (key == "block") {
      PTREC_TRY_SET(d.block_devices, Strings(v, "block"));
    } else if (key == "partitions") {
      PTREC_TRY_SET(d.partitions, Int(v, "partitions"));
    } else {
      return Bad(kv.first, "unknown device key '" + key +
                               "' (bdf, parent, id, subsystem, class, revision, driver, "
                               "driver_override, iommu_group, numa_node, irq, msi, msix, pcie, "
                               "net, sriov, block, partitions)");
    }
  }
  if (!has_bdf || !has_id || !has_class) return Bad(n, "a device needs bdf, id and class");
  return d;
}

Result<void> Parser::Network(const YAML::Node& n, NetworkSpec& out) const {
  if (!n.IsMap()) return Bad(n, "network must be a mapping {default_route, gateway, addresses}");
  for (const auto& kv : n) {
    const std::string key = kv.first.Scalar();
    if (key == "default_route") {
      PTREC_TRY_SET(out.default_route, Str(kv.second, "default_route"));
    } else if (key == "gateway") {
      PTREC_TRY_SET(out.gateway, Str(kv.second, "gateway"));
    } else if (key == "addresses") {
      if (!kv.second.IsMap()) return Bad(kv.second, "addresses must map interface -> list");
      for (const auto& a : kv.second)
        PTREC_TRY_SET(out.addresses[a.first.Scalar()], Strings(a.second, "addresses"));
    } else {
      return Bad(kv.first, "unknown network key '" + key + "' (default_route, gateway, addresses)");
    }
  }
  return {};
}

Result<DomainSpec> Parser::Domain(const YAML::Node& n) const {
  if (!n.IsMap()) return Bad(n, "a domain is a mapping {name, running, hostdevs}");
  DomainSpec d;
  for (const auto& kv : n) {
    const std::string key = kv.first.Scalar();
    if (key == "name") {
      PTREC_TRY_SET(d.name, Str(kv.second, "name"));
    } else if (key == "running") {
      PTREC_TRY_SET(d.running, Bool(kv.second, "running"));
    } else if (key == "hostdevs") {
      if (!kv.second.IsSequence()) return Bad(kv.second, "hostdevs must be a list of BDFs");
      for (const auto& item : kv.second) {
        Bdf b;
        PTREC_TRY_SET(b, ParseBdf(item, "hostdevs"));
        d.hostdevs.push_back(b);
      }
    } else {
      return Bad(kv.first, "unknown key '" + key + "' in a domain (name, running, hostdevs)");
    }
  }
  if (d.name.empty() || d.name.find('/') != std::string::npos) return Bad(n, "a domain needs a name without '/'");
  return d;
}

Result<MountSpec> Parser::Mount(const YAML::Node& n) const {
  if (!n.IsMap()) return Bad(n, "a mount is a mapping {source, target}");
  MountSpec m;
  for (const auto& kv : n) {
    const std::string key = kv.first.Scalar();
    if (key == "source") {
      PTREC_TRY_SET(m.source, Str(kv.second, "source"));
    } else if (key == "target") {
      PTREC_TRY_SET(m.target, Str(kv.second, "target"));
    } else if (key == "fstype") {
      PTREC_TRY_SET(m.fstype, Str(kv.second, "fstype"));
    } else if (key == "options") {
      PTREC_TRY_SET(m.options, Str(kv.second, "options"));
    } else {
      return Bad(kv.first, "unknown mount key '" + key + "' (source, target, fstype, options)");
    }
  }
  if (m.source.empty() || m.target.empty()) return Bad(n, "a mount needs source and target");
  return m;
}

Result<HostSpec> Parser::Host(const YAML::Node& root) const {
  if (!root.IsMap()) return Bad(root, "a host spec is a mapping");
  HostSpec spec;
  for (const auto& kv : root) {
    const std::string key = kv.first.Scalar();
    const YAML::Node& v = kv.second;
    if (key == "release") {
      PTREC_TRY_SET(spec.release, Str(v, "release"));
    } else if (key == "cmdline") {
      PTREC_TRY_SET(spec.cmdline, Str(v, "cmdline"));
    } else if (key == "iommu") {
      std::string s;
      PTREC_TRY_SET(s, Str(v, "iommu"));
      if (s == "none") {
        spec.iommu = HostSpec::Iommu::kNone;
      } else if (s == "intel") {
        spec.iommu = HostSpec::Iommu::kIntel;
      } else if (s == "amd") {
        spec.iommu = HostSpec::Iommu::kAmd;
      } else {
        return Bad(v, "iommu must be none, intel or amd, not '" + s + "'");
      }
    } else if (key == "iommu_domain_type") {
      PTREC_TRY_SET(spec.iommu_domain_type, Str(v, "iommu_domain_type"));
    } else if (key == "cpus") {
      PTREC_TRY_SET(spec.cpus, Int(v, "cpus", 1));
    } else if (key == "numa_nodes") {
      PTREC_TRY_SET(spec.numa_nodes, Int(v, "numa_nodes", 1));
    } else if (key == "modules") {
      if (!v.IsSequence()) return Bad(v, "modules must be a list");
      for (const auto& item : v) {
        ModuleSpec m;
        PTREC_TRY_SET(m, Module(item));
        spec.modules.push_back(std::move(m));
      }
    } else if (key == "devices") {
      if (!v.IsSequence()) return Bad(v, "devices must be a list");
      for (const auto& item : v) {
        DeviceSpec d;
        PTREC_TRY_SET(d, Device(item));
        spec.devices.push_back(std::move(d));
      }
    } else if (key == "network") {
      if (auto ok = Network(v, spec.network); !ok) return std::unexpected(ok.error());
    } else if (key == "mounts") {
      if (!v.IsSequence()) return Bad(v, "mounts must be a list");
      for (const auto& item : v) {
        MountSpec m;
        PTREC_TRY_SET(m, Mount(item));
        spec.mounts.push_back(std::move(m));
      }
    } else if (key == "domains") {
      if (!v.IsSequence()) return Bad(v, "domains must be a list");
      for (const auto& item : v) {
        DomainSpec d;
        PTREC_TRY_SET(d, Domain(item));
        spec.domains.push_back(std::move(d));
      }
    } else if (key == "sim") {
      PTREC_TRY_SET(spec.sim, ParseSimOptionsNode(v, name_));
    } else if (key == "files") {
      // files: {PATH: TEXT} or {PATH: {content: TEXT, mode: "0755"}}
      if (!v.IsMap()) return Bad(v, "files must be a mapping PATH: TEXT (or PATH: {content, mode})");
      for (const auto& f : v) {
        FileSpec file;
        file.path = f.first.Scalar();
        if (f.second.IsScalar()) {
          file.content = f.second.Scalar();
        } else if (f.second.IsMap()) {
          for (const auto& fk : f.second) {
            const std::string k = fk.first.Scalar();
            if (k == "content") {
              PTREC_TRY_SET(file.content, Str(fk.second, "content"));
            } else if (k == "mode") {
              std::string mode;
              PTREC_TRY_SET(mode, Str(fk.second, "mode"));
              char* end = nullptr;
              unsigned long m = std::strtoul(mode.c_str(), &end, 8);
              if (mode.empty() || *end != '\0' || m > 07777) return Bad(fk.second, "mode is octal text, e.g. \"0755\"");
              file.mode = static_cast<unsigned>(m);
            } else {
              return Bad(fk.first, "unknown file key '" + k + "' (content, mode)");
            }
          }
        } else {
          return Bad(f.second, "file " + file.path + ": give its text, or {content, mode}");
        }
        spec.files.push_back(std::move(file));
      }
    } else {
      return Bad(kv.first, "unknown key '" + key +
                               "' (release, cmdline, iommu, iommu_domain_type, cpus, numa_nodes, "
                               "modules, devices, network, mounts, domains, sim, files)");
    }
  }
  return spec;
}

#undef PTREC_TRY_SET

}  // namespace

Result<HostSpec> ParseHostSpec(const std::string& yaml, const std::string& name) {
  Parser parser(name);
  try {
    YAML::Node root = YAML::Load(yaml);
    return parser.Host(root);
  } catch (const YAML::Exception& e) {
    return Fail(Code::kInvalid,
                name + ":" + std::to_string(e.mark.line + 1) + ":" +
                    std::to_string(e.mark.column + 1) + ": " + e.msg,
                name);
  }
}

Result<HostSpec> LoadHostSpec(const std::string& yaml_path) {
  std::ifstream in(yaml_path);
  if (!in)
    return Fail(Code::kNotFound, "host spec " + yaml_path + ": cannot open", yaml_path, ENOENT);
  std::stringstream text;
  text << in.rdbuf();
  return ParseHostSpec(text.str(), yaml_path);
}

}  // namespace ptrec::sim
