// Runs the built `ptrec` binary for end-to-end CLI tests (argv, no shell).
#pragma once

#include <string>
#include <vector>

namespace ptrec::testing {

/// What one run of ptrec did.
struct Run {
  int exit_code = -1;
  std::string out;  ///< stdout
  std::string err;  ///< stderr
};

/// Runs PTREC_BINARY with \a args; \a stdin_text is fed to its standard input.
Run RunPtrec(const std::vector<std::string>& args, const std::string& stdin_text = "");

/// Path of a file in the source tree: SourcePath("examples/82576-vfs.yaml").
std::string SourcePath(const std::string& rel);

}  // namespace ptrec::testing
