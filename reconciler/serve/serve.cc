#include "reconciler/serve/serve.h"

#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <thread>

#include "providers/host/host_fs.h"
#include "reconciler/serve/http.h"
#include "reconciler/serve/metrics.h"
#include "reconciler/serve/source.h"

namespace ptrec::serve {

Result<void> CheckServeOptions(const ServeOptions& o) {
  if (o.config_file.empty() == o.source_url.empty())
    return Fail(Code::kInvalid, "give the desired state with exactly one of --config FILE or --source URL");
  if (!o.source_url.empty()) {
    if (auto f = SourceFetcher::Make(o.source_url, o.source_ca_file, o.source_timeout); !f) return std::unexpected(f.error());
  }
  if (o.allow_apply && o.token_file.empty())
    return Fail(Code::kInvalid, "--allow-apply needs --token-file FILE holding the bearer token");
  if (o.interval < std::chrono::milliseconds(100)) return Fail(Code::kInvalid, "--interval must be at least 100ms");
  if ((o.auto_apply || o.allow_apply) && !o.host.simulate && !IsLiveSysfs(o.host.root))
    return Fail(Code::kRefused, o.host.root + " is not a live host (its sys/ is not sysfs), so no kernel would answer "
                                "applies; add --simulate to rehearse on it, or leave out --auto-apply/--allow-apply");
  if (o.host.simulate && IsLiveSysfs(o.host.root))
    return Fail(Code::kRefused, "--simulate needs a host root that is a snapshot or a sandbox; " + o.host.root +
                                    " is the live kernel's sysfs");
  return {};
}

int RunServe(const ServeOptions& options) {
  auto logger = spdlog::stderr_logger_mt("ptrec");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z level=%l %v");
  spdlog::set_default_logger(logger);

  if (auto ok = CheckServeOptions(options); !ok) {
    spdlog::error("msg=\"{}\"", EscapeLabelValue(ok.error().message));
    return 1;
  }
  // Few malloc arenas: the agent is mostly idle, and each arena keeps freed memory resident.
  ::mallopt(M_ARENA_MAX, 2);

  // Signals go to one thread (sigwait); every thread started below inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  Agent agent(options);
  auto http = HttpServer::Make(agent);
  if (!http) {
    spdlog::error("msg=\"{}\"", EscapeLabelValue(http.error().message));
    return 1;
  }
  auto port = (*http)->Bind();
  if (!port) {
    spdlog::error("msg=\"{}\"", EscapeLabelValue(port.error().message));
    return 1;
  }
  auto listen = ParseListen(options.listen);
  spdlog::info("msg=\"listening\" address={} port={} tls={} apply_endpoint={} auto_apply={} root={} desired=\"{}\" interval_ms={}",
               listen->first, *port, !options.tls_cert.empty(), options.allow_apply, options.auto_apply, options.host.root,
               options.config_file.empty() ? RedactUrl(options.source_url) : options.config_file, options.interval.count());
  if (options.allow_apply && options.tls_cert.empty() && listen->first != "127.0.0.1" && listen->first != "::1" &&
      listen->first != "localhost")
    spdlog::warn("msg=\"the apply endpoint listens beyond loopback without TLS: the bearer token crosses the network in clear\"");

  agent.Start();
  std::atomic<bool> stopping = false;
  std::thread signal_thread([&] {
    for (;;) {
      int sig = 0;
      if (sigwait(&signals, &sig) != 0) continue;
      if (sig == SIGHUP) {
        spdlog::info("msg=\"SIGHUP: reloading the token and reconciling\"");
        if (auto r = (*http)->ReloadToken(); !r)
          spdlog::error("msg=\"token not reloaded, the old one stays: {}\"", EscapeLabelValue(r.error().message));
        agent.Trigger("SIGHUP");
        continue;
      }
      stopping = true;
      spdlog::info("msg=\"stopping\" signal={}", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      (*http)->Stop();
      return;
    }
  });
  (*http)->Run();
  int status = 0;
  if (!stopping) {  // the server ended on its own: wake the signal thread so it ends too
    spdlog::error("msg=\"the HTTP server stopped unexpectedly\"");
    status = 1;
    pthread_kill(signal_thread.native_handle(), SIGTERM);
  }
  signal_thread.join();
  agent.Stop();
  spdlog::info("msg=\"stopped\"");
  return status;
}

}  // namespace ptrec::serve
