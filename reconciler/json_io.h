// JSON forms of ptrec's values: the `--json` output of show, plan and apply, and the plan file
// that `ptrec plan -out FILE` writes and `ptrec apply FILE` reads. Each document carries
// "format_version" (kJsonFormatVersion); the Ansible module and the node agent read these.
#pragma once

#include <nlohmann/json.hpp>

#include "reconciler/executor.h"
#include "reconciler/model.h"

namespace ptrec {

/// Version of every JSON document ptrec writes. Bumped when a field changes meaning.
inline constexpr int kJsonFormatVersion = 1;

/// `ptrec show --json`: {"format_version", "kind":"host", "root", "iommu":{...},
/// "cmdline", "kernel_release", "devices":[{bdf, vendor_id, device_id, class, driver,
/// driver_override, iommu_group, numa_node, sriov?, physfn?, vf_index?, vfs, net_interfaces,
/// block_devices, msi, msix}], "iommu_groups":{"N":[bdf...]}, "usages":[...],
/// "vms":[{name, uri, qmp, exists, running, problem, config:[hostdev], live:[hostdev]}]} with
/// hostdev {source, managed, alias, guest_address?}.
nlohmann::json HostToJson(const HostState& host);

/// One action: {id, kind, phase, symbol, device, vf?, subject, before, after, reason, deps,
/// disrupts, reboot_required, and the kind's parameters}.
nlohmann::json ActionToJson(const Action& action);

/// `ptrec plan --json` and the plan file: {"format_version", "kind":"plan", "root",
/// "fingerprint", "source", "changes", "refused", "reboot_required", "pending_reboot":[text],
/// "summary":{add, change, remove}, "actions":[...], "findings":[{severity, subject, message,
/// hint, position}], "vms":[{name, uri, qmp}] (the domains it was planned against)}. Attach and
/// detach actions carry {vm, vm_uri, vm_qmp, config, live, managed, guest_address?}. reboot_required is true when an action needs a reboot or when something
/// already configured for the next boot is not running yet (pending_reboot says what), so it
/// can be true with no actions.
nlohmann::json PlanToJson(const Plan& plan, const std::string& source);

/// Reads a plan file back. Errors: kInvalid naming the field that is wrong or missing, or a
/// format_version this ptrec does not read.
Result<Plan> PlanFromJson(const nlohmann::json& doc);

/// `ptrec apply --json`: the plan plus {"applied": bool, "changed": bool, "rolled_back": bool,
/// "error"?: {code, message} (also for a refused plan: code "refused"),
/// "steps":[{id, status, message, millis}]}.
nlohmann::json ApplyToJson(const Plan& plan, const ApplyResult& result, const std::string& source);

}  // namespace ptrec
