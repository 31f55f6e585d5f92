#include "reconciler/cli/commands.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>

#include "providers/binding/binding_provider.h"
#include "providers/bootloader/boot_config.h"
#include "providers/host/command_runner.h"
#include "providers/host/host_fs.h"
#include "providers/modules/module_provider.h"
#include "providers/modules/modprobe_conf.h"
#include "providers/pci/discovery.h"
#include "providers/persist/persist.h"
#include "providers/simkernel/sim_commands.h"
#include "providers/simkernel/sim_kernel.h"
#include "providers/snapshot/snapshot.h"
#include "providers/simkernel/host_builder.h"
#include "providers/sriov/sriov_provider.h"
#include "providers/state/journal.h"
#include "providers/state/ledger_store.h"
#include "providers/vm/vm_backend.h"
#include "providers/vm/vm_provider.h"
#include "reconciler/executor.h"
#include "reconciler/json_io.h"
#include "reconciler/plan.h"
#include "reconciler/render.h"
#include "schema/desired.h"

namespace ptrec::cli {
namespace {

using nlohmann::json;

// Prints an error: to stderr as text, and with --json also to stdout as a document.
int ReportError(const HostOptions& opts, const Error& e) {
  std::cerr << "ptrec: " << e.message << "\n";
  if (opts.json)
    std::cout << json{{"format_version", kJsonFormatVersion}, {"kind", "error"},
                      {"error", {{"code", CodeName(e.code)}, {"message", e.message}}}}.dump(2)
              << "\n";
  return kExitError;
}

int ReportDiagnostics(bool as_json, const schema::Diagnostics& diags) {
  for (const auto& d : diags) std::cerr << d.str() << "\n";
  std::cerr << diags.size() << (diags.size() == 1 ? " problem" : " problems")
            << " in the desired state; nothing was planned or changed.\n";
  if (as_json) {
    json list = json::array();
    for (const auto& d : diags)
      list.push_back({{"file", d.pos.file}, {"line", d.pos.line}, {"column", d.pos.column},
                      {"message", d.message}, {"hint", d.hint}, {"text", d.str()}});
    std::cout << json{{"format_version", kJsonFormatVersion}, {"kind", "error"},
                      {"error", {{"code", "invalid"}, {"message", diags.front().str()}}},
                      {"diagnostics", list}}.dump(2)
              << "\n";
  }
  return kExitError;
}

// The host a command works on, with the seams that fit it.
struct Host {
  std::unique_ptr<HostFs> fs;
  std::unique_ptr<CommandRunner> runner;
  bool live = false;
};

// Opens the host root. A live root (its sys/ is a mounted sysfs) gets real writes and real
// commands; any other root is a sandbox: no command runs on this machine, and writes need
// --simulate so that something answers them the way the kernel would.
Result<Host> OpenHost(const HostOptions& opts, bool for_writes) {
  Host host;
  host.live = IsLiveSysfs(opts.root);
  if (opts.simulate && host.live)
    return Fail(Code::kRefused, "--simulate needs a host root that is a copy (a snapshot or a sandbox); " +
                                    opts.root + " is the live kernel's sysfs");
  if (for_writes && !host.live && !opts.simulate)
    return Fail(Code::kRefused, opts.root + " is not a live host (its sys/ is not sysfs), so no kernel would "
                                "answer the writes; add --simulate to rehearse the change on it");
  if (opts.simulate) {
    auto sim = sim::SimKernelFs::Open(opts.root);
    if (!sim) return std::unexpected(sim.error());
    host.runner = std::make_unique<sim::SimCommandRunner>(**sim);
    host.fs = std::move(*sim);
  } else {
    host.fs = std::make_unique<RealHostFs>(opts.root);
    if (host.live) host.runner = std::make_unique<SpawnRunner>();
    else host.runner = std::make_unique<RecordingRunner>();
  }
  return host;
}

pci::DiscoverOptions OptionsFor(const DesiredState& desired) {
  pci::DiscoverOptions o;
  o.display_facts = false;
  auto add = [&](const std::string& driver) {
    if (!driver.empty()) o.modules_of_interest.insert(ModuleName(driver));
  };
  for (const auto& h : desired.hide) add(h.driver);
  for (const auto& s : desired.sriov) add(s.vf_driver);
  for (const auto& m : desired.modules) o.module_params_of.insert(m.name);
  return o;
}

// Bootloader values by enum order, as kernelArgs.bootloader spells them (plan files).
constexpr std::array<std::string_view, 4> kBootloaderNames = {"auto", "grub", "grubby", "kernel-install"};

// VMs without an explicit uri/qmp: the host's libvirt only on the real root; a sandbox root's
// domains are simulated from its XML files (notes/vm-api.md safety rule).
vm::DefaultConnection VmDefault(const HostOptions& opts) {
  std::error_code ec;
  auto root = std::filesystem::weakly_canonical(opts.root, ec);
  return !ec && root == "/" ? vm::DefaultConnection::kHostLibvirt : vm::DefaultConnection::kSimulated;
}

// Describes the domains \a vms and the ledger name into state.vms.
void ObserveVms(vm::Backends& backends, const std::vector<VmSpec>& vms, HostState& state) {
  state.vms = vm::ObserveVms(vms, state.ledger, backends);
}

Color ColorFor(const HostOptions& opts) { return opts.color ? Color::kYes : Color::kNo; }

// The running binary's absolute path, for the boot unit's ExecStart.
std::string SelfPath() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("/usr/bin/ptrec");
}

// The whole plan: the planner's actions, plus the owned-file actions that persist them.
Plan MakePlan(const DesiredState& desired, HostState& state, const HostFs& fs) {
  persist::PersistFacts facts = persist::ObservePersistence(fs, state);
  if (desired.kernel_args) bootloader::ObserveBoot(fs, desired.kernel_args->bootloader, state);
  Plan plan = ComputePlan(desired, state);
  std::vector<Action> more;
  if (desired.kernel_args) {
    auto boot = bootloader::DiffBoot(*desired.kernel_args, state, fs);
    more.insert(more.end(), boot.actions.begin(), boot.actions.end());
    plan.findings.insert(plan.findings.end(), boot.findings.begin(), boot.findings.end());
    plan.pending_reboot.insert(plan.pending_reboot.end(), boot.pending_reboot.begin(), boot.pending_reboot.end());
  }
  auto mods = modules::DiffModules(desired.modules, fs, state);
  more.insert(more.end(), mods.actions.begin(), mods.actions.end());
  plan.pending_reboot.insert(plan.pending_reboot.end(), mods.pending_reboot.begin(), mods.pending_reboot.end());
  plan.findings.insert(plan.findings.end(), mods.findings.begin(), mods.findings.end());

  // ptrec's modprobe.d: the modules entries, plus max_vfs for PFs counted by module parameter
  // (one value per PF of that driver, in BDF order; PFs not in the desired state keep theirs).
  modules::ModprobeConf conf = modules::ModprobeConfFromSpecs(desired.modules);
  std::map<std::string, std::vector<int>> max_vfs;
  for (const auto& d : state.devices) {
    if (!d.sriov || d.driver.empty()) continue;
    bool counted = false;
    for (const auto& m : plan.persist.module_param_vfs) counted = counted || m.driver == d.driver;
    if (!counted) continue;
    int n = d.sriov->num_vfs;
    for (const auto& m : plan.persist.module_param_vfs)
      if (m.pf == d.bdf) n = m.num_vfs;
    max_vfs[d.driver].push_back(n);
  }
  for (const auto& [driver, list] : max_vfs) {
    if (!modules::AddOption(conf, ModuleName(driver), "max_vfs", modules::MaxVfsList(list)))
      plan.findings.push_back({Finding::Severity::kRefusal, "modules",
                               "module " + ModuleName(driver) + " gets max_vfs from a modules entry and " +
                                   modules::MaxVfsList(list) + " from sriov entries with method: module-param",
                               "set the VF counts in one place only", {}});
  }
  std::string modprobe_conf = conf.empty() ? "" : modules::RenderModprobeConf(conf);
  if (!plan.refused()) {
    facts.update_initramfs = fs.Exists("usr/sbin/update-initramfs");
    facts.dracut = fs.Exists("usr/bin/dracut");
    auto files = persist::PersistActions(plan, desired, state, facts, modprobe_conf, SelfPath());
    more.insert(more.end(), files.begin(), files.end());
  }
  AppendActions(plan, std::move(more));
  return plan;
}

// Runs \a plan on \a host through every provider, journaled; \a on_step may be empty.
ApplyResult Execute(Host& host, HostState& state, const Plan& plan, int jobs, vm::Backends& backends,
                    std::function<void(const Action&, const StepOutcome&)> on_step) {
  state::LedgerBook ledger(*host.fs, state.ledger);
  state::FileJournal journal(*host.fs);
  binding::BindingProvider binder(*host.fs, ledger);
  sriov::SriovProvider sriov(*host.fs, ledger);
  modules::ModuleProvider modules(*host.fs, *host.runner);
  persist::OwnedFileProvider files(*host.fs, *host.runner);
  bootloader::BootloaderProvider boot(*host.fs, *host.runner);
  vm::VmProvider vms(backends, ledger, *host.fs);
  Executor executor({&boot, &files, &modules, &sriov, &binder, &vms}, &journal, jobs);
  if (on_step) executor.set_on_step(std::move(on_step));
  return executor.Run(plan);
}

// The desired state with its text, read once more from \a path when the parser kept none.
void KeepText(DesiredState& desired, const std::string& path) {
  if (!desired.text.empty() || path == "-") return;
  std::ifstream in(path);
  desired.text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string JournalWarning(const HostFs& fs) {
  std::string status = state::LastJournalStatus(fs);
  if (status == "running")
    return "the last apply on this host was interrupted (var/lib/ptrec/journal.jsonl says running): check the "
           "devices it lists before going on";
  if (status == "needs_attention")
    return "the last apply on this host failed and could not undo every step (var/lib/ptrec/journal.jsonl)";
  return {};
}

void AddJournalFinding(const HostFs& fs, Plan& plan) {
  std::string warning = JournalWarning(fs);
  if (!warning.empty()) plan.findings.insert(plan.findings.begin(), {Finding::Severity::kWarning, "journal", warning, "", {}});
}

// Asks on the terminal; anything but "yes" declines.
bool Confirm(size_t actions) {
  std::cout << "\nApply these " << actions << " action(s)? Only 'yes' will be accepted: " << std::flush;
  std::string answer;
  std::getline(std::cin, answer);
  return answer == "yes";
}

}  // namespace

int RunShow(const HostOptions& opts) {
  auto host = OpenHost(opts, false);
  if (!host) return ReportError(opts, host.error());
  auto state = pci::DiscoverHost(*host->fs);
  if (!state) return ReportError(opts, state.error());
  vm::Backends backends(*host->fs, VmDefault(opts));
  ObserveVms(backends, vm::ListDefaultDomains(backends), *state);
  if (opts.json) std::cout << HostToJson(*state).dump(2) << "\n";
  else std::cout << RenderHost(*state, ColorFor(opts));
  return kExitOk;
}

int RunValidate(const std::string& desired_file, bool as_json) {
  auto desired = schema::LoadDesired(desired_file);
  if (!desired) return ReportDiagnostics(as_json, desired.error());
  if (as_json)
    std::cout << json{{"format_version", kJsonFormatVersion}, {"kind", "validate"}, {"valid", true},
                      {"source", desired->source}}.dump(2)
              << "\n";
  else
    std::cout << desired->source << ": valid (" << desired->sriov.size() << " sriov, " << desired->hide.size()
              << " hide entries)\n";
  return kExitOk;
}

int RunPlan(const HostOptions& opts, const std::string& desired_file, const std::string& out_file) {
  auto desired = schema::LoadDesired(desired_file);
  if (!desired) return ReportDiagnostics(opts.json, desired.error());
  auto host = OpenHost(opts, false);
  if (!host) return ReportError(opts, host.error());
  auto state = pci::DiscoverHost(*host->fs, OptionsFor(*desired));
  if (!state) return ReportError(opts, state.error());
  vm::Backends backends(*host->fs, VmDefault(opts));
  ObserveVms(backends, desired->vms, *state);
  KeepText(*desired, desired_file);
  Plan plan = MakePlan(*desired, *state, *host->fs);
  AddJournalFinding(*host->fs, plan);
  if (!out_file.empty()) {
    std::ofstream out(out_file);
    json doc = PlanToJson(plan, desired->source);
    // The modules whose running parameters the fingerprint covers: `apply FILE` reads the same.
    doc["fingerprint_modules"] = OptionsFor(*desired).module_params_of;
    // The bootloader whose text the fingerprint covers (kernelArgs only): `apply FILE` reads it.
    if (desired->kernel_args) doc["fingerprint_bootloader"] = std::string(kBootloaderNames[static_cast<size_t>(desired->kernel_args->bootloader)]);
    out << doc.dump(2) << "\n";
    if (!out) return ReportError(opts, Error{Code::kIo, "cannot write the plan to " + out_file});
  }
  if (opts.json) std::cout << PlanToJson(plan, desired->source).dump(2) << "\n";
  else {
    std::cout << RenderPlan(plan, ColorFor(opts));
    if (!out_file.empty() && !plan.refused())
      std::cout << "\nSaved the plan to " << out_file << ". Run `ptrec apply " << out_file
                << (opts.root == "/" ? "" : " --root " + opts.root) << "` to carry out exactly these actions.\n";
  }
  if (plan.refused()) return kExitError;
  return plan.has_changes() ? kExitChanges : kExitOk;
}

int RunApply(const HostOptions& opts, const std::string& desired_file, const std::string& plan_file,
             bool auto_approve) {
  std::optional<DesiredState> desired;
  if (!desired_file.empty()) {
    auto loaded = schema::LoadDesired(desired_file);
    if (!loaded) return ReportDiagnostics(opts.json, loaded.error());
    desired = std::move(*loaded);
  }
  auto host = OpenHost(opts, true);
  if (!host) return ReportError(opts, host.error());
  auto lock = state::ApplyLock::Acquire(*host->fs, opts.root);
  if (!lock) return ReportError(opts, lock.error());
  json doc;
  pci::DiscoverOptions discover{.display_facts = false};
  if (desired) {
    discover = OptionsFor(*desired);
  } else {
    std::ifstream in(plan_file);
    if (!in) return ReportError(opts, Error{Code::kNotFound, "cannot read plan file " + plan_file});
    doc = json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) return ReportError(opts, Error{Code::kInvalid, plan_file + " is not JSON: is it a file from `ptrec plan -out`?"});
    if (auto m = doc.find("fingerprint_modules"); m != doc.end() && m->is_array())
      for (const auto& name : *m)
        if (name.is_string()) discover.module_params_of.insert(name.get<std::string>());
  }
  auto state = pci::DiscoverHost(*host->fs, discover);
  if (!state) return ReportError(opts, state.error());
  vm::Backends backends(*host->fs, VmDefault(opts));

