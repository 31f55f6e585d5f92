// Prometheus text exposition (format 0.0.4) of what the node agent knows, rendered once per
// reconcile so that serving /metrics costs a copy, not a discovery.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "reconciler/model.h"

namespace ptrec::serve {

/// Counters since the agent started. Keys are label values; every label value the agent can
/// produce is present from the start (with 0), so series do not appear out of nowhere.
struct Counters {
  uint64_t reconciles_ok = 0;
  uint64_t reconciles_failed = 0;
  /// (trigger "api"|"auto", result "success"|"failure") -> applies.
  std::map<std::pair<std::string, std::string>, uint64_t> applies = {
      {{"api", "success"}, 0}, {{"api", "failure"}, 0}, {{"auto", "success"}, 0}, {{"auto", "failure"}, 0}};
  /// Error kind -> occurrences: "config_invalid", "source_unreachable", "source_invalid",
  /// "discovery", "apply", "source_cache".
  std::map<std::string, uint64_t> errors = {{"config_invalid", 0}, {"source_unreachable", 0}, {"source_invalid", 0},
                                            {"discovery", 0},      {"apply", 0},              {"source_cache", 0}};
};

/// Everything /metrics shows. Times are Unix seconds (0 = never), durations seconds.
struct MetricsInput {
  bool ready = false;        ///< a plan exists (the first reconcile with a desired state worked)
  std::string plan_section;  ///< RenderPlanMetrics of the last plan; "" before the first
  double last_reconcile_time = 0;
  double last_reconcile_duration = 0;
  bool last_reconcile_ok = false;
  double last_success_time = 0;
  double desired_loaded_time = 0;     ///< when the desired state in force was read
  bool source_configured = false;     ///< --source given: the source metrics are shown
  double source_last_success_time = 0;
  const Counters* counters = nullptr;
  std::string version;
};

/// The families that describe a plan and the host it was made from (kept between reconciles
/// when discovery fails): drift, plan_refused, reboot_required,
/// pending_actions{kind}, plan_findings{severity}, iommu_active, pci_devices{driver},
/// sriov_vfs{pf,driver}, sriov_total_vfs{pf}.
std::string RenderPlanMetrics(const Plan& plan, const HostState& host);

/// The exposition text: HELP and TYPE for every family, label values escaped (\\, \", \n).
/// Families (all prefixed ptrec_): build_info, ready, then in.plan_section, then
/// last_reconcile_timestamp_seconds,
/// last_reconcile_duration_seconds, last_reconcile_success,
/// last_successful_reconcile_timestamp_seconds, desired_state_loaded_timestamp_seconds,
/// source_last_success_timestamp_seconds (with --source), reconciles_total{result},
/// applies_total{trigger,result}, errors_total{kind}.
std::string RenderMetrics(const MetricsInput& in);

/// Escapes a label value for the text format: backslash, double quote and newline. The logs'
/// quoted logfmt values use the same escaping.
std::string EscapeLabelValue(const std::string& value);

}  // namespace ptrec::serve
