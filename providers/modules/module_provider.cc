#include "providers/modules/module_provider.h"

#include "providers/host/sysfs_paths.h"
#include "providers/modules/modprobe_conf.h"

namespace ptrec::modules {

Result<std::vector<Action>> ModuleProvider::Apply(const Action& action) {
  const std::string module_dir = paths::Modules() + "/" + action.module;
  if (fs_.Exists(module_dir)) return std::vector<Action>{};
  std::vector<std::string> argv = {"modprobe", action.module};
  auto ran = runner_.Run(argv, 60'000);
  if (!ran) return std::unexpected(ran.error());
  if (ran->exit_code != 0)
    return Fail(Code::kIo, JoinArgv(argv) + " exited " + std::to_string(ran->exit_code) + ": " +
                               std::string(TrimRight(ran->output)));
  if (!fs_.Exists(module_dir))
    return Fail(Code::kVerifyFailed, JoinArgv(argv) + " succeeded but " + module_dir + " does not exist", module_dir);
  return std::vector<Action>{};
}

ModulesDiff DiffModules(const std::vector<ModuleConfigSpec>& modules, const HostFs& fs, const HostState& host) {
  ModulesDiff diff;
  for (const auto& m : modules) {
    const bool loaded = host.loaded_modules.count(m.name) > 0;
    if (m.load == ModuleLoad::kLoaded && !loaded) {
      Action a;
      a.kind = ActionKind::kLoadModule;
      a.phase = Phase::kModules;
      a.module = m.name;
      a.before = "not loaded";
      a.after = "loaded";
      a.reason = "modules entry " + m.name + " (" + m.pos.str() + ") wants it loaded";
      diff.actions.push_back(std::move(a));
    }
    if (!loaded) continue;  // options apply when it loads
    for (const auto& [param, value] : m.parameters) {
      // Parameters with mode 0 (igb's max_vfs) have no file: their running value is unknown,
      // and "pending" could never clear, so say nothing.
      auto running = fs.ReadAttribute(paths::ModuleParam(m.name, param));
      if (!running) continue;
      std::string now(TrimRight(*running));
      if (SameParameterValue(value, now)) continue;
      diff.pending_reboot.push_back("module " + m.name + " option " + param + "=" + value +
                                    " is configured for its next load; running: " + now +
                                    " (reboot, or reload " + m.name + ", which disrupts every device it drives)");
    }
  }
  return diff;
}

}  // namespace ptrec::modules