  Plan plan;
  std::string source;
  if (desired) {
    ObserveVms(backends, desired->vms, *state);
    KeepText(*desired, desired_file);
    plan = MakePlan(*desired, *state, *host->fs);
    source = desired->source;
  } else {
    auto loaded = PlanFromJson(doc);
    if (!loaded) return ReportError(opts, Error{Code::kInvalid, plan_file + ": " + loaded.error().message});
    plan = std::move(*loaded);
    source = doc.value("source", plan_file);
    (void)persist::ObservePersistence(*host->fs, *state);  // owned files are in the fingerprint
    if (auto b = doc.find("fingerprint_bootloader"); b != doc.end() && b->is_string()) {  // and the bootloader text
      auto known = std::find(kBootloaderNames.begin(), kBootloaderNames.end(), b->get<std::string>());
      if (known == kBootloaderNames.end())
        return ReportError(opts, Error{Code::kInvalid, plan_file + ": unknown fingerprint_bootloader " + b->dump()});
      bootloader::ObserveBoot(*host->fs, static_cast<Bootloader>(known - kBootloaderNames.begin()), *state);
    }
    ObserveVms(backends, plan.vms, *state);
    if (plan.fingerprint != state->Fingerprint())
      return ReportError(opts, Error{Code::kStale, "the plan in " + plan_file + " is stale: the host changed since it was made (fingerprint " +
                                                       plan.fingerprint + ", now " + state->Fingerprint() +
                                                       "); run `ptrec plan` again"});
  }
  AddJournalFinding(*host->fs, plan);

