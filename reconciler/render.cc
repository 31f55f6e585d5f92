#include "reconciler/render.h"

#include <algorithm>
#include <cstdio>
#include <fmt/format.h>

namespace ptrec {
namespace {

struct Palette {
  const char* add = "";
  const char* change = "";
  const char* remove = "";
  const char* warn = "";
  const char* bad = "";
  const char* dim = "";
  const char* reset = "";
  explicit Palette(Color c) {
    if (c == Color::kNo) return;
    add = "\033[32m", change = "\033[33m", remove = "\033[31m", warn = "\033[33m", bad = "\033[1;31m",
    dim = "\033[2m", reset = "\033[0m";
  }
  const char* For(char symbol) const { return symbol == '+' ? add : symbol == '-' ? remove : change; }
};

std::string Dash(const std::string& s) { return s.empty() ? "-" : s; }

std::string WhatChanges(const Action& a) {
  switch (a.kind) {
    case ActionKind::kLoadModule: return "load module " + a.module;
    case ActionKind::kReloadModule: return "reload module " + a.module + ": " + a.before + "  →  " + a.after;
    case ActionKind::kEditBootloader: return "next boot: " + a.before + "  →  " + a.after;
    case ActionKind::kWriteFile: return a.remove ? "remove (no longer needed)" : a.before + " → " + a.after;
    case ActionKind::kSetNumVfs: {
      std::string s = "sriov_numvfs " + a.before;
      if (a.from_num_vfs != 0 && a.num_vfs != 0) s += " → 0";
      return s + " → " + a.after;
    }
    case ActionKind::kBind: return "driver " + a.before + " → " + a.after;
    case ActionKind::kRelease: return "driver " + a.before + " → " + a.after + " (give back)";
    case ActionKind::kAttach:
    case ActionKind::kDetach: {
      std::string where = a.config && a.live ? "config and live" : a.live ? "live only" : "config only";
      std::string s = (a.kind == ActionKind::kAttach ? "attach to " : "detach from ") + a.vm + " (" + where;
      if (a.managed) s += ", managed='yes'";
      if (a.guest_address) s += ", guest " + a.guest_address->str();
      return s + ")";
    }
  }
  return {};
}

}  // namespace

std::string RenderHost(const HostState& host, Color color) {
  Palette p(color);
  std::string out = fmt::format("{:<13} {:<6} {:<10} {:<12} {:<12} {:>5} {:>4}  {:<22} {:<16} {}\n", "BDF", "CLASS",
                                "ID", "DRIVER", "OVERRIDE", "GROUP", "NUMA", "SR-IOV", "INTERFACES", "IRQ");
  for (const auto& d : host.devices) {
    std::string sriov = "-";
    if (d.sriov) sriov = fmt::format("PF {}/{} VFs", d.sriov->num_vfs, d.sriov->total_vfs);
    else if (d.physfn) sriov = fmt::format("VF {} of {}", d.vf_index, d.physfn->str().substr(5));
    std::string ifaces;
    for (const auto& n : d.net_interfaces) ifaces += (ifaces.empty() ? "" : ",") + n;
    for (const auto& b : d.block_devices) ifaces += (ifaces.empty() ? "" : ",") + b;
    std::string irq = !d.config_read ? "?" : d.msix ? (d.msi ? "msi,msix" : "msix") : d.msi ? "msi" : "intx";
    out += fmt::format("{:<13} {:<6} {:<10} {:<12} {:<12} {:>5} {:>4}  {:<22} {:<16} {}\n", d.bdf.str(),
                       fmt::format("{:04x}", d.class_code >> 8), d.id.str(), Dash(d.driver), Dash(d.driver_override),
                       d.iommu_group < 0 ? std::string("-") : std::to_string(d.iommu_group),
                       d.numa_node < 0 ? std::string("-") : std::to_string(d.numa_node), sriov, Dash(ifaces), irq);
  }
  out += "\n";
  std::string units;
  for (const auto& u : host.iommu_units) units += (units.empty() ? "" : ", ") + u;
  out += host.iommu_active ? fmt::format("IOMMU: active ({} groups{})\n", host.iommu_groups.size(),
                                         units.empty() ? "" : "; units " + units)
                           : fmt::format("{}IOMMU: not active{} (no sys/kernel/iommu_groups): vfio-pci cannot be used\n",
                                         p.warn, p.reset);
  out += fmt::format("Devices: {}   Kernel: {}\nCmdline: {}\n", host.devices.size(), Dash(host.kernel_release),
                     Dash(host.cmdline));
  for (const auto& u : host.usages) out += fmt::format("In use: {} {}\n", u.bdf.str(), u.what);
  for (const auto& vm : host.vms) {
    std::string how = !vm.qmp.empty() ? "qmp " + vm.qmp : vm.uri.empty() ? "default connection" : vm.uri;
    if (!vm.exists) {
      out += fmt::format("VM {} ({}): {}\n", vm.name, how, vm.problem.empty() ? "not defined" : vm.problem);
      continue;
    }
    out += fmt::format("VM {} ({}): {}\n", vm.name, how, vm.running ? "running" : "shut off");
    auto list = [](const std::vector<VmHostdev>& hs) {
      std::string s;
      for (const auto& h : hs) {
        s += (s.empty() ? "" : ", ") + h.source.str();
        if (h.managed) s += " managed";
        if (h.guest_address) s += " at " + h.guest_address->str();
      }
      return s.empty() ? std::string("-") : s;
    };
    if (vm.has_config) out += fmt::format("  hostdevs (config): {}\n", list(vm.config));
    if (vm.running) out += fmt::format("  hostdevs (live):   {}\n", list(vm.live));
  }
  return out;
}

std::string RenderPlan(const Plan& plan, Color color) {
  Palette p(color);
  std::string out;
  for (const auto& f : plan.findings) {
    bool refusal = f.severity == Finding::Severity::kRefusal;
    out += fmt::format("{}{} {}{}: {}\n", refusal ? p.bad : p.warn, refusal ? "Refused" : "Warning", f.subject, p.reset,
                       f.message);
    if (!f.pos.file.empty()) out += fmt::format("    at: {}\n", f.pos.str());
    if (!f.hint.empty()) out += fmt::format("    fix: {}\n", f.hint);
  }
  if (!plan.findings.empty()) out += "\n";
  for (const auto& r : plan.pending_reboot)
    out += fmt::format("{}Reboot pending:{} {}\n", p.warn, p.reset, r);
  if (!plan.pending_reboot.empty()) out += "\n";
  if (plan.actions.empty()) {
    out += plan.refused() ? "No changes can be planned until the refusals above are fixed.\n"
         : plan.pending_reboot.empty() ? "No changes. The host matches the desired state.\n"
                                       : "No changes to make. The configuration is in place; it takes effect at the next reboot.\n";
    return out;
  }
  int add = 0, change = 0, remove = 0;
  Phase phase = plan.actions.front().phase;
  out += fmt::format("Plan ({} actions):\n  {}:\n", plan.actions.size(), PhaseName(phase));
  for (const auto& a : plan.actions) {
    if (a.phase != phase) {
      phase = a.phase;
      out += fmt::format("  {}:\n", PhaseName(phase));
    }
    char s = a.symbol();
    (s == '+' ? add : s == '-' ? remove : change)++;
    out += fmt::format("  {}{} [{}] {}{}  {}\n", p.For(s), s, a.id, a.subject(), p.reset, WhatChanges(a));
    out += fmt::format("{}        why: {}{}\n", p.dim, a.reason, p.reset);
    for (const auto& d : a.disrupts) out += fmt::format("        {}disrupts:{} {}\n", p.warn, p.reset, d);
    for (const auto& c : a.commands) out += fmt::format("{}        then runs: {}{}\n", p.dim, c, p.reset);
    if (a.reboot_required) out += fmt::format("        {}takes effect after a reboot{}\n", p.warn, p.reset);
    if (!a.deps.empty()) {
      std::string deps;
      for (int d : a.deps) deps += (deps.empty() ? "[" : ", [") + std::to_string(d) + "]";
      out += fmt::format("{}        after: {}{}\n", p.dim, deps, p.reset);
    }
  }
  out += fmt::format("\n{} to add, {} to change, {} to give back. {}\n", add, change, remove,
                     plan.reboot_required() ? "Reboot required." : "No reboot required.");
  if (plan.refused()) out += fmt::format("{}The plan is refused: apply will change nothing.{}\n", p.bad, p.reset);
  return out;
}

std::string RenderApply(const Plan& plan, const ApplyResult& result, Color color) {
  Palette p(color);
  std::string out;
  for (size_t i = 0; i < plan.actions.size() && i < result.steps.size(); ++i) {
    const auto& a = plan.actions[i];
    const auto& s = result.steps[i];
    if (s.status == StepOutcome::Status::kNotRun) continue;
    const char* c = s.status == StepOutcome::Status::kDone ? p.add : s.status == StepOutcome::Status::kUndone ? p.warn : p.bad;
    out += fmt::format("  {}{:<11}{} [{}] {}  {} ({:.1f} ms)\n", c, StepStatusName(s.status), p.reset, a.id, a.subject(),
                       WhatChanges(a), s.millis);
    if (!s.message.empty()) out += fmt::format("              {}\n", s.message);
  }
  if (result.ok) {
    out += fmt::format("{}Apply complete:{} {} action(s) done.{}\n", p.add, p.reset, plan.actions.size(),
                       plan.reboot_required() ? " Reboot required." : "");
  } else if (result.error) {
    out += fmt::format("{}Apply failed:{} {}\n", p.bad, p.reset, result.error->message);
    size_t done = std::count_if(result.steps.begin(), result.steps.end(),
                                [](const StepOutcome& s) { return s.status != StepOutcome::Status::kNotRun; });
    if (done > 1 || result.rolled_back)
      out += result.rolled_back ? "Every step this run made was undone: the host is as it was before the apply.\n"
                                : "Some steps could not be undone (undo_failed above): the host needs a look.\n";
  }
  return out;
}

}  // namespace ptrec
