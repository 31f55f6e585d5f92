#include "reconciler/json_io.h"

namespace ptrec {
namespace {
using nlohmann::json;

json Summary(const Plan& plan) {
  int add = 0, change = 0, remove = 0;
  for (const auto& a : plan.actions) {
    switch (a.symbol()) {
      case '+': ++add; break;
      case '-': ++remove; break;
      default: ++change; break;
    }
  }
  return {{"add", add}, {"change", change}, {"remove", remove}};
}

std::optional<ActionKind> KindFromName(const std::string& s) {
  for (auto k : kActionKinds)
    if (s == ActionKindName(k)) return k;
  return std::nullopt;
}

std::optional<Phase> PhaseFromName(const std::string& s) {
  for (auto p : {Phase::kBoot, Phase::kModules, Phase::kDetach, Phase::kRelease, Phase::kVfCount, Phase::kBind,
                 Phase::kAttach})
    if (s == PhaseName(p)) return p;
  return std::nullopt;
}

Bdf BdfFrom(const json& j) {
  auto b = Bdf::Parse(j.get<std::string>());
  if (!b) throw std::invalid_argument("bad BDF '" + j.get<std::string>() + "'");
  return *b;
}

}  // namespace

json HostToJson(const HostState& host) {
  json devices = json::array();
  for (const auto& d : host.devices) {
    json j = {{"bdf", d.bdf.str()},
              {"vendor_id", d.id.str().substr(0, 4)},
              {"device_id", d.id.str().substr(5)},
              {"subsystem", d.subsystem.str()},
              {"class", d.class_code},
              {"driver", d.driver},
              {"driver_override", d.driver_override},
              {"iommu_group", d.iommu_group},
              {"numa_node", d.numa_node},
              {"bridge", d.is_bridge()},
              {"vfs", json::array()},
              {"net_interfaces", d.net_interfaces},
              {"block_devices", d.block_devices},
              {"msi", d.msi},
              {"msix", d.msix},
              {"config_read", d.config_read}};
    if (d.parent) j["parent"] = d.parent->str();
    if (d.sriov)
      j["sriov"] = {{"total_vfs", d.sriov->total_vfs},   {"num_vfs", d.sriov->num_vfs},
                    {"drivers_autoprobe", d.sriov->drivers_autoprobe}, {"offset", d.sriov->offset},
                    {"stride", d.sriov->stride},        {"vf_device", d.sriov->vf_device}};
    if (d.physfn) {
      j["physfn"] = d.physfn->str();
      j["vf_index"] = d.vf_index;
    }
    for (Bdf vf : d.vfs) j["vfs"].push_back(vf.str());
    devices.push_back(std::move(j));
  }
  json groups = json::object();
  for (const auto& [id, members] : host.iommu_groups) {
    json list = json::array();
    for (Bdf b : members) list.push_back(b.str());
    groups[std::to_string(id)] = list;
  }
  json usages = json::array();
  for (const auto& u : host.usages) usages.push_back({{"bdf", u.bdf.str()}, {"what", u.what}});
  json vms = json::array();
  auto hostdevs = [](const std::vector<VmHostdev>& list) {
    json out = json::array();
    for (const auto& h : list) {
      json j = {{"source", h.source.str()}, {"managed", h.managed}, {"alias", h.alias}};
      if (h.guest_address) j["guest_address"] = h.guest_address->str();
      out.push_back(std::move(j));
    }
    return out;
  };
  for (const auto& vm : host.vms)
    vms.push_back({{"name", vm.name}, {"uri", vm.uri}, {"qmp", vm.qmp}, {"exists", vm.exists},
                   {"running", vm.running}, {"config", hostdevs(vm.config)}, {"live", hostdevs(vm.live)},
                   {"problem", vm.problem}});
  return {{"format_version", kJsonFormatVersion},
          {"kind", "host"},
          {"root", host.root},
          {"iommu", {{"active", host.iommu_active}, {"units", host.iommu_units}}},
          {"cmdline", host.cmdline},
          {"kernel_release", host.kernel_release},
          {"loaded_drivers", host.loaded_drivers},
          {"devices", devices},
          {"iommu_groups", groups},
          {"usages", usages},
          {"vms", vms},
          {"fingerprint", host.Fingerprint()}};
}

json ActionToJson(const Action& a) {
  json j = {{"id", a.id},
            {"kind", ActionKindName(a.kind)},
            {"phase", PhaseName(a.phase)},
            {"symbol", std::string(1, a.symbol())},
            {"device", a.device.str()},
            {"subject", a.subject()},
            {"before", a.before},
            {"after", a.after},
            {"reason", a.reason},
            {"deps", a.deps},
            {"disrupts", a.disrupts},
            {"reboot_required", a.reboot_required}};
  if (a.vf) j["vf"] = {{"pf", a.vf->pf.str()}, {"index", a.vf->index}};
  switch (a.kind) {
    case ActionKind::kBind:
      j["driver"] = a.driver;
      break;
    case ActionKind::kRelease:
      j["driver"] = a.driver;
      j["driver_override"] = a.driver_override;
      break;
    case ActionKind::kSetNumVfs:
      j["num_vfs"] = a.num_vfs;
      j["from_num_vfs"] = a.from_num_vfs;
      j["autoprobe_off"] = a.autoprobe_off;
      break;
    case ActionKind::kLoadModule:
      j["module"] = a.module;
      break;
    case ActionKind::kReloadModule:
      j["module"] = a.module;
      j["commands"] = a.argvs;
      break;
    case ActionKind::kAttach:
    case ActionKind::kDetach:
      j["vm"] = a.vm;
      j["vm_uri"] = a.vm_uri;
      j["vm_qmp"] = a.vm_qmp;
      j["config"] = a.config;
      j["live"] = a.live;
      j["managed"] = a.managed;
      if (a.guest_address) j["guest_address"] = a.guest_address->str();
      break;
    case ActionKind::kEditBootloader:
    case ActionKind::kWriteFile:
      j["path"] = a.path;
      j["content"] = a.content;
      if (a.kind == ActionKind::kEditBootloader) j["expected"] = a.expected;
      j["remove"] = a.remove;
      j["commands"] = a.argvs;
      break;
  }
  return j;
}

json PlanToJson(const Plan& plan, const std::string& source) {
  json actions = json::array();
  for (const auto& a : plan.actions) actions.push_back(ActionToJson(a));
  json findings = json::array();
  for (const auto& f : plan.findings)
    findings.push_back({{"severity", f.severity == Finding::Severity::kRefusal ? "refusal" : "warning"},
                        {"subject", f.subject},
                        {"message", f.message},
                        {"hint", f.hint},
                        {"position", f.pos.str()}});
  json vms = json::array();
  for (const auto& vm : plan.vms) vms.push_back({{"name", vm.name}, {"uri", vm.uri}, {"qmp", vm.qmp}});
  return {{"format_version", kJsonFormatVersion},
          {"kind", "plan"},
          {"root", plan.root},
          {"fingerprint", plan.fingerprint},
          {"source", source},
          {"changes", plan.has_changes()},
          {"refused", plan.refused()},
          {"reboot_required", plan.reboot_required()},
          {"pending_reboot", plan.pending_reboot},
          {"summary", Summary(plan)},
          {"actions", actions},
          {"findings", findings},
          {"vms", vms}};
}

Result<Plan> PlanFromJson(const json& doc) {
  // nlohmann::json throws on a missing field or a wrong type: turn that into a value here.
  try {
    if (doc.value("kind", "") != "plan") return Fail(Code::kInvalid, "not a ptrec plan file (kind is not \"plan\")");
    int version = doc.at("format_version").get<int>();
    if (version != kJsonFormatVersion)
      return Fail(Code::kInvalid, "plan format_version " + std::to_string(version) + " is not " +
                                      std::to_string(kJsonFormatVersion) + ": make the plan again with this ptrec");
    Plan plan;
    plan.root = doc.at("root").get<std::string>();
    plan.fingerprint = doc.at("fingerprint").get<std::string>();
    plan.pending_reboot = doc.value("pending_reboot", std::vector<std::string>{});
    if (doc.contains("vms"))
      for (const auto& v : doc.at("vms"))
        plan.vms.push_back(VmSpec{.name = v.at("name").get<std::string>(), .uri = v.value("uri", ""), .qmp = v.value("qmp", "")});
    for (const auto& j : doc.at("actions")) {
      Action a;
      a.id = j.at("id").get<int>();
      auto kind = KindFromName(j.at("kind").get<std::string>());
      auto phase = PhaseFromName(j.at("phase").get<std::string>());
      if (!kind || !phase) return Fail(Code::kInvalid, "action " + std::to_string(a.id) + ": unknown kind or phase");
      a.kind = *kind;
      a.phase = *phase;
      a.device = BdfFrom(j.at("device"));
      if (j.contains("vf")) a.vf = VfRef{BdfFrom(j["vf"].at("pf")), j["vf"].at("index").get<int>()};
      a.before = j.at("before").get<std::string>();
      a.after = j.at("after").get<std::string>();
      a.reason = j.at("reason").get<std::string>();
      a.deps = j.at("deps").get<std::vector<int>>();
      a.disrupts = j.at("disrupts").get<std::vector<std::string>>();
      a.reboot_required = j.at("reboot_required").get<bool>();
      a.driver = j.value("driver", "");
      a.driver_override = j.value("driver_override", "");
      a.num_vfs = j.value("num_vfs", 0);
      a.from_num_vfs = j.value("from_num_vfs", 0);
      a.autoprobe_off = j.value("autoprobe_off", false);
      a.module = j.value("module", "");
      a.path = j.value("path", "");
      a.content = j.value("content", "");
      a.expected = j.value("expected", "");
      a.remove = j.value("remove", false);
      a.vm = j.value("vm", "");
      a.vm_uri = j.value("vm_uri", "");
      a.vm_qmp = j.value("vm_qmp", "");
      a.config = j.value("config", false);
      a.live = j.value("live", false);
      a.managed = j.value("managed", false);
      if (j.contains("guest_address")) a.guest_address = BdfFrom(j.at("guest_address"));
      if (j.contains("commands")) a.argvs = j["commands"].get<std::vector<std::vector<std::string>>>();
      for (const auto& argv : a.argvs) {
        std::string line;
        for (const auto& w : argv) line += (line.empty() ? "" : " ") + w;
        a.commands.push_back(line);
      }
      plan.actions.push_back(std::move(a));
    }
    for (const auto& j : doc.at("findings")) {
      Finding f;
      f.severity = j.at("severity").get<std::string>() == "refusal" ? Finding::Severity::kRefusal
                                                                     : Finding::Severity::kWarning;
      f.subject = j.at("subject").get<std::string>();
      f.message = j.at("message").get<std::string>();
      f.hint = j.value("hint", "");
      plan.findings.push_back(std::move(f));
    }
    return plan;
  } catch (const std::exception& e) {
    return Fail(Code::kInvalid, std::string("malformed plan file: ") + e.what());
  }
}

json ApplyToJson(const Plan& plan, const ApplyResult& result, const std::string& source) {
  json j = PlanToJson(plan, source);
  j["kind"] = "apply";
  j["applied"] = result.ok;
  j["changed"] = std::any_of(result.steps.begin(), result.steps.end(), [](const StepOutcome& s) {
    return s.status == StepOutcome::Status::kDone || s.status == StepOutcome::Status::kUndoFailed;
  });
  j["rolled_back"] = result.rolled_back;
  if (result.error) j["error"] = {{"code", CodeName(result.error->code)}, {"message", result.error->message}};
  json steps = json::array();
  for (const auto& s : result.steps)
    steps.push_back({{"id", s.action_id}, {"status", StepStatusName(s.status)}, {"message", s.message}, {"millis", s.millis}});
  j["steps"] = steps;
  return j;
}

}  // namespace ptrec