  if (!opts.json) std::cout << RenderPlan(plan, ColorFor(opts));
  if (plan.refused()) {
    if (opts.json) {
      ApplyResult refused;
      refused.error = Error{Code::kRefused, "the plan has refusals (see findings); nothing was changed"};
      std::cout << ApplyToJson(plan, refused, source).dump(2) << "\n";
    }
    return kExitError;
  }
  if (!plan.has_changes()) {
    if (opts.json) {
      ApplyResult none;
      none.ok = true;
      std::cout << ApplyToJson(plan, none, source).dump(2) << "\n";
    }
    return kExitOk;
  }
  if (!auto_approve) {
    if (!::isatty(STDIN_FILENO))
      return ReportError(opts, Error{Code::kRefused, "not applying without confirmation: standard input is not a terminal; pass --auto-approve"});
    if (!Confirm(plan.actions.size())) {
      std::cout << "Apply cancelled; nothing was changed.\n";
      return kExitError;
    }
  }

  if (!opts.json) std::cout << "\n";
  std::function<void(const Action&, const StepOutcome&)> progress;
  if (opts.terminal && !opts.json) {
    // Progress as steps finish (in completion order); the report below is in plan order.
    progress = [finished = size_t{0}, total = plan.actions.size()](const Action& a, const StepOutcome& s) mutable {
      std::cout << "  … [" << ++finished << "/" << total << "] " << StepStatusName(s.status) << " " << a.subject()
                << "\n" << std::flush;
    };
  }
  ApplyResult result = Execute(*host, *state, plan, opts.jobs, backends, std::move(progress));
  if (opts.json) std::cout << ApplyToJson(plan, result, source).dump(2) << "\n";
  else std::cout << RenderApply(plan, result, ColorFor(opts));
  return result.ok ? kExitOk : kExitError;
}

