#include "providers/bootloader/boot_config.h"

#include <algorithm>
#include <chrono>

#include "providers/bootloader/cmdline.h"
#include "providers/bootloader/grub_default.h"
#include "providers/bootloader/grubby.h"
#include "providers/bootloader/kernel_cmdline_file.h"
#include "providers/host/sysfs_paths.h"
#include "providers/persist/persist.h"

namespace ptrec::bootloader {
namespace {

constexpr const char* kBlsDir = "boot/loader/entries";

std::string Args(const std::vector<KernelArg>& args) { return args.empty() ? "(none)" : FormatCmdline(args); }

// The "options" line of a BLS entry (The Boot Loader Specification, type #1).
std::vector<KernelArg> BlsOptions(std::string_view text) {
  for (std::string_view line : SplitLines(text))
    if (line.starts_with("options ") || line.starts_with("options\t")) return ParseCmdline(line.substr(8));
  return {};
}

// etc/default/grub.d/*.cfg, sorted: grub-mkconfig sources them after etc/default/grub
// (Ubuntu cloud images set GRUB_CMDLINE_LINUX_DEFAULT again in 50-cloudimg-settings.cfg).
std::vector<GrubFile> GrubFragments(const HostFs& fs) {
  std::vector<GrubFile> out;
  for (const auto& name : fs.ListDir(std::string(kGrubDefaultDir)).value_or(std::vector<std::string>{})) {
    if (!name.ends_with(".cfg")) continue;
    std::string path = std::string(kGrubDefaultDir) + "/" + name;
    if (auto text = fs.ReadFile(path)) out.push_back({path, *text});
  }
  return out;
}

std::vector<GrubFile> GrubChain(const std::string& main_text, const std::vector<GrubFile>& later) {
  std::vector<GrubFile> files = {{std::string(kGrubDefaultPath), main_text}};
  files.insert(files.end(), later.begin(), later.end());
  return files;
}

void ObserveGrub(const HostFs& fs, HostState& host) {
  BootConfig& b = host.boot;
  b.kind = BootConfig::Kind::kGrub;
  b.file = std::string(kGrubDefaultPath);
  auto args = NormalBootArgs(GrubChain(b.text, GrubFragments(fs)));
  if (!args) b.problem = args.error().message;
  else b.configured = *args;
  GrubHostFacts facts;
  facts.update_grub = fs.Exists("usr/sbin/update-grub");
  facts.grub2_mkconfig = fs.Exists("usr/sbin/grub2-mkconfig");
  for (const auto& id : fs.ListDir("boot/efi/EFI").value_or(std::vector<std::string>{})) {
    std::string cfg = "boot/efi/EFI/" + id + "/grub.cfg";
    if (auto text = fs.ReadFile(cfg)) {
      facts.efi_grub_cfg = cfg;
      facts.efi_grub_cfg_is_stub = IsGrubEfiStub(*text);
      break;
    }
  }
  b.regenerate = {RegenerateCommand(facts)};
}

void ObserveGrubby(const HostFs& fs, HostState& host) {
  BootConfig& b = host.boot;
  b.kind = BootConfig::Kind::kGrubby;
  b.file = kBlsDir;
  b.text.clear();
  bool first = true;
  for (const auto& entry : fs.ListDir(kBlsDir).value_or(std::vector<std::string>{})) {
    if (!entry.ends_with(".conf")) continue;
    auto text = fs.ReadFile(std::string(kBlsDir) + "/" + entry);
    if (!text) continue;
    b.text += *text;  // for the fingerprint
    auto args = BlsOptions(*text);
    // Report the first entry; DiffBoot checks every one through the text.
    if (first) b.configured = args;
    first = false;
  }
  if (first) b.problem = "no boot entries in " + std::string(kBlsDir);
}

}  // namespace

// The entries of installed kernels only get the new /etc/kernel/cmdline when kernel-install
// writes them again: `kernel-install add VERSION IMAGE` per kernel in lib/modules/ that has
// an image (lib/modules/VERSION/vmlinuz as Fedora and Arch ship it, else boot/vmlinuz-VERSION
// as Debian does), in version order. None without usr/bin/kernel-install, or without images:
// the file then takes effect with the next kernel installed.
static std::vector<std::vector<std::string>> KernelInstallCommands(const HostFs& fs) {
  std::vector<std::vector<std::string>> out;
  if (!fs.Exists("usr/bin/kernel-install")) return out;
  auto versions = fs.ListDir("lib/modules").value_or(std::vector<std::string>{});
  std::sort(versions.begin(), versions.end());
  for (const auto& v : versions) {
    for (const std::string& image : {"lib/modules/" + v + "/vmlinuz", "boot/vmlinuz-" + v}) {
      if (!fs.Exists(image)) continue;
      out.push_back({"kernel-install", "add", v, "/" + image});
      break;
    }
  }
  return out;
}

void ObserveBoot(const HostFs& fs, Bootloader wanted, HostState& host) {
  host.running_args = ParseCmdline(host.cmdline);
  host.boot = BootConfig{};
  auto grub = fs.ReadFile(std::string(kGrubDefaultPath));
  auto kernel_cmdline = fs.ReadFile(std::string(kKernelCmdlinePath));
  bool grubby = grub && GrubBlsEnabled(*grub) && fs.Exists("usr/sbin/grubby");
  if (wanted == Bootloader::kAuto)
    wanted = grubby ? Bootloader::kGrubby : grub ? Bootloader::kGrub : kernel_cmdline ? Bootloader::kKernelInstall : Bootloader::kAuto;
  switch (wanted) {
    case Bootloader::kGrub:
      if (!grub) break;
      host.boot.text = *grub;
      ObserveGrub(fs, host);
      return;
    case Bootloader::kGrubby:
      ObserveGrubby(fs, host);
      return;
    case Bootloader::kKernelInstall: {
      // No etc/kernel/cmdline yet: kernel-install falls back to usr/lib/kernel/cmdline, then to
      // today's command line; seed the new file from that so root= and the rest survive.
      host.boot.kind = BootConfig::Kind::kKernelInstall;
      host.boot.file = std::string(kKernelCmdlinePath);
      auto vendor = fs.ReadFile(std::string(kVendorKernelCmdlinePath));
      std::string seed = kernel_cmdline ? *kernel_cmdline : vendor ? *vendor : KernelCmdlineSeed(host.cmdline);
      host.boot.text = kernel_cmdline ? *kernel_cmdline : "";
      host.boot.configured = ReadKernelCmdlineFile(seed);
      host.boot.regenerate = KernelInstallCommands(fs);
      if (!kernel_cmdline) host.boot.seed = seed;
      return;
    }
    case Bootloader::kAuto:
      break;
  }
  host.boot.problem = "no bootloader configuration found (etc/default/grub, etc/kernel/cmdline, or grubby with BLS entries)";
}

BootDiff DiffBoot(const KernelArgsSpec& want, const HostState& host, const HostFs& fs) {
  BootDiff diff;
  const BootConfig& b = host.boot;
  if (b.kind == BootConfig::Kind::kNone || !b.problem.empty()) {
    diff.findings.push_back({Finding::Severity::kRefusal, "kernelArgs",
                             "cannot set kernel arguments: " + b.problem,
                             "name the bootloader with kernelArgs.bootloader, or edit the command line by hand", want.pos});
    return diff;
  }
  const bool running_ok = Satisfies(host.running_args, want);
  const bool configured_ok = Satisfies(b.configured, want);
  std::string wanted;
  for (const auto& a : want.present) wanted += (wanted.empty() ? "" : " ") + a.str();
  for (const auto& k : want.absent) wanted += (wanted.empty() ? "-" : " -") + k;
  if (configured_ok) {
    if (!running_ok)
      diff.pending_reboot.push_back("kernel arguments (" + wanted + ") are configured in " + b.file +
                                    " for the next boot but not running (proc/cmdline: " + Args(host.running_args) + ")");
    return diff;
  }
  Action a;
  a.kind = ActionKind::kEditBootloader;
  a.phase = Phase::kBoot;
  a.path = b.file;
  a.before = Args(b.configured);
  a.after = Args(ApplyKernelArgs(b.configured, want).args);
  a.reason = "kernelArgs (" + want.pos.str() + ") want " + wanted;
  a.reboot_required = !running_ok;
  if (b.kind == BootConfig::Kind::kGrubby) {
    auto argv = GrubbyUpdateCommand(want);
    if (!argv) {
      diff.findings.push_back({Finding::Severity::kRefusal, "kernelArgs", argv.error().message, "", want.pos});
      return diff;
    }
    a.argvs = {*argv};
  } else {
    a.expected = b.text;
    if (b.kind == BootConfig::Kind::kGrub) {
      auto later = GrubFragments(fs);
      auto edit = EditGrubDefault(b.text, want, GrubVar::kCmdlineLinux, later);
      if (!edit) {
        diff.findings.push_back({Finding::Severity::kRefusal, "kernelArgs", edit.error().message,
                                 "simplify that line of " + b.file + " by hand; ptrec will not guess", want.pos});
        return diff;
      }
      a.content = edit->text;
      // GRUB appends to GRUB_CMDLINE_LINUX, which comes first on the boot line: show the line
      // the edited files give, not a generic edit.
      if (auto after = NormalBootArgs(GrubChain(edit->text, later))) a.after = Args(*after);
      a.argvs = b.regenerate;
    } else {
      a.content = EditKernelCmdlineFile(b.seed.empty() ? b.text : b.seed, want).text;
      a.argvs = b.regenerate;  // kernel-install add, per installed kernel
    }
  }
  for (const auto& argv : a.argvs) a.commands.push_back(JoinArgv(argv));
  diff.actions.push_back(std::move(a));
  return diff;
}

Result<std::vector<Action>> BootloaderProvider::Apply(const Action& action) {
  if (action.content.empty()) {  // grubby: the command edits the entries itself
    if (auto ran = persist::RunCommands(runner_, action.argvs); !ran) return std::unexpected(ran.error());
    return std::vector<Action>{};  // grubby keeps no copy: undo is by hand (the plan says what changed)
  }
  auto current = fs_.ReadFile(action.path);
  if (!current) return std::unexpected(current.error());
  if (*current != action.expected)
    return Fail(Code::kStale, action.path + " changed since the plan was made: run ptrec plan again", action.path);
  auto stamp = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::string backup = paths::StateDir() + "/backup/" + action.path + "." + std::to_string(stamp);
  if (auto b = fs_.WriteFileAtomic(backup, *current, 0600); !b) return std::unexpected(b.error());
  if (auto w = fs_.WriteFileAtomic(action.path, action.content); !w) return std::unexpected(w.error());
  if (auto ran = persist::RunCommands(runner_, action.argvs); !ran) {
    (void)fs_.WriteFileAtomic(action.path, *current);
    return std::unexpected(ran.error());
  }
  Action undo = action;
  undo.content = *current;
  undo.expected = action.content;
  undo.before = action.after;
  undo.after = action.before;
  undo.reason = "rollback of " + action.path + " (backup " + backup + ")";
  return std::vector<Action>{undo};
}

}  // namespace ptrec::bootloader
