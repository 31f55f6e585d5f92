#include "providers/modules/module_provider.h"

#include "providers/host/sysfs_paths.h"

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

}  // namespace ptrec::modules