int RunSnapshot(const HostOptions& opts, const std::string& out_dir) {
  auto host = OpenHost(opts, false);
  if (!host) return ReportError(opts, host.error());
  auto taken = snapshot::TakeSnapshot(*host->fs, out_dir);
  if (!taken) return ReportError(opts, taken.error());
  std::cout << "Snapshot of " << opts.root << " written to " << out_dir << " (" << taken->files << " files, "
            << taken->links << " links). Plan offline with: ptrec plan -f host.yaml --root " << out_dir << "\n";
  return kExitOk;
}

int RunSandboxCreate(const std::string& spec_file, const std::string& out_dir) {
  HostOptions opts;
  auto spec = sim::LoadHostSpec(spec_file);
  if (!spec) return ReportError(opts, spec.error());
  if (auto built = sim::BuildHost(*spec, out_dir); !built) return ReportError(opts, built.error());
  std::cout << "Sandbox host from " << spec_file << " built in " << out_dir << ".\nTry: ptrec show --root " << out_dir
            << "\n";
  return kExitOk;
}

// ---------------------------------------------------------------------------------------------
// Building blocks for `ptrec serve` (reconciler/serve/)
// ---------------------------------------------------------------------------------------------

Result<HostPlan> DiscoverAndPlan(const HostOptions& opts, DesiredState desired) {
  auto host = OpenHost(opts, false);
  if (!host) return std::unexpected(host.error());
  pci::DiscoverOptions discover = OptionsFor(desired);
  discover.display_facts = true;  // one discovery serves `show --json` and the plan
  auto state = pci::DiscoverHost(*host->fs, discover);
  if (!state) return std::unexpected(state.error());
  vm::Backends backends(*host->fs, VmDefault(opts));
  ObserveVms(backends, desired.vms, *state);
  HostPlan out;
  out.plan = MakePlan(desired, *state, *host->fs);
  AddJournalFinding(*host->fs, out.plan);
  out.state = std::move(*state);
  return out;
}

