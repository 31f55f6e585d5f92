// The `ptrec` subcommands. main.cc parses the command line into these option structs; each
// Run* function does the work, prints its output, and returns the process exit status.
//
// Exit statuses (like `terraform plan -detailed-exitcode`):
//   0  success; for plan: no changes
//   1  error or refusal (nothing was changed, or a failed apply was rolled back)
//   2  plan only: changes pending
#pragma once

#include <string>

namespace ptrec::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitChanges = 2;

/// Options every host-facing command shares.
struct HostOptions {
  std::string root = "/";   ///< host root: "/" (the live host) or a snapshot/sandbox directory
  bool simulate = false;    ///< writes get the simulated kernel's reactions (sandboxes only)
  bool json = false;        ///< machine-readable output on stdout (format_version 1)
  bool color = false;       ///< ANSI colors in text output
  bool terminal = false;    ///< stdout is a terminal: show progress while applying
  int jobs = 8;             ///< apply: PFs/devices configured at once (1 = sequential)
};

/// `ptrec show`: the host inventory.
int RunShow(const HostOptions& host);

/// `ptrec plan -f FILE [-out PLAN]`.
int RunPlan(const HostOptions& host, const std::string& desired_file, const std::string& out_file);

/// `ptrec apply [-f FILE | PLAN]`: \a plan_file is a file from `plan -out`, or empty.
int RunApply(const HostOptions& host, const std::string& desired_file, const std::string& plan_file,
             bool auto_approve);

/// `ptrec validate -f FILE`: schema checks only, no host.
int RunValidate(const std::string& desired_file, bool json);

/// `ptrec snapshot --out DIR`: copies what discovery reads from the host root to DIR.
int RunSnapshot(const HostOptions& host, const std::string& out_dir);

/// `ptrec sandbox create SPEC DIR`: builds an example host root from a host spec.
int RunSandboxCreate(const std::string& spec_file, const std::string& out_dir);

}  // namespace ptrec::cli
