// The `ptrec` subcommands. main.cc parses the command line into these option structs; each
// Run* function does the work, prints its output, and returns the process exit status.
//
// Exit statuses (like `terraform plan -detailed-exitcode`):
//   0  success; for plan: no changes
//   1  error or refusal (nothing was changed, or a failed apply was rolled back)
//   2  plan only: changes pending
#pragma once

#include <string>

#include "reconciler/executor.h"
#include "reconciler/model.h"

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

// Building blocks for `ptrec serve` (reconciler/serve/): the same discovery, plan and apply
// as the commands above, returning values instead of printing.

/// A host as discovered (with the facts `show` displays) and the plan that takes it to a
/// desired state (the one `ptrec plan` prints for it).
struct HostPlan {
  HostState state;
  Plan plan;
};

/// Discovers the host at \a host.root (read only) and plans \a desired against it, as `ptrec
/// plan` does. \a desired.text should hold the document (it goes into the boot-time copy).
/// Errors: as `ptrec plan` (kNotFound: not a host root; kRefused: --simulate on the live host).
Result<HostPlan> DiscoverAndPlan(const HostOptions& host, DesiredState desired);

/// What ApplyDesired planned and what applying it did.
struct AppliedPlan {
  Plan plan;
  ApplyResult result;  ///< ok with no steps when the plan was empty; error kRefused when refused
};

/// `ptrec apply -f FILE --auto-approve`, without output: takes the apply lock without waiting,
/// discovers, plans \a desired and applies the plan unless it is refused. With
/// \a expected_fingerprint not empty the host must still have that fingerprint.
/// Errors (nothing changed): kBusy when another apply holds the lock; kStale when the
/// fingerprint differs; kRefused for a sandbox root without --simulate; discovery errors.
/// A failed (rolled back) apply is not an error: see AppliedPlan::result.
Result<AppliedPlan> ApplyDesired(const HostOptions& host, const DesiredState& desired,
                                 const std::string& expected_fingerprint);

}  // namespace ptrec::cli
