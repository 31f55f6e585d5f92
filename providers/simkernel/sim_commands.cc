#include "providers/simkernel/sim_commands.h"

#include <map>

namespace ptrec::sim {

Result<CommandResult> SimCommandRunner::Run(const std::vector<std::string>& argv, int /*timeout_ms*/) {
  commands_.push_back(argv);
  if (argv.size() == 3 && argv[0] == "modprobe" && argv[1] == "-r") {
    auto unloaded = kernel_.UnloadModule(argv[2]);
    if (!unloaded) return CommandResult{1, unloaded.error().message + "\n"};
  } else if (argv.size() >= 2 && argv[0] == "modprobe" && !argv[1].starts_with("-")) {
    // modprobe MODULE [PARAM=VALUE...]: the words after the module are its parameters.
    std::map<std::string, std::string> params;
    for (size_t i = 2; i < argv.size(); ++i) {
      size_t eq = argv[i].find('=');
      params[argv[i].substr(0, eq)] = eq == std::string::npos ? "1" : argv[i].substr(eq + 1);
    }
    auto loaded = kernel_.LoadModule(argv[1], params);
    if (!loaded) return CommandResult{1, loaded.error().message + "\n"};
  }
  return CommandResult{0, {}};
}

}  // namespace ptrec::sim
