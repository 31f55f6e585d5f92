#include "reconciler/serve/metrics.h"

#include <fmt/format.h>

#include <iterator>

namespace ptrec::serve {
namespace {

class Writer {
 public:
  void Family(const char* name, const char* type, const char* help) {
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  void Sample(const char* name, double value, const std::string& labels = {}) {
    if (labels.empty()) fmt::format_to(std::back_inserter(out_), "{} {}\n", name, value);
    else fmt::format_to(std::back_inserter(out_), "{}{{{}}} {}\n", name, labels, value);
  }
  void Append(const std::string& text) { out_ += text; }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string Label(const char* name, const std::string& value) {
  return std::string(name) + "=\"" + EscapeLabelValue(value) + "\"";
}

}  // namespace

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string RenderPlanMetrics(const Plan& p, const HostState& h) {
  Writer w;
  {
    w.Family("ptrec_drift", "gauge", "1 when the host differs from the desired state (the plan has actions).");
    w.Sample("ptrec_drift", p.has_changes() ? 1 : 0);
    w.Family("ptrec_plan_refused", "gauge", "1 when the plan has a refusal: apply would change nothing.");
    w.Sample("ptrec_plan_refused", p.refused() ? 1 : 0);
    w.Family("ptrec_reboot_required", "gauge",
             "1 when an action needs a reboot or something configured for the next boot is not running yet.");
    w.Sample("ptrec_reboot_required", p.reboot_required() ? 1 : 0);

    w.Family("ptrec_pending_actions", "gauge", "Actions in the current plan, by kind.");
    std::map<std::string, int> kinds;
    for (auto k : kActionKinds)
      kinds[ActionKindName(k)] = 0;
    for (const auto& a : p.actions) ++kinds[ActionKindName(a.kind)];
    for (const auto& [kind, n] : kinds) w.Sample("ptrec_pending_actions", n, Label("kind", kind));

    w.Family("ptrec_plan_findings", "gauge", "Findings of the current plan, by severity.");
    int warnings = 0, refusals = 0;
    for (const auto& f : p.findings) (f.severity == Finding::Severity::kRefusal ? refusals : warnings)++;
    w.Sample("ptrec_plan_findings", refusals, Label("severity", "refusal"));
    w.Sample("ptrec_plan_findings", warnings, Label("severity", "warning"));

    w.Family("ptrec_iommu_active", "gauge", "1 when the host has an active IOMMU (IOMMU groups exist).");
    w.Sample("ptrec_iommu_active", h.iommu_active ? 1 : 0);
    w.Family("ptrec_pci_devices", "gauge", "PCI functions by bound driver (\"none\": no driver).");
    std::map<std::string, int> drivers;
    for (const auto& d : h.devices) ++drivers[d.driver.empty() ? "none" : d.driver];
    for (const auto& [driver, n] : drivers) w.Sample("ptrec_pci_devices", n, Label("driver", driver));
    w.Family("ptrec_sriov_vfs", "gauge", "Enabled SR-IOV VFs (sriov_numvfs) per PF.");
    for (const auto& d : h.devices)
      if (d.sriov)
        w.Sample("ptrec_sriov_vfs", d.sriov->num_vfs,
                 Label("pf", d.bdf.str()) + "," + Label("driver", d.driver.empty() ? "none" : d.driver));
    w.Family("ptrec_sriov_total_vfs", "gauge", "VFs a PF supports (sriov_totalvfs).");
    for (const auto& d : h.devices)
      if (d.sriov) w.Sample("ptrec_sriov_total_vfs", d.sriov->total_vfs, Label("pf", d.bdf.str()));
  }
  return w.Take();
}

std::string RenderMetrics(const MetricsInput& in) {
  Writer w;
  w.Family("ptrec_build_info", "gauge", "ptrec version running this agent (always 1).");
  w.Sample("ptrec_build_info", 1, Label("version", in.version));
  w.Family("ptrec_ready", "gauge", "1 once a reconcile has planned the host against a desired state.");
  w.Sample("ptrec_ready", in.ready ? 1 : 0);
  w.Append(in.plan_section);

  w.Family("ptrec_last_reconcile_timestamp_seconds", "gauge", "When the last reconcile finished (Unix time).");
  w.Sample("ptrec_last_reconcile_timestamp_seconds", in.last_reconcile_time);
  w.Family("ptrec_last_reconcile_duration_seconds", "gauge", "How long the last reconcile took.");
  w.Sample("ptrec_last_reconcile_duration_seconds", in.last_reconcile_duration);
  w.Family("ptrec_last_reconcile_success", "gauge", "1 when the last reconcile produced a plan.");
  w.Sample("ptrec_last_reconcile_success", in.last_reconcile_ok ? 1 : 0);
  w.Family("ptrec_last_successful_reconcile_timestamp_seconds", "gauge",
           "When a reconcile last produced a plan (Unix time; 0: never).");
  w.Sample("ptrec_last_successful_reconcile_timestamp_seconds", in.last_success_time);
  w.Family("ptrec_desired_state_loaded_timestamp_seconds", "gauge",
           "When the desired state in force was read (Unix time; 0: none yet).");
  w.Sample("ptrec_desired_state_loaded_timestamp_seconds", in.desired_loaded_time);
  if (in.source_configured) {
    w.Family("ptrec_source_last_success_timestamp_seconds", "gauge",
             "When the --source URL last answered with a valid document or 304 (Unix time; 0: never).");
    w.Sample("ptrec_source_last_success_timestamp_seconds", in.source_last_success_time);
  }
  if (in.counters) {
    const Counters& c = *in.counters;
    w.Family("ptrec_reconciles_total", "counter", "Reconciles since start, by result.");
    w.Sample("ptrec_reconciles_total", static_cast<double>(c.reconciles_ok), Label("result", "success"));
    w.Sample("ptrec_reconciles_total", static_cast<double>(c.reconciles_failed), Label("result", "failure"));
    w.Family("ptrec_applies_total", "counter",
             "Applies since start, by trigger (api: POST /v1/apply, auto: --auto-apply) and result.");
    for (const auto& [key, n] : c.applies)
      w.Sample("ptrec_applies_total", static_cast<double>(n), Label("trigger", key.first) + "," + Label("result", key.second));
    w.Family("ptrec_errors_total", "counter", "Errors since start, by kind.");
    for (const auto& [kind, n] : c.errors) w.Sample("ptrec_errors_total", static_cast<double>(n), Label("kind", kind));
  }
  return w.Take();
}

}  // namespace ptrec::serve
