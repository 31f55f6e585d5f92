// Running host commands (modprobe, update-grub, ...): always with an argv, never a shell.
#pragma once

#include <string>
#include <vector>

#include "reconciler/error.h"

namespace ptrec {

/// What a finished command did.
struct CommandResult {
  int exit_code = 0;   ///< exit status, or 128 + signal number when killed by a signal
  std::string output;  ///< stdout and stderr together, as the command wrote them
};

/// Runs commands. Abstract so that sandboxes and tests never run anything on the machine.
class CommandRunner {
 public:
  virtual ~CommandRunner() = default;
  /// Runs \a argv (argv[0] looked up in PATH) with no shell, stdin from /dev/null, and waits at
  /// most \a timeout_ms milliseconds (then SIGKILL). A non-zero exit is a CommandResult, not an
  /// error. Errors: kNotFound when argv[0] cannot be run, kTimeout, kIo.
  virtual Result<CommandResult> Run(const std::vector<std::string>& argv, int timeout_ms) = 0;
};

/// Spawns real processes with posix_spawnp. For the live host only.
class SpawnRunner : public CommandRunner {
 public:
  Result<CommandResult> Run(const std::vector<std::string>& argv, int timeout_ms) override;
};

/// Runs nothing: records each argv and answers exit 0. For sandboxes (a host root other than
/// "/"), where a command such as modprobe would act on this machine instead of the root.
class RecordingRunner : public CommandRunner {
 public:
  Result<CommandResult> Run(const std::vector<std::string>& argv, int timeout_ms) override;
  const std::vector<std::vector<std::string>>& commands() const { return commands_; }

 private:
  std::vector<std::vector<std::string>> commands_;
};

/// "modprobe vfio_pci" — argv joined with spaces, for messages only (never executed).
std::string JoinArgv(const std::vector<std::string>& argv);

}  // namespace ptrec
