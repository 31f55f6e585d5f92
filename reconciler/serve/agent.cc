#include "reconciler/serve/agent.h"

#include <malloc.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <charconv>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "providers/host/host_fs.h"
#include "reconciler/json_io.h"
#include "schema/desired.h"

namespace ptrec::serve {
namespace {

using nlohmann::json;

// Where the last good document from --source is kept under the host root, with its ETag, so
// that a restart while the source is down starts from it.
constexpr const char* kSourceCache = "var/lib/ptrec/serve/source.yaml";
constexpr const char* kSourceCacheEtag = "var/lib/ptrec/serve/source.etag";

double Now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string DiagnosticsText(const schema::Diagnostics& diags) {
  std::string out;
  for (const auto& d : diags) out += (out.empty() ? "" : "; ") + d.str();
  return out;
}

// Why --auto-apply must not run \a plan unattended; "" when it may.
std::string UnsafeForAutoApply(const Plan& plan) {
  if (plan.refused()) return "the plan has refusals";
  if (plan.reboot_required()) return "the plan needs a reboot";
  for (const auto& f : plan.findings)
    if (f.subject == "journal") return "the last apply was interrupted or failed: " + f.message;
  for (const auto& a : plan.actions)
    if (!a.disrupts.empty()) return "action " + std::to_string(a.id) + " (" + a.subject() + ") disrupts " + a.disrupts.front();
  return {};
}

}  // namespace

Result<std::chrono::milliseconds> ParseDuration(const std::string& text) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || value < 0)
    return Fail(Code::kInvalid, "'" + text + "' is not a duration: write e.g. 60s, 500ms, 5m or 1h");
  std::string unit(p, end);
  double ms;
  if (unit.empty() || unit == "s") ms = value * 1000;
  else if (unit == "ms") ms = value;
  else if (unit == "m") ms = value * 60000;
  else if (unit == "h") ms = value * 3600000;
  else return Fail(Code::kInvalid, "'" + text + "': unknown unit '" + unit + "' (use ms, s, m or h)");
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

Agent::Agent(ServeOptions options) : opts_(std::move(options)) {
  if (!opts_.source_url.empty()) {
    auto f = SourceFetcher::Make(opts_.source_url, opts_.source_ca_file, opts_.source_timeout);
    if (f) fetcher_ = std::make_unique<SourceFetcher>(std::move(*f));
    else source_error_ = f.error().message;
  }
  PublishLocked();  // not ready: /metrics and /v1/status answer from the start
}

Agent::~Agent() { Stop(); }

