// Loads kernel modules that a plan needs (vfio-pci, pci-stub) with modprobe(8).
#pragma once

#include "providers/host/command_runner.h"
#include "providers/host/host_fs.h"
#include "reconciler/provider.h"

namespace ptrec::modules {

/// Carries out kLoadModule: runs `modprobe MODULE` through a CommandRunner, then verifies that
/// sys/module/MODULE exists. Undo is empty: a loaded, unused module is left loaded.
/// Carries out kReloadModule: notes the devices bound to the module's PCI drivers and the
/// running parameters, runs action.argvs (`modprobe -r MODULE`, `modprobe MODULE P=V...`),
/// then verifies that every wanted parameter reads back (SameParameterValue) and that every
/// noted device is bound to its driver again (the driver core probes unbound devices when the
/// driver registers, honouring driver_override). Undo: the same reload with the old values.
class ModuleProvider : public Provider {
 public:
  /// \a runner is a SpawnRunner only on the live host; sandboxes pass a runner that runs nothing
  /// on this machine. Neither argument is owned.
  ModuleProvider(const HostFs& fs, CommandRunner& runner) : fs_(fs), runner_(runner) {}

  std::string_view name() const override { return "modules"; }
  bool Handles(ActionKind kind) const override {
    return kind == ActionKind::kLoadModule || kind == ActionKind::kReloadModule;
  }
  /// Errors: kIo with modprobe's output when it exits non-zero; kTimeout after 60 s;
  /// kVerifyFailed when the module does not show up in sys/module.
  Result<std::vector<Action>> Apply(const Action& action) override;

 private:
  Result<std::vector<Action>> Reload(const Action& action);

  const HostFs& fs_;
  CommandRunner& runner_;
};

/// What `modules:` entries need now: kLoadModule actions for `load: true` modules not loaded,
/// and for a loaded module whose running parameters (host.module_params, from
/// sys/module/NAME/parameters/PARAM) differ from the wanted ones, either
///   - a kReloadModule action (phase modules, after modprobe.d is written; every device its
///     PCI drivers hold is listed in `disrupts`), when the module is loadable, nothing holds
///     it (sys/module/NAME/refcnt 0, no holders/) and either no device is bound to its drivers
///     or the entry says allowReload: true; or
///   - a pending-reboot note ("at next boot"): built-in modules, modules in use (refcnt,
///     holders: `modprobe -r` would fail), and modules driving devices without allowReload
///     (a finding says so when allowReload was asked for and cannot be honoured).
struct ModulesDiff {
  std::vector<Action> actions;
  std::vector<std::string> pending_reboot;
  std::vector<Finding> findings;
};

/// The PCI drivers a loaded module registers (sys/module/NAME/drivers/pci:DRIVER), sorted.
std::vector<std::string> ModulePciDrivers(const HostFs& fs, const std::string& module);
ModulesDiff DiffModules(const std::vector<ModuleConfigSpec>& modules, const HostFs& fs, const HostState& host);

}  // namespace ptrec::modules
