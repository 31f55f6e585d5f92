#include "providers/simkernel/sim_commands.h"

namespace ptrec::sim {

Result<CommandResult> SimCommandRunner::Run(const std::vector<std::string>& argv, int /*timeout_ms*/) {
  commands_.push_back(argv);
  if (argv.size() == 2 && argv[0] == "modprobe") {
    auto loaded = kernel_.LoadModule(argv[1]);
    if (!loaded) return CommandResult{1, loaded.error().message + "\n"};
  }
  return CommandResult{0, {}};
}

}  // namespace ptrec::sim
