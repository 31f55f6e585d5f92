// The node agent behind `ptrec serve`: keeps reconciling the host against its desired state and
// publishes the result as an immutable Snapshot (pre-rendered /metrics, /v1/state, /v1/plan and
// /v1/status bodies), so HTTP requests never rediscover the host.
//
// A reconcile: read the desired state (--config file, or --source URL with If-None-Match),
// discover the host, plan (cli::DiscoverAndPlan, the same plan `ptrec plan` prints), with
// --auto-apply apply it when nothing in it is unsafe, then publish. A desired-state document
// that fails validation is rejected and reported; the last good one stays in force.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "reconciler/cli/commands.h"
#include "reconciler/serve/metrics.h"
#include "reconciler/serve/source.h"

namespace ptrec::serve {

/// `ptrec serve` options (see main.cc for the flags).
struct ServeOptions {
  cli::HostOptions host;          ///< root, simulate, jobs
  std::string config_file;        ///< --config: desired-state YAML (exclusive with source_url)
  std::string source_url;         ///< --source: http(s) URL of the desired-state YAML
  std::string source_ca_file;     ///< --source-ca: CA bundle for an https source ("" = system's)
  std::chrono::milliseconds source_timeout{10000};  ///< connect and per-read timeout
  std::chrono::milliseconds interval{60000};        ///< time between reconciles
  bool auto_apply = false;        ///< apply plans that are safe unattended
  bool allow_apply = false;       ///< POST /v1/apply enabled (needs token_file)
  std::string listen = "127.0.0.1:9464";
  std::string token_file;         ///< bearer token for POST /v1/apply, read at start and SIGHUP
  std::string tls_cert, tls_key;  ///< PEM files; both or neither
  int http_threads = 8;           ///< HTTP worker threads (one per open connection)
};

/// One published reconcile result. Immutable once published; shared with HTTP handlers.
struct Snapshot {
  bool ready = false;        ///< a plan exists
  bool drift = false;        ///< the plan has actions
  std::string fingerprint;   ///< HostState::Fingerprint() of the host the plan was made from
  /// GET /v1/state body: `ptrec show --json` (compact); null before ready. Shared between
  /// snapshots until the next successful reconcile: a large host's document exists once.
  std::shared_ptr<const std::string> state_json;
  std::shared_ptr<const std::string> plan_json;  ///< GET /v1/plan body: `ptrec plan --json`; null before ready
  std::string metrics;       ///< GET /metrics body
  std::string status_json;   ///< GET /v1/status body: reconcile, desired-state and source status
};

/// What POST /v1/apply did.
struct ApiApplyOutcome {
  enum class Kind {
    kApplied,      ///< every action done (or nothing to do)
    kFailed,       ///< a step failed; the run was rolled back (or needs attention)
    kRefused,      ///< the plan has refusals; nothing changed
    kBusy,         ///< another apply holds the lock; nothing changed
    kStale,        ///< the host no longer has the fingerprint the caller asked for
    kNotReady,     ///< no desired state in force yet
    kError,        ///< discovery or another error before any change
  };
  Kind kind = Kind::kError;
  std::string body;  ///< JSON: `ptrec apply --json` document, or {"error":{code,message}}
};

/// The reconcile loop and the state it publishes. Thread-safe.
class Agent {
 public:
  explicit Agent(ServeOptions options);
  ~Agent();  ///< Stop()s
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  /// Starts the loop thread; it reconciles at once, then every interval, on Trigger(), and
  /// when the --config file changes (stat polled every second, or every interval if shorter).
  void Start();
  /// Stops the loop thread (waits for a running reconcile).
  void Stop();
  /// Asks the loop for a reconcile now (SIGHUP); \a why is logged.
  void Trigger(const std::string& why);
  /// Runs one reconcile in the caller's thread and publishes it.
  void ReconcileNow(const std::string& why);
  /// The last published snapshot (never null).
  std::shared_ptr<const Snapshot> snapshot() const;
  /// POST /v1/apply: under the apply lock (not waiting: kBusy), discovers, plans the desired
  /// state in force and applies it; then reconciles so the next GETs show the result.
  /// \a expected_fingerprint: "" or the fingerprint the caller saw in /v1/plan (else kStale).
  ApiApplyOutcome Apply(const std::string& expected_fingerprint);

  const ServeOptions& options() const { return opts_; }

 private:
  struct FileStamp {
    bool exists = false;
    uint64_t dev = 0, ino = 0, size = 0;
    int64_t mtime_ns = 0;
    bool operator==(const FileStamp&) const = default;
  };
  static FileStamp Stamp(const std::string& path);

  void Loop();
  void ReconcileLocked(const std::string& why);
  void RefreshDesiredLocked();
  void LoadSourceCacheLocked();
  void CountError(const std::string& kind, const std::string& message);
  void PublishLocked();
  std::string StatusJson() const;

  const ServeOptions opts_;
  std::unique_ptr<SourceFetcher> fetcher_;

  // Guarded by run_mu_ (one reconcile or apply at a time).
  std::mutex run_mu_;
  std::optional<DesiredState> desired_;    ///< the last good desired state
  double desired_loaded_time_ = 0;
  std::string desired_error_;              ///< why the latest document was rejected ("" = none)
  std::string source_error_;               ///< why the latest fetch failed ("" = none)
  double source_last_success_ = 0;
  std::string source_etag_;
  FileStamp config_stamp_;
  double last_reconcile_time_ = 0, last_reconcile_duration_ = 0, last_success_time_ = 0;
  bool last_reconcile_ok_ = false;
  std::string last_error_;                 ///< error of the last reconcile ("" = none)
  std::string last_trigger_;
  std::string auto_apply_decision_;        ///< what --auto-apply did last time
  std::string last_apply_summary_;         ///< JSON of the last apply's outcome (status)
  Counters counters_;
  // The last plan, rendered; kept when a later reconcile fails.
  bool have_plan_ = false;
  std::shared_ptr<const std::string> state_json_, plan_json_;
  std::string plan_metrics_, fingerprint_;
  bool drift_ = false;

  mutable std::mutex snap_mu_;
  std::shared_ptr<const Snapshot> snap_;

  std::mutex loop_mu_;
  std::condition_variable loop_cv_;
  bool stop_ = false;
  bool triggered_ = false;
  std::string trigger_why_;
  std::thread thread_;
};

/// Parses a duration: "60s", "500ms", "5m", "1h", or a plain number of seconds ("30").
/// Errors: kInvalid naming the text.
Result<std::chrono::milliseconds> ParseDuration(const std::string& text);

}  // namespace ptrec::serve
