#include "providers/simkernel/sim_options.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <charconv>
#include <type_traits>
#include <utility>

namespace ptrec::sim {
namespace {

constexpr std::pair<const char*, int> kErrnos[] = {
    {"EPERM", EPERM},         {"ENOENT", ENOENT}, {"EIO", EIO},       {"ENXIO", ENXIO},
    {"EAGAIN", EAGAIN},       {"ENOMEM", ENOMEM}, {"EACCES", EACCES}, {"EBUSY", EBUSY},
    {"EEXIST", EEXIST},       {"ENODEV", ENODEV}, {"EINVAL", EINVAL}, {"ENOSPC", ENOSPC},
    {"EROFS", EROFS},         {"ERANGE", ERANGE}, {"ENOSYS", ENOSYS}, {"EOPNOTSUPP", EOPNOTSUPP},
    {"ETIMEDOUT", ETIMEDOUT}, {"EINTR", EINTR},   {"E2BIG", E2BIG},   {"ENOTSUP", ENOTSUP},
};

std::string Where(const std::string& name, const YAML::Mark& mark) {
  return name + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

std::unexpected<Error> Bad(const std::string& name, const YAML::Node& node,
                           const std::string& msg) {
  return Fail(Code::kInvalid, Where(name, node.Mark()) + ": " + msg, name);
}

Result<int> Int(const std::string& name, const YAML::Node& node, const char* what) {
  if (!node.IsScalar()) return Bad(name, node, std::string(what) + " must be a number");
  const std::string& s = node.Scalar();
  int value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || value < 0)
    return Bad(name, node, std::string(what) + " must be a non-negative integer, not '" + s + "'");
  return value;
}

}  // namespace

int ErrnoFromName(const std::string& name) {
  for (const auto& [text, value] : kErrnos)
    if (name == text) return value;
  return 0;
}

std::string ErrnoName(int err) {
  for (const auto& [text, value] : kErrnos)
    if (value == err) return text;
  return std::to_string(err);
}

Result<SimOptions> ParseSimOptions(const std::string& yaml, const std::string& name) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    return Fail(Code::kInvalid, Where(name, e.mark) + ": " + e.msg, name);
  }
  return ParseSimOptionsNode(root, name);
}

Result<SimOptions> ParseSimOptionsNode(const YAML::Node& root, const std::string& name) {
  SimOptions out;
  if (!root.IsDefined() || root.IsNull()) return out;
  if (!root.IsMap()) return Bad(name, root, "expected a mapping");
  try {
    for (const auto& kv : root) {
      const std::string key = kv.first.as<std::string>();
      const YAML::Node& value = kv.second;
      if (key == "faults") {
        if (!value.IsSequence()) return Bad(name, value, "faults must be a list");
        for (const auto& item : value) {
          if (!item.IsMap()) return Bad(name, item, "a fault is a mapping {match, errno}");
          FaultSpec fault;
          for (const auto& f : item) {
            const std::string k = f.first.as<std::string>();
            if (k == "match") {
              fault.match = f.second.as<std::string>();
            } else if (k == "errno") {
              std::string text = f.second.as<std::string>();
              fault.err = ErrnoFromName(text);
              if (fault.err == 0) {
                auto number = Int(name, f.second, "errno");
                if (!number || *number == 0)
                  return Bad(name, f.second, "unknown errno '" + text + "'");
                fault.err = *number;
              }
            } else if (k == "after") {
              auto n = Int(name, f.second, "after");
              if (!n) return std::unexpected(n.error());
              fault.after_n_ok = *n;
            } else if (k == "times") {
              auto n = Int(name, f.second, "times");
              if (!n) return std::unexpected(n.error());
              fault.times = *n;
            } else {
              return Bad(name, f.first,
                         "unknown fault key '" + k + "' (match, errno, after, times)");
            }
          }
          if (fault.match.empty() || fault.err == 0)
            return Bad(name, item, "a fault needs both match and errno");
          out.faults.push_back(std::move(fault));
        }
      } else if (key == "latency_ms") {
        if (!value.IsMap())
          return Bad(name, value, "latency_ms must be a mapping {vf_create, bind}");
        for (const auto& f : value) {
          const std::string k = f.first.as<std::string>();
          auto n = Int(name, f.second, k.c_str());
          if (!n) return std::unexpected(n.error());
          if (k == "vf_create") {
            out.vf_create_latency_ms = *n;
          } else if (k == "bind") {
            out.bind_latency_ms = *n;
          } else {
            return Bad(name, f.first, "unknown latency '" + k + "' (vf_create, bind)");
          }
        }
      } else if (key == "drivers_without_sriov_configure") {
        if (!value.IsSequence()) return Bad(name, value, key + " must be a list of driver names");
        for (const auto& d : value)
          out.drivers_without_sriov_configure.push_back(d.as<std::string>());
      } else if (key == "drivers_leaving_sriov_enabled") {
        if (!value.IsSequence()) return Bad(name, value, key + " must be a list of driver names");
        for (const auto& d : value)
          out.drivers_leaving_sriov_enabled.push_back(d.as<std::string>());
      } else if (key == "user_owned_iommu_groups") {
        if (!value.IsSequence()) return Bad(name, value, key + " must be a list of group numbers");
        for (const auto& g : value) {
          auto n = Int(name, g, "an IOMMU group");
          if (!n) return std::unexpected(n.error());
          out.user_owned_iommu_groups.push_back(*n);
        }
      } else {
        return Bad(name, kv.first,
                   "unknown key '" + key +
                       "' (faults, latency_ms, drivers_without_sriov_configure, "
                       "drivers_leaving_sriov_enabled, user_owned_iommu_groups)");
      }
    }
  } catch (const YAML::Exception& e) {
    // A value of the wrong shape (a list where a name belongs): as<> throws with its mark.
    return Fail(Code::kInvalid, Where(name, e.mark) + ": " + e.msg, name);
  }
  return out;
}

std::string SimOptionsToYaml(const SimOptions& options) {
  std::string out = "# Settings of ptrec's simulated kernel (providers/simkernel/sim_options.h).\n";
  if (!options.faults.empty()) {
    out += "faults:\n";
    for (const auto& f : options.faults) {
      out += "  - {match: \"" + f.match + "\", errno: " + ErrnoName(f.err);
      if (f.after_n_ok) out += ", after: " + std::to_string(f.after_n_ok);
      if (f.times >= 0) out += ", times: " + std::to_string(f.times);
      out += "}\n";
    }
  }
  if (options.vf_create_latency_ms || options.bind_latency_ms) {
    out += "latency_ms: {vf_create: " + std::to_string(options.vf_create_latency_ms) +
           ", bind: " + std::to_string(options.bind_latency_ms) + "}\n";
  }
  auto list = [&](const char* key, const auto& items) {
    out += std::string(key) + ": [";
    for (size_t i = 0; i < items.size(); ++i) {
      if (i) out += ", ";
      if constexpr (std::is_same_v<std::decay_t<decltype(items[i])>, int>)
        out += std::to_string(items[i]);
      else
        out += items[i];
    }
    out += "]\n";
  };
  list("drivers_without_sriov_configure", options.drivers_without_sriov_configure);
  if (!options.drivers_leaving_sriov_enabled.empty())
    list("drivers_leaving_sriov_enabled", options.drivers_leaving_sriov_enabled);
  if (!options.user_owned_iommu_groups.empty())
    list("user_owned_iommu_groups", options.user_owned_iommu_groups);
  return out;
}

}  // namespace ptrec::sim