Result<AppliedPlan> ApplyDesired(const HostOptions& opts, const DesiredState& desired,
                                 const std::string& expected_fingerprint) {
  auto host = OpenHost(opts, true);
  if (!host) return std::unexpected(host.error());
  auto lock = state::ApplyLock::Acquire(*host->fs, opts.root);
  if (!lock) return std::unexpected(lock.error());
  auto state = pci::DiscoverHost(*host->fs, OptionsFor(desired));
  if (!state) return std::unexpected(state.error());
  if (!expected_fingerprint.empty() && expected_fingerprint != state->Fingerprint())
    return Fail(Code::kStale, "the host changed since the plan with fingerprint " + expected_fingerprint +
                                  " was made (now " + state->Fingerprint() + "); fetch the plan again");
  vm::Backends backends(*host->fs, VmDefault(opts));
  ObserveVms(backends, desired.vms, *state);
  AppliedPlan out;
  out.plan = MakePlan(desired, *state, *host->fs);
  AddJournalFinding(*host->fs, out.plan);
  if (out.plan.refused()) {
    out.result.error = Error{Code::kRefused, "the plan has refusals (see findings); nothing was changed"};
    return out;
  }
  if (!out.plan.has_changes()) {
    out.result.ok = true;
    return out;
  }
  out.result = Execute(*host, *state, out.plan, opts.jobs, backends, {});
  return out;
}

}  // namespace ptrec::cli
