// The node agent's HTTP API over cpp-httplib (Debian libcpp-httplib-dev 0.11, built with
// OpenSSL): routes, bearer-token auth for POST /v1/apply, TLS, and request bounds.
//
//   GET  /healthz     200 {"status":"ok"} while the process serves
//   GET  /readyz      200 once the first reconcile produced a plan, else 503
//   GET  /metrics     Prometheus text (format 0.0.4), rendered at each reconcile
//   GET  /v1/state    the host as `ptrec show --json`           (503 before ready)
//   GET  /v1/plan     the current plan as `ptrec plan --json`   (503 before ready)
//   GET  /v1/status   reconcile, desired-state and source status (JSON)
//   POST /v1/apply    with --allow-apply and `Authorization: Bearer TOKEN`: applies the plan;
//                     ?fingerprint=F refuses (409) unless the host still has fingerprint F.
//                     200 applied, 401 no/wrong token, 403 not enabled, 409 another apply runs
//                     or stale fingerprint, 422 refused plan, 500 failed (rolled back), 503 not
//                     ready.
// HEAD is answered like GET. Unknown paths: 404; a known path with another method: 405 with
// Allow. Errors are JSON {"format_version":1,"kind":"error","error":{"code","message"}}.
// Bounds: request body 64 KiB (413), 100 header fields / 32 KiB of headers (431), each header
// line and the URI 8 KiB (the library's compiled limits), read/write timeouts 10 s, idle
// keep-alive 5 s.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "reconciler/error.h"
#include "reconciler/serve/agent.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}

namespace ptrec::serve {

/// host and port from --listen: "127.0.0.1:9464", "[::1]:9464", "localhost:0" (0: any free
/// port), ":9464" (every address). Errors: kInvalid naming the text.
Result<std::pair<std::string, int>> ParseListen(const std::string& text);

/// True when \a a and \a b are equal, taking the same time for every \a a of a given length
/// whatever its bytes (no early exit), for secrets.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

/// The HTTP server of one Agent.
class HttpServer {
 public:
  /// Sets up routes; reads the token file when apply is allowed and TLS files when given.
  /// Errors: kInvalid/kIo/kPermission for an unreadable or empty token file, or TLS files
  /// that do not load.
  static Result<std::unique_ptr<HttpServer>> Make(Agent& agent);
  ~HttpServer();

  /// Binds --listen's address; returns the port bound (useful with port 0).
  /// Errors: kIo when the address cannot be bound.
  Result<int> Bind();
  /// Serves until Stop() (blocks the calling thread).
  void Run();
  /// Stops Run(): closes the listening socket and waits for no request.
  void Stop();
  /// Reads the token file again (SIGHUP); on error keeps the old token and returns the error.
  Result<void> ReloadToken();

 private:
  explicit HttpServer(Agent& agent);
  void Routes();
  /// Every method but GET/HEAD: POST /v1/apply, else 405 on a known path, 404 elsewhere.
  void OtherMethods(const httplib::Request& req, httplib::Response& res);
  void ApplyHandler(const httplib::Request& req, httplib::Response& res);

  Agent& agent_;
  std::unique_ptr<httplib::Server> server_;
  mutable std::mutex token_mu_;
  std::string token_;
};

}  // namespace ptrec::serve
