// The kernel command line for the next boot: which bootloader configuration sets it, what it
// configures, the diff against what the desired state wants and what is running, and the edit.
#pragma once

#include <string>
#include <vector>

#include "providers/host/command_runner.h"
#include "providers/host/host_fs.h"
#include "reconciler/model.h"
#include "reconciler/provider.h"

namespace ptrec::bootloader {

/// Fills host.running_args (proc/cmdline) and host.boot: with \a wanted kAuto, detection goes
///   GRUB with GRUB_ENABLE_BLSCFG=true and usr/sbin/grubby  -> kGrubby (RHEL 8+, Fedora)
///   etc/default/grub                                       -> kGrub (Debian, Ubuntu, RHEL 7)
///   etc/kernel/cmdline                                     -> kKernelInstall (systemd-boot)
/// A named bootloader whose file is missing gives kind kNone and a `problem`. For kGrubby the
/// configured arguments are those of the BLS entries in boot/loader/entries/*.conf ("options"
/// lines; every entry must satisfy the desired state). host.boot.problem says why a file
/// cannot be edited safely (EditGrubDefault's refusals).
void ObserveBoot(const HostFs& fs, Bootloader wanted, HostState& host);

/// What kernelArgs need on this host.
struct BootDiff {
  std::vector<Action> actions;               ///< at most one kEditBootloader (phase boot)
  std::vector<Finding> findings;             ///< refusals: no bootloader, unsafe file
  std::vector<std::string> pending_reboot;   ///< configured but not running yet
};

/// Compares \a want with host.boot.configured (next boot) and host.running_args (now): an
/// edit when the configuration does not satisfy \a want (reboot_required when the running
/// command line does not either), a pending-reboot note when only the running one differs.
/// \a fs reads etc/default/grub.d fragments, which the GRUB edit must take into account.
BootDiff DiffBoot(const KernelArgsSpec& want, const HostState& host, const HostFs& fs);

/// Carries out kEditBootloader. For GRUB and kernel-install: checks the file still holds
/// action.expected (kStale otherwise), keeps a copy in var/lib/ptrec/backup/PATH.TIMESTAMP,
/// writes action.content atomically (mode kept), runs action.argvs (update-grub ...), and
/// restores the file if one fails. For grubby: runs action.argvs. Undo: the previous contents
/// and the same regeneration. The runner is a recording one on sandboxes.
class BootloaderProvider : public Provider {
 public:
  BootloaderProvider(HostFs& fs, CommandRunner& runner) : fs_(fs), runner_(runner) {}
  std::string_view name() const override { return "bootloader"; }
  bool Handles(ActionKind kind) const override { return kind == ActionKind::kEditBootloader; }
  Result<std::vector<Action>> Apply(const Action& action) override;

 private:
  HostFs& fs_;
  CommandRunner& runner_;
};

}  // namespace ptrec::bootloader
