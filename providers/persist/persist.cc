#include "providers/persist/persist.h"

#include "providers/host/sysfs_paths.h"

namespace ptrec::persist {
namespace {

constexpr const char* kHeader =
    "# Written by ptrec (declarative PCI passthrough). Do not edit: ptrec rewrites this file\n"
    "# from the desired state, and removes it when nothing is left to persist.\n";

// One write_file action: `after` says what the content does, for the plan.
Action FileAction(const HostState& host, const std::string& path, std::string content, std::string after,
                  std::vector<std::vector<std::string>> argvs) {
  Action a;
  a.kind = ActionKind::kWriteFile;
  a.phase = Phase::kBoot;
  a.path = path;
  auto it = host.owned_files.find(path);
  a.before = it == host.owned_files.end() ? "absent" : "present";
  a.remove = content.empty();
  a.content = std::move(content);
  a.after = a.remove ? "absent" : std::move(after);
  a.argvs = std::move(argvs);
  for (const auto& argv : a.argvs) a.commands.push_back(JoinArgv(argv));
  a.reason = a.remove ? "nothing left to persist: ptrec removes the file it wrote"
                      : "keeps the desired state across reboots";
  return a;
}

}  // namespace

PersistFacts ObservePersistence(const HostFs& fs, HostState& host) {
  PersistFacts facts{fs.Exists("run/udev/control"), fs.Exists("run/systemd/system")};
  for (const char* path : {kUdevRulesPath, kUnitPath, kDesiredCopyPath, "etc/modprobe.d/ptrec.conf"})
    if (auto text = fs.ReadFile(path)) host.owned_files[path] = *text;
  return facts;
}

std::string RenderUdevRules(const PersistSpec& spec) {
  std::string out = kHeader;
  out += "# driver_override is set as each device appears, before udev loads any driver module for\n"
         "# it; VF counts are set when the PF's driver binds (sriov_numvfs needs a bound driver).\n";
  for (const auto& o : spec.overrides)
    out += "ACTION==\"add\", SUBSYSTEM==\"pci\", KERNEL==\"" + o.bdf.str() + "\", ATTR{driver_override}=\"" +
           o.driver + "\"\n";
  for (const auto& v : spec.vf_counts) {
    out += "ACTION==\"bind\", SUBSYSTEM==\"pci\", KERNEL==\"" + v.pf.str() + "\", ";
    if (v.autoprobe_off) out += "ATTR{sriov_drivers_autoprobe}=\"0\", ";
    out += "ATTR{sriov_numvfs}=\"" + std::to_string(v.num_vfs) + "\"\n";
  }
  return out;
}

std::string RenderApplyUnit(const std::string& ptrec_path) {
  return std::string(kHeader) +
         "[Unit]\n"
         "Description=ptrec: apply the PCI passthrough desired state\n"
         "After=systemd-udev-settle.service systemd-modules-load.service\n"
         "Wants=systemd-udev-settle.service\n"
         "Before=libvirtd.service virtqemud.service\n"
         "ConditionPathExists=/" + kDesiredCopyPath + "\n"
         "\n"
         "[Service]\n"
         "Type=oneshot\n"
         "RemainAfterExit=yes\n"
         "ExecStart=" + ptrec_path + " apply --auto-approve -f /" + kDesiredCopyPath + "\n"
         "\n"
         "[Install]\n"
         "WantedBy=multi-user.target\n";
}

std::vector<Action> PersistActions(const Plan& plan, const DesiredState& desired, const HostState& host,
                                   const PersistFacts& facts, const std::string& modprobe_conf,
                                   const std::string& ptrec_path) {
  std::vector<Action> out;
  auto want = [&](const std::string& path, const std::string& content, const std::string& after,
                  std::vector<std::vector<std::string>> argvs) {
    auto it = host.owned_files.find(path);
    bool present = it != host.owned_files.end();
    if (content.empty() ? !present : (present && it->second == content)) return;
    out.push_back(FileAction(host, path, content, after, std::move(argvs)));
  };
  const bool runtime = !plan.persist.empty();
  want(kUdevRulesPath, runtime && facts.udev ? RenderUdevRules(plan.persist) : "",
       std::to_string(plan.persist.overrides.size()) + " driver overrides, " +
           std::to_string(plan.persist.vf_counts.size()) + " VF counts",
       {{"udevadm", "control", "--reload"}});
  const bool unit = runtime && facts.systemd;
  want(kDesiredCopyPath, unit ? desired.text : "", "the desired state for the boot unit", {});
  want(kUnitPath, unit ? RenderApplyUnit(ptrec_path) : "", "runs ptrec apply at boot, before libvirtd",
       unit ? std::vector<std::vector<std::string>>{{"systemctl", "daemon-reload"}, {"systemctl", "enable", "ptrec-apply.service"}}
            : std::vector<std::vector<std::string>>{{"systemctl", "disable", "ptrec-apply.service"}});
  // modprobe.d is copied into the initramfs, where early modules (igb with MODULES=most) load:
  // regenerate it, or the options wait for a module reload.
  std::vector<std::vector<std::string>> initramfs;
  if (facts.update_initramfs) initramfs = {{"update-initramfs", "-u"}};
  else if (facts.dracut) initramfs = {{"dracut", "-f"}};
  want("etc/modprobe.d/ptrec.conf", modprobe_conf, "module options for the next module load", initramfs);
  return out;
}

Result<void> RunCommands(CommandRunner& runner, const std::vector<std::vector<std::string>>& argvs) {
  for (const auto& argv : argvs) {
    auto ran = runner.Run(argv, 60'000);
    if (!ran) return std::unexpected(ran.error());
    if (ran->exit_code != 0)
      return Fail(Code::kIo, JoinArgv(argv) + " exited " + std::to_string(ran->exit_code) + ": " +
                                 std::string(TrimRight(ran->output)));
  }
  return {};
}

Result<std::vector<Action>> OwnedFileProvider::Apply(const Action& action) {
  auto old = fs_.ReadFile(action.path);
  if (!old && old.error().code != Code::kNotFound) return std::unexpected(old.error());
  Action undo = action;
  undo.remove = !old.has_value();
  undo.content = old ? *old : "";
  undo.reason = "rollback of " + action.path;
  undo.before = action.remove ? "absent" : "present";
  // Undoing "systemctl enable" is "systemctl disable" (run before the file goes); a restored
  // file gets the same reload commands as a written one.
  undo.argvs.clear();
  for (auto argv : action.argvs) {
    if (argv.size() > 1 && argv[1] == "enable") argv[1] = "disable";
    else if (argv.size() > 1 && argv[1] == "disable") argv[1] = "enable";
    undo.argvs.push_back(std::move(argv));
  }
  undo.commands.clear();
  for (const auto& argv : undo.argvs) undo.commands.push_back(JoinArgv(argv));
  auto restore = [&] {
    if (undo.remove) (void)fs_.RemoveFile(action.path);
    else (void)fs_.WriteFileAtomic(action.path, undo.content);
  };
  if (action.remove) {
    if (auto ran = RunCommands(runner_, action.argvs); !ran) return std::unexpected(ran.error());
    if (auto rm = fs_.RemoveFile(action.path); !rm) return std::unexpected(rm.error());
  } else {
    if (auto w = fs_.WriteFileAtomic(action.path, action.content); !w) return std::unexpected(w.error());
    if (auto ran = RunCommands(runner_, action.argvs); !ran) {
      restore();
      return std::unexpected(ran.error());
    }
  }
  return std::vector<Action>{undo};
}

}  // namespace ptrec::persist
