// Loads kernel modules that a plan needs (vfio-pci, pci-stub) with modprobe(8).
#pragma once

#include "providers/host/command_runner.h"
#include "providers/host/host_fs.h"
#include "reconciler/provider.h"

namespace ptrec::modules {

/// Carries out kLoadModule: runs `modprobe MODULE` through a CommandRunner, then verifies that
/// sys/module/MODULE exists. Undo is empty: a loaded, unused module is left loaded.
class ModuleProvider : public Provider {
 public:
  /// \a runner is a SpawnRunner only on the live host; sandboxes pass a runner that runs nothing
  /// on this machine. Neither argument is owned.
  ModuleProvider(const HostFs& fs, CommandRunner& runner) : fs_(fs), runner_(runner) {}

  std::string_view name() const override { return "modules"; }
  bool Handles(ActionKind kind) const override { return kind == ActionKind::kLoadModule; }
  /// Errors: kIo with modprobe's output when it exits non-zero; kTimeout after 60 s;
  /// kVerifyFailed when the module does not show up in sys/module.
  Result<std::vector<Action>> Apply(const Action& action) override;

 private:
  const HostFs& fs_;
  CommandRunner& runner_;
};

/// What `modules:` entries need now: kLoadModule actions for `load: true` modules not loaded,
/// and a pending-reboot note for each parameter whose running value
/// (sys/module/NAME/parameters/PARAM) differs from the wanted one: modprobe.d options only
/// take effect when the module next loads.
struct ModulesDiff {
  std::vector<Action> actions;
  std::vector<std::string> pending_reboot;
};
ModulesDiff DiffModules(const std::vector<ModuleConfigSpec>& modules, const HostFs& fs, const HostState& host);

}  // namespace ptrec::modules