void Agent::Start() {
  std::lock_guard lock(loop_mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  triggered_ = true;
  trigger_why_ = "start";
  thread_ = std::thread([this] { Loop(); });
}

void Agent::Stop() {
  {
    std::lock_guard lock(loop_mu_);
    stop_ = true;
  }
  loop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Agent::Trigger(const std::string& why) {
  {
    std::lock_guard lock(loop_mu_);
    triggered_ = true;
    trigger_why_ = why;
  }
  loop_cv_.notify_all();
}

std::shared_ptr<const Snapshot> Agent::snapshot() const {
  std::lock_guard lock(snap_mu_);
  return snap_;
}

Agent::FileStamp Agent::Stamp(const std::string& path) {
  struct stat st {};
  FileStamp s;
  if (path.empty() || ::stat(path.c_str(), &st) != 0) return s;
  s.exists = true;
  s.dev = st.st_dev;
  s.ino = st.st_ino;
  s.size = static_cast<uint64_t>(st.st_size);
  s.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return s;
}

void Agent::Loop() {
  using Clock = std::chrono::steady_clock;
  const auto tick = std::min<std::chrono::milliseconds>(opts_.interval, std::chrono::seconds(1));
  auto next = Clock::now();
  std::unique_lock lock(loop_mu_);
  while (!stop_) {
    std::string why;
    if (triggered_) {
      why = trigger_why_;
      triggered_ = false;
    } else if (Clock::now() >= next) {
      why = "interval";
    } else if (!opts_.config_file.empty()) {
      lock.unlock();
      FileStamp now = Stamp(opts_.config_file);
      bool changed;
      {
        std::lock_guard run(run_mu_);
        changed = !(now == config_stamp_);
      }
      lock.lock();
      if (changed) why = "config file changed";
    }
    if (!why.empty()) {
      lock.unlock();
      ReconcileNow(why);
      lock.lock();
      next = Clock::now() + opts_.interval;
      continue;
    }
    loop_cv_.wait_until(lock, std::min(next, Clock::now() + tick), [&] { return stop_ || triggered_; });
  }
}

void Agent::ReconcileNow(const std::string& why) {
  std::lock_guard run(run_mu_);
  ReconcileLocked(why);
}

void Agent::CountError(const std::string& kind, const std::string& message) {
  ++counters_.errors[kind];
  spdlog::warn("msg=\"{}\" kind={}", EscapeLabelValue(message), kind);
}

void Agent::LoadSourceCacheLocked() {
  RealHostFs fs(opts_.host.root);
  auto text = fs.ReadFile(kSourceCache);
  if (!text) return;
  auto parsed = schema::ParseDesired(*text, RedactUrl(opts_.source_url) + " (cached copy)");
  if (!parsed) return;
  parsed->text = *text;
  desired_ = std::move(*parsed);
  desired_loaded_time_ = Now();
  auto etag = fs.ReadFile(kSourceCacheEtag);
  source_etag_ = etag ? std::string(TrimRight(*etag)) : "";
  spdlog::info("msg=\"desired state from the source cache\" path={}", kSourceCache);
}

void Agent::RefreshDesiredLocked() {
  if (!opts_.config_file.empty()) {
    config_stamp_ = Stamp(opts_.config_file);
    std::ifstream in(opts_.config_file);
    std::string text(std::istreambuf_iterator<char>(in), {});
    auto loaded = in ? schema::ParseDesired(text, opts_.config_file) : schema::LoadDesired(opts_.config_file);
    if (!loaded) {
      desired_error_ = DiagnosticsText(loaded.error());
      CountError("config_invalid", "desired state rejected, the last good one stays in force: " + desired_error_);
      return;
    }
    loaded->text = std::move(text);
    desired_error_.clear();
    if (!desired_ || desired_->text != loaded->text || desired_->source != loaded->source) desired_loaded_time_ = Now();
    desired_ = std::move(*loaded);
    return;
  }
  if (!fetcher_) {
    CountError("source_invalid", source_error_);
    return;
  }
  if (!desired_) LoadSourceCacheLocked();
  auto fetched = fetcher_->Fetch(desired_ ? source_etag_ : "");
  if (!fetched) {
    source_error_ = fetched.error().message;
    CountError("source_unreachable", source_error_ + (desired_ ? "; the last good desired state stays in force" : ""));
    return;
  }
  source_error_.clear();
  if (fetched->not_modified) {
    source_last_success_ = Now();
    return;
  }
  auto parsed = schema::ParseDesired(fetched->body, fetcher_->url());
  if (!parsed) {
    desired_error_ = DiagnosticsText(parsed.error());
    CountError("source_invalid", "desired state from the source rejected, the last good one stays in force: " + desired_error_);
    return;
  }
  source_last_success_ = Now();
  desired_error_.clear();
  parsed->text = fetched->body;
  if (!desired_ || desired_->text != parsed->text) desired_loaded_time_ = Now();
  desired_ = std::move(*parsed);
  source_etag_ = fetched->etag;
  RealHostFs fs(opts_.host.root);
  auto w1 = fs.WriteFileAtomic(kSourceCache, fetched->body, 0600);
  auto w2 = fs.WriteFileAtomic(kSourceCacheEtag, fetched->etag + "\n", 0600);
  if (!w1 || !w2) CountError("source_cache", "cannot keep the source document: " + (!w1 ? w1.error() : w2.error()).message);
}

void Agent::ReconcileLocked(const std::string& why) {
  auto t0 = std::chrono::steady_clock::now();
  last_trigger_ = why;
  RefreshDesiredLocked();
  last_error_.clear();
  bool ok = false;
  std::string summary;
  if (!desired_) {
    last_error_ = desired_error_.empty() ? source_error_ : desired_error_;
    if (last_error_.empty()) last_error_ = "no desired state yet";
  } else {
    auto planned = cli::DiscoverAndPlan(opts_.host, *desired_);
    if (planned && opts_.auto_apply && planned->plan.has_changes()) {
      std::string unsafe = UnsafeForAutoApply(planned->plan);
      if (!unsafe.empty()) {
        auto_apply_decision_ = "not applied: " + unsafe;
      } else {
        auto applied = cli::ApplyDesired(opts_.host, *desired_, planned->plan.fingerprint);
        if (!applied) {
          auto_apply_decision_ = "not applied: " + applied.error().message;
          if (applied.error().code != Code::kBusy && applied.error().code != Code::kStale)
            CountError("apply", "auto-apply failed: " + applied.error().message);
        } else {
          bool good = applied->result.ok;
          ++counters_.applies[{"auto", good ? "success" : "failure"}];
          if (!good) CountError("apply", "auto-apply failed: " + (applied->result.error ? applied->result.error->message : "see /v1/status"));
          auto_apply_decision_ = good ? "applied " + std::to_string(applied->plan.actions.size()) + " action(s)" : "apply failed";
          last_apply_summary_ = ApplyToJson(applied->plan, applied->result, desired_->source).dump();
          spdlog::info("msg=\"auto-apply\" ok={} actions={}", good, applied->plan.actions.size());
          planned = cli::DiscoverAndPlan(opts_.host, *desired_);
        }
      }
      if (!auto_apply_decision_.empty() && auto_apply_decision_.rfind("not applied", 0) == 0)
        spdlog::info("msg=\"auto-apply skipped\" reason=\"{}\"", EscapeLabelValue(auto_apply_decision_.substr(13)));
    } else if (planned && opts_.auto_apply) {
      auto_apply_decision_ = "nothing to do";
    }
    if (!planned) {
      last_error_ = planned.error().message;
      CountError("discovery", "reconcile failed: " + last_error_);
    } else {
      ok = true;
      const Plan& plan = planned->plan;
      have_plan_ = true;
      drift_ = plan.has_changes();
      fingerprint_ = plan.fingerprint;
      state_json_ = std::make_shared<const std::string>(HostToJson(planned->state).dump() + "\n");
      plan_json_ = std::make_shared<const std::string>(PlanToJson(plan, desired_->source).dump() + "\n");
      plan_metrics_ = RenderPlanMetrics(plan, planned->state);
      summary = fmt::format("actions={} drift={} refused={} reboot_required={} devices={}", plan.actions.size(), drift_,
                            plan.refused(), plan.reboot_required(), planned->state.devices.size());
    }
  }
  if (!ok && !desired_) spdlog::warn("msg=\"reconcile without a desired state\" error=\"{}\"", EscapeLabelValue(last_error_));
  last_reconcile_ok_ = ok;
  (ok ? counters_.reconciles_ok : counters_.reconciles_failed)++;
  last_reconcile_time_ = Now();
  if (ok) last_success_time_ = last_reconcile_time_;
  last_reconcile_duration_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  PublishLocked();
  if (ok) spdlog::info("msg=\"reconciled\" trigger=\"{}\" {} duration_ms={:.0f}", why, summary, last_reconcile_duration_ * 1000);
  ::malloc_trim(0);  // discovery and JSON rendering leave megabytes free; give them back
}

void Agent::PublishLocked() {
  auto snap = std::make_shared<Snapshot>();
  snap->ready = have_plan_;
  snap->drift = drift_;
  snap->fingerprint = fingerprint_;
  snap->state_json = state_json_;
  snap->plan_json = plan_json_;
  MetricsInput in;
  in.version = PTREC_VERSION;
  in.ready = have_plan_;
  in.plan_section = plan_metrics_;
  in.last_reconcile_time = last_reconcile_time_;
  in.last_reconcile_duration = last_reconcile_duration_;
  in.last_reconcile_ok = last_reconcile_ok_;
  in.last_success_time = last_success_time_;
  in.desired_loaded_time = desired_ ? desired_loaded_time_ : 0;
  in.source_configured = !opts_.source_url.empty();
  in.source_last_success_time = source_last_success_;
  in.counters = &counters_;
  snap->metrics = RenderMetrics(in);
  snap->status_json = StatusJson();
  std::lock_guard lock(snap_mu_);
  snap_ = std::move(snap);
}

std::string Agent::StatusJson() const {
  json desired = json::object();
  desired["source"] = desired_ ? json(desired_->source) : json(nullptr);
  desired["name"] = desired_ ? json(desired_->name) : json(nullptr);
  desired["loaded_at"] = desired_loaded_time_;
  desired["rejected"] = desired_error_.empty() ? json(nullptr) : json(desired_error_);
  json status = {{"format_version", kJsonFormatVersion},
                 {"kind", "serve_status"},
                 {"version", PTREC_VERSION},
                 {"root", opts_.host.root},
                 {"ready", have_plan_},
                 {"drift", drift_},
                 {"fingerprint", fingerprint_},
                 {"interval_seconds", std::chrono::duration<double>(opts_.interval).count()},
                 {"last_reconcile",
                  {{"at", last_reconcile_time_},
                   {"duration_seconds", last_reconcile_duration_},
                   {"ok", last_reconcile_ok_},
                   {"trigger", last_trigger_},
                   {"error", last_error_.empty() ? json(nullptr) : json(last_error_)}}},
                 {"desired_state", desired},
                 {"auto_apply", {{"enabled", opts_.auto_apply}, {"last", auto_apply_decision_}}},
                 {"apply_endpoint", opts_.allow_apply}};
  if (!opts_.source_url.empty())
    status["source"] = {{"url", RedactUrl(opts_.source_url)},
                        {"etag", source_etag_},
                        {"last_success_at", source_last_success_},
                        {"error", source_error_.empty() ? json(nullptr) : json(source_error_)}};
  status["last_apply"] = last_apply_summary_.empty() ? json(nullptr) : json::parse(last_apply_summary_);
  json errors = json::object();
  for (const auto& [kind, n] : counters_.errors) errors[kind] = n;
  status["errors_total"] = errors;
  return status.dump() + "\n";
}

ApiApplyOutcome Agent::Apply(const std::string& expected_fingerprint) {
  auto error_body = [](const char* code, const std::string& message) {
    return json{{"format_version", kJsonFormatVersion}, {"kind", "error"}, {"error", {{"code", code}, {"message", message}}}}
               .dump() + "\n";
  };
  ApiApplyOutcome out;
  std::optional<DesiredState> desired;
  {
    std::lock_guard run(run_mu_);
    desired = desired_;
  }
  if (!desired) {
    out.kind = ApiApplyOutcome::Kind::kNotReady;
    out.body = error_body("not_ready", "no desired state is in force yet; see /v1/status");
    return out;
  }
  // The apply lock is taken (without waiting) before anything else, so a second apply, from
  // here or from the CLI, gets kBusy at once.
  auto applied = cli::ApplyDesired(opts_.host, *desired, expected_fingerprint);
  if (!applied) {
    const Error& e = applied.error();
    out.kind = e.code == Code::kBusy    ? ApiApplyOutcome::Kind::kBusy
               : e.code == Code::kStale ? ApiApplyOutcome::Kind::kStale
                                        : ApiApplyOutcome::Kind::kError;
    out.body = error_body(CodeName(e.code), e.message);
    spdlog::warn("msg=\"apply not started\" code={} error=\"{}\"", CodeName(e.code), EscapeLabelValue(e.message));
    if (out.kind == ApiApplyOutcome::Kind::kError) {
      std::lock_guard run(run_mu_);
      CountError("apply", "apply failed: " + e.message);
    }
    return out;
  }
  bool refused = applied->plan.refused();
  bool good = applied->result.ok;
  out.kind = refused ? ApiApplyOutcome::Kind::kRefused : good ? ApiApplyOutcome::Kind::kApplied : ApiApplyOutcome::Kind::kFailed;
  out.body = ApplyToJson(applied->plan, applied->result, desired->source).dump() + "\n";
  spdlog::info("msg=\"apply via API\" ok={} refused={} actions={} rolled_back={}", good, refused, applied->plan.actions.size(),
               applied->result.rolled_back);
  {
    std::lock_guard run(run_mu_);
    if (!refused) {
      ++counters_.applies[{"api", good ? "success" : "failure"}];
      if (!good) ++counters_.errors["apply"];
      last_apply_summary_ = out.body;
    }
    ReconcileLocked("after apply");
  }
  return out;
}

}  // namespace ptrec::serve
