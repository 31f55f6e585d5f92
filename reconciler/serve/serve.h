// `ptrec serve`: runs the node agent (agent.h) and its HTTP API (http.h) until SIGTERM/SIGINT.
// SIGHUP reads the token file again and reconciles at once.
#pragma once

#include "reconciler/serve/agent.h"

namespace ptrec::serve {

/// Validates \a options, binds, starts the reconcile loop and serves; logs to stderr with spdlog
/// (logfmt fields, no secrets). Returns the exit status: 0 after SIGTERM/SIGINT, 1 when the
/// options are wrong or the address cannot be bound.
int RunServe(const ServeOptions& options);

/// Checks option combinations before anything starts: one of --config / --source; a token
/// file for --allow-apply; --simulate on a sandbox root when applies are possible.
/// Errors: kInvalid / kRefused with what to change.
Result<void> CheckServeOptions(const ServeOptions& options);

}  // namespace ptrec::serve
