#include "providers/modules/module_provider.h"

#include <algorithm>
#include <map>

#include "providers/host/sysfs_paths.h"
#include "providers/modules/modprobe_conf.h"
#include "providers/pci/discovery.h"
#include "providers/persist/persist.h"

namespace ptrec::modules {

namespace {

// "P=V" words for modprobe's command line, which come after (and so win over) modprobe.d.
std::vector<std::string> ParamWords(const std::map<std::string, std::string>& params) {
  std::vector<std::string> out;
  for (const auto& [p, v] : params) out.push_back(p + "=" + v);
  return out;
}

std::string JoinParams(const std::map<std::string, std::string>& params) {
  std::string out;
  for (const auto& w : ParamWords(params)) out += (out.empty() ? "" : " ") + w;
  return out;
}

// BDFs bound to \a driver (the BDF links in sys/bus/pci/drivers/DRIVER).
std::vector<Bdf> BoundTo(const HostFs& fs, const std::string& driver) {
  std::vector<Bdf> out;
  for (const auto& name : fs.ListDir(paths::PciDriver(driver)).value_or(std::vector<std::string>{}))
    if (auto bdf = Bdf::Parse(name)) out.push_back(*bdf);
  return out;
}

}  // namespace

std::vector<std::string> ModulePciDrivers(const HostFs& fs, const std::string& module) {
  std::vector<std::string> out;
  for (const auto& name : fs.ListDir(paths::Modules() + "/" + module + "/drivers").value_or(std::vector<std::string>{}))
    if (name.starts_with("pci:")) out.push_back(name.substr(4));
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<Action>> ModuleProvider::Reload(const Action& action) {
  // The wanted parameters are the P=V words of the last command (modprobe MODULE P=V...).
  std::map<std::string, std::string> want, old;
  if (!action.argvs.empty())
    for (size_t i = 2; i < action.argvs.back().size(); ++i) {
      const std::string& w = action.argvs.back()[i];
      size_t eq = w.find('=');
      if (eq != std::string::npos) want[w.substr(0, eq)] = w.substr(eq + 1);
    }
  for (const auto& [p, v] : want)
    if (auto now = fs_.ReadAttribute(paths::ModuleParam(action.module, p)))
      old[p] = std::string(TrimRight(*now));
  std::vector<std::pair<Bdf, std::string>> bound;
  for (const auto& driver : ModulePciDrivers(fs_, action.module))
    for (Bdf bdf : BoundTo(fs_, driver)) bound.emplace_back(bdf, driver);

  Action undo = action;
  undo.reason = "rollback of the reload of " + action.module;
  undo.before = action.after;
  undo.after = action.before;
  undo.argvs = {{"modprobe", "-r", action.module}, {"modprobe", action.module}};
  for (auto& w : ParamWords(old)) undo.argvs.back().push_back(w);
  undo.commands.clear();
  for (const auto& argv : undo.argvs) undo.commands.push_back(JoinArgv(argv));

  if (auto ran = persist::RunCommands(runner_, action.argvs); !ran) return std::unexpected(ran.error());
  for (const auto& [p, v] : want) {
    auto now = fs_.ReadAttribute(paths::ModuleParam(action.module, p));
    if (!now) continue;  // not shown in sysfs (mode 0): nothing to compare
    if (!SameParameterValue(v, TrimRight(*now)))
      return Fail(Code::kVerifyFailed, "module " + action.module + " reloaded but " + p + " reads " +
                                           std::string(TrimRight(*now)) + ", not " + v,
                  paths::ModuleParam(action.module, p));
  }
  std::string lost;
  for (const auto& [bdf, driver] : bound) {
    auto now = pci::ReadDriver(fs_, bdf);
    if (!now || *now != driver) lost += (lost.empty() ? "" : ", ") + bdf.str() + " (" + driver + " -> " + (now && !now->empty() ? *now : "none") + ")";
  }
  if (!lost.empty())
    return Fail(Code::kVerifyFailed, "module " + action.module + " reloaded, but these devices did not come back to it: " + lost);
  return std::vector<Action>{undo};
}

Result<std::vector<Action>> ModuleProvider::Apply(const Action& action) {
  if (action.kind == ActionKind::kReloadModule) return Reload(action);
  const std::string module_dir = paths::Modules() + "/" + action.module;
  if (fs_.Exists(module_dir)) return std::vector<Action>{};
  std::vector<std::string> argv = {"modprobe", action.module};
  if (auto ran = persist::RunCommands(runner_, {argv}); !ran) return std::unexpected(ran.error());
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
    std::map<std::string, std::string> differ, running_now;
    for (const auto& [param, value] : m.parameters) {
      // Parameters with mode 0 (igb's max_vfs) have no file: their running value is unknown,
      // and "pending" could never clear, so say nothing.
      auto mod = host.module_params.find(m.name);
      if (mod == host.module_params.end()) continue;
      auto running = mod->second.find(param);
      if (running == mod->second.end()) continue;
      const std::string& now = running->second;
      if (SameParameterValue(value, now)) continue;
      differ[param] = value;
      running_now[param] = now;
    }
    if (differ.empty()) continue;

    // Can it be reloaded now? kernel/module/main.c delete_module: -EWOULDBLOCK with holders
    // (modules using its symbols), -EBUSY with refcnt > 0 (open device files: a VM's
    // /dev/vfio/N takes vfio-pci's); built-in modules (no initstate) cannot be removed at all.
    const std::string dir = paths::Modules() + "/" + m.name;
    std::string blocked;
    if (!fs.Exists(dir + "/initstate")) blocked = "it is built into the kernel";
    auto holders = fs.ListDir(dir + "/holders").value_or(std::vector<std::string>{});
    if (blocked.empty() && !holders.empty()) {
      std::string list;
      for (const auto& h : holders) list += (list.empty() ? "" : ", ") + h;
      blocked = "modules " + list + " use it";
    }
    if (blocked.empty())
      if (auto refcnt = fs.ReadAttribute(dir + "/refcnt"); refcnt && std::string(TrimRight(*refcnt)) != "0")
        blocked = "it is in use (refcnt " + std::string(TrimRight(*refcnt)) + ": open device files, e.g. a VM)";
    std::vector<std::string> disrupts;
    for (const auto& driver : ModulePciDrivers(fs, m.name))
      for (const auto& d : host.devices) {
        if (d.driver != driver) continue;
        std::string what = d.bdf.str() + " leaves " + driver + " while " + m.name + " reloads";
        if (!d.net_interfaces.empty()) {
          std::string ifs;
          for (const auto& n : d.net_interfaces) ifs += (ifs.empty() ? "" : ", ") + n;
          what += " (interface " + ifs + " goes away and comes back down)";
        }
        disrupts.push_back(std::move(what));
      }
    const std::string change = JoinParams(differ);
    if (blocked.empty() && (disrupts.empty() || m.allow_reload)) {
      Action a;
      a.kind = ActionKind::kReloadModule;
      a.phase = Phase::kModules;
      a.module = m.name;
      a.before = JoinParams(running_now);
      a.after = change;
      a.disrupts = std::move(disrupts);
      a.argvs = {{"modprobe", "-r", m.name}, {"modprobe", m.name}};
      for (auto& w : ParamWords(differ)) a.argvs.back().push_back(w);
      for (const auto& argv : a.argvs) a.commands.push_back(JoinArgv(argv));
      a.reason = "modules entry " + m.name + " (" + m.pos.str() + ") sets " + change +
                 (a.disrupts.empty() ? "; no device uses the module, so it is reloaded now"
                                     : "; allowReload: true, so it is reloaded now");
      diff.actions.push_back(std::move(a));
      continue;
    }
    std::string why = !blocked.empty() ? blocked
                                       : std::to_string(disrupts.size()) + " device(s) use it and allowReload is not set";
    diff.pending_reboot.push_back("module " + m.name + " " + change + " at next boot (configured in modprobe.d; running: " +
                                  JoinParams(running_now) + "): not reloaded now because " + why);
    if (m.allow_reload && !blocked.empty())
      diff.findings.push_back({Finding::Severity::kWarning, "modules " + m.name,
                               "allowReload is set but " + m.name + " cannot be reloaded now: " + blocked,
                               "stop what uses it, or reboot", m.pos});
  }
  return diff;
}

}  // namespace ptrec::modules
