// Persistence: what sysfs writes do is gone after a reboot. ptrec re-establishes it at boot
// with files it owns under the host root, and keeps them in step with the desired state:
//
//   etc/udev/rules.d/70-ptrec.rules   driver_override per BDF as each device appears, before
//                                     any driver module loads (the way driverctl persists
//                                     overrides), and sriov_numvfs per PF when its driver binds
//   etc/systemd/system/ptrec-apply.service   runs `ptrec apply` at boot, before libvirtd
//   etc/ptrec/host.yaml               the desired state that unit applies
//   etc/modprobe.d/ptrec.conf         module options and softdeps (kernel args issue)
//
// Removing something from the desired state removes its traces; when nothing is left to
// persist, the files are removed (no orphan rules). The udev rules and the unit are written
// only on hosts that run udev (run/udev/control) and systemd (run/systemd/system).
#pragma once

#include <string>
#include <vector>

#include "providers/host/command_runner.h"
#include "providers/host/host_fs.h"
#include "reconciler/model.h"
#include "reconciler/provider.h"

namespace ptrec::persist {

inline constexpr const char* kUdevRulesPath = "etc/udev/rules.d/70-ptrec.rules";
inline constexpr const char* kUnitPath = "etc/systemd/system/ptrec-apply.service";
inline constexpr const char* kDesiredCopyPath = "etc/ptrec/host.yaml";

/// What the host offers for persistence.
struct PersistFacts {
  bool udev = false;     ///< run/udev/control exists: udevd runs
  bool systemd = false;  ///< run/systemd/system exists: booted with systemd (sd_booted(3))
  bool update_initramfs = false;  ///< usr/sbin/update-initramfs (Debian): the initramfs carries
  bool dracut = false;            ///< usr/bin/dracut (RHEL): modprobe.d for early modules
};

/// Reads PersistFacts and the current contents of every file ptrec owns into
/// host.owned_files. Missing files are simply absent.
PersistFacts ObservePersistence(const HostFs& fs, HostState& host);

/// The udev rules for \a spec: for each override
///   ACTION=="add", SUBSYSTEM=="pci", KERNEL=="0000:03:00.1", ATTR{driver_override}="vfio-pci"
/// and for each VF count, on the PF driver's "bind" uevent (sriov_numvfs needs a bound PF
/// driver; Documentation/PCI/pci-iov-howto.rst):
///   ACTION=="bind", SUBSYSTEM=="pci", KERNEL=="0000:03:00.0", ATTR{sriov_drivers_autoprobe}="0",
///     ATTR{sriov_numvfs}="7"
/// Deterministic: equal specs give equal text.
std::string RenderUdevRules(const PersistSpec& spec);

/// The boot unit: a oneshot that runs `PTREC apply --auto-approve -f /etc/ptrec/host.yaml`
/// after udev settles and before libvirtd/virtqemud start.
std::string RenderApplyUnit(const std::string& ptrec_path);

/// The owned-file actions that take the host's owned files to what \a plan.persist and
/// \a desired need: write_file actions (phase boot) with the new contents and their follow-up
/// commands (udevadm control --reload; systemctl daemon-reload and enable), and removals.
/// \a modprobe_conf is the wanted etc/modprobe.d/ptrec.conf contents ("" = none).
std::vector<Action> PersistActions(const Plan& plan, const DesiredState& desired, const HostState& host,
                                   const PersistFacts& facts, const std::string& modprobe_conf,
                                   const std::string& ptrec_path);

/// Carries out kWriteFile: writes the file atomically (HostFs::WriteFileAtomic: temp file,
/// fsync, rename, mode kept) or removes it, then runs its commands (for a removal: first).
/// Undo: the previous contents (or removal). Errors: the file system's, or kIo when a command
/// exits non-zero (the file is restored first).
class OwnedFileProvider : public Provider {
 public:
  OwnedFileProvider(HostFs& fs, CommandRunner& runner) : fs_(fs), runner_(runner) {}
  std::string_view name() const override { return "files"; }
  bool Handles(ActionKind kind) const override { return kind == ActionKind::kWriteFile; }
  Result<std::vector<Action>> Apply(const Action& action) override;

 private:
  HostFs& fs_;
  CommandRunner& runner_;
};

/// Runs \a argvs in order through \a runner (60 s each). Errors: kIo with the command's output
/// when one exits non-zero; the runner's errors.
Result<void> RunCommands(CommandRunner& runner, const std::vector<std::vector<std::string>>& argvs);

}  // namespace ptrec::persist
