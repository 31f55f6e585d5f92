// Commands on a simulated host: what `apply --simulate` runs instead of real processes.
#pragma once

#include "providers/host/command_runner.h"
#include "providers/simkernel/sim_kernel.h"

namespace ptrec::sim {

/// A CommandRunner for --simulate: `modprobe MODULE [P=V...]` and `modprobe -r MODULE` act on
/// the simulated kernel (SimKernelFs::LoadModule, UnloadModule); every other command is
/// recorded and answers exit 0, never run.
class SimCommandRunner : public CommandRunner {
 public:
  explicit SimCommandRunner(SimKernelFs& kernel) : kernel_(kernel) {}
  /// modprobe errors come back as exit 1 with modprobe's message, as the real tool reports them.
  Result<CommandResult> Run(const std::vector<std::string>& argv, int timeout_ms) override;
  /// Every command asked for, in order.
  const std::vector<std::vector<std::string>>& commands() const { return commands_; }

 private:
  SimKernelFs& kernel_;
  std::vector<std::vector<std::string>> commands_;
};

}  // namespace ptrec::sim
