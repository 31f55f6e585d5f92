#include "providers/binding/binding_provider.h"

#include "providers/host/sysfs_paths.h"
#include "providers/pci/discovery.h"

namespace ptrec::binding {
namespace {

std::string OrNone(const std::string& driver) { return driver.empty() ? "(none)" : driver; }

Error Context(Error e, const std::string& what) {
  e.message = what + ": " + e.message;
  return e;
}

// Why a host driver's probe fails on a device whose IOMMU group a VFIO user holds: the
// processes with /dev/vfio/GROUP open, found through proc/PID/fd/* links, as
// "1234 (qemu-system-x86)". Empty when the group is not held, or proc shows no fds (sandbox).
// Kernel: really_probe -> pci_dma_configure -> iommu_device_use_default_domain gives -EBUSY
// while the group's DMA is owned by a VFIO container; drivers_probe_store turns it into -EINVAL.
std::vector<std::string> VfioGroupHolders(const HostFs& fs, Bdf bdf) {
  std::vector<std::string> holders;
  auto group = fs.ReadLink(paths::PciDeviceAttr(bdf, "iommu_group"));
  if (!group) return holders;
  const std::string node = "/dev/vfio/" + std::string(paths::Basename(*group));
  auto pids = fs.ListDir("proc");
  if (!pids) return holders;
  for (const auto& pid : *pids) {
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    auto fds = fs.ListDir("proc/" + pid + "/fd");
    if (!fds) continue;
    for (const auto& fd : *fds) {
      auto target = fs.ReadLink("proc/" + pid + "/fd/" + fd);
      if (!target || *target != node) continue;
      std::string comm(TrimRight(fs.ReadFile("proc/" + pid + "/comm").value_or("?")));
      holders.push_back(pid + " (" + comm + ")");
      break;
    }
  }
  return holders;
}

// Appends the holders of the device's IOMMU group to a failed host-driver probe's message.
Error ExplainHeldGroup(const HostFs& fs, Bdf bdf, const std::string& driver, Error e) {
  auto holders = VfioGroupHolders(fs, bdf);
  if (holders.empty()) return e;
  std::string list;
  for (const auto& h : holders) list += (list.empty() ? "" : ", ") + h;
  auto link = fs.ReadLink(paths::PciDeviceAttr(bdf, "iommu_group"));
  const std::string group(paths::Basename(link.value_or("?")));
  e.message += "; IOMMU group " + group + " is held through /dev/vfio/" + group + " by " + list +
               " (a VM or other VFIO user owns the group's DMA, so the kernel refuses " + driver +
               ", a DMA-API driver, on every device of the group until it closes the group)";
  return e;
}

}  // namespace

Result<Bdf> ResolveVf(const HostFs& fs, Bdf pf, int index) {
  auto link = fs.ReadLink(paths::PciVirtfn(pf, index));
  if (!link)
    return Fail(Code::kNotFound, "VF " + std::to_string(index) + " of " + pf.str() + " does not exist (no virtfn" +
                                     std::to_string(index) + " link)", paths::PciVirtfn(pf, index));
  auto bdf = Bdf::Parse(paths::Basename(*link));
  if (!bdf) return Fail(Code::kInvalid, "virtfn link of " + pf.str() + " names no BDF: " + *link);
  return *bdf;
}

Result<std::vector<Action>> BindingProvider::Apply(const Action& action) {
  return action.kind == ActionKind::kBind ? Bind(action) : Release(action);
}

Result<void> BindingProvider::Move(Bdf bdf, const std::string& from_driver, const std::string& driver,
                                   const std::string& override_value, bool explicit_bind) {
  auto write = [&](const std::string& path, const std::string& data) { return fs_.WriteAttribute(path, data); };
  // An empty override is cleared with a lone newline (drivers/base/driver.c driver_set_override).
  if (auto w = write(paths::PciDeviceAttr(bdf, "driver_override"), override_value.empty() ? "\n" : override_value); !w)
    return std::unexpected(Context(w.error(), "set driver_override of " + bdf.str()));
  if (!from_driver.empty() && from_driver != driver) {
    if (auto w = write(paths::PciDeviceAttr(bdf, "driver/unbind"), bdf.str()); !w)
      return std::unexpected(Context(w.error(), "unbind " + bdf.str() + " from " + from_driver));
  }
  if (!driver.empty() && from_driver != driver) {
    Result<void> w;
    if (explicit_bind) w = write(paths::PciDriverAttr(driver, "bind"), bdf.str());
    if (!explicit_bind || !w) w = write(paths::PciDriversProbe(), bdf.str());
    if (!w)
      return std::unexpected(
          ExplainHeldGroup(fs_, bdf, driver, Context(w.error(), "probe " + bdf.str() + " for " + driver)));
  }
  auto now = pci::ReadDriver(fs_, bdf);
  if (!now) return std::unexpected(now.error());
  if (*now != driver)
    return std::unexpected(ExplainHeldGroup(
        fs_, bdf, driver,
        Error{Code::kVerifyFailed,
              bdf.str() + " did not bind to " + OrNone(driver) + ": its driver is " + OrNone(*now) +
                  " after the writes (the kernel log, dmesg, says why the probe failed)",
              paths::PciDeviceAttr(bdf, "driver")}));
  return {};
}

namespace {

// The release that undoes \a action on \a bdf, found on \a driver with \a override_value.
Action UndoOfBind(const Action& action, Bdf bdf, const std::string& driver, const std::string& override_value) {
  Action undo;
  undo.kind = ActionKind::kRelease;
  undo.phase = Phase::kRelease;
  undo.device = bdf;
  undo.driver = driver;
  undo.driver_override = override_value;
  undo.before = action.driver;
  undo.after = OrNone(driver);
  undo.reason = "rollback of bind " + bdf.str();
  return undo;
}

}  // namespace

Result<std::vector<Action>> BindingProvider::Bind(const Action& action) {
  Bdf bdf = action.device;
  if (action.vf) {
    auto vf = ResolveVf(fs_, action.vf->pf, action.vf->index);
    if (!vf) return std::unexpected(vf.error());
    bdf = *vf;
  }
  auto driver = pci::ReadDriver(fs_, bdf);
  if (!driver) return std::unexpected(driver.error());
  auto override_value = pci::ReadDriverOverride(fs_, bdf);
  if (!override_value) return std::unexpected(override_value.error());
  if (*driver == action.driver && *override_value == action.driver) return std::vector<Action>{};
  // Interface names vanish with the host driver; keep them for `interface:` selectors.
  std::vector<std::string> interfaces = fs_.ListDir(paths::PciDeviceAttr(bdf, "net")).value_or(std::vector<std::string>{});

  // Bound at the next boot (ptrec's udev rule sets driver_override as the device appears):
  // record the driver and override it has now, move nothing. Its undo forgets the record.
  if (action.reboot_required) {
    if (auto rec = ledger_.RecordBinding(bdf, action.driver, *driver, *override_value, interfaces); !rec)
      return std::unexpected(rec.error());
    return std::vector<Action>{UndoOfBind(action, bdf, *driver, *override_value)};
  }
  if (auto moved = Move(bdf, *driver, action.driver, action.driver, false); !moved) {
    // Put back what this action changed before reporting the failure.
    auto now = pci::ReadDriver(fs_, bdf);
    (void)Move(bdf, now.value_or(""), *driver, *override_value, true);
    return std::unexpected(moved.error());
  }
  if (auto rec = ledger_.RecordBinding(bdf, action.driver, *driver, *override_value, interfaces); !rec)
    return std::unexpected(rec.error());

  return std::vector<Action>{UndoOfBind(action, bdf, *driver, *override_value)};
}

Result<std::vector<Action>> BindingProvider::Release(const Action& action) {
  Bdf bdf = action.device;
  auto driver = pci::ReadDriver(fs_, bdf);
  if (!driver) {
    if (driver.error().code != Code::kNotFound) return std::unexpected(driver.error());
    if (auto f = ledger_.ForgetBinding(bdf); !f) return std::unexpected(f.error());
    return std::vector<Action>{};  // the device is gone (e.g. its VF was removed): nothing to give back
  }
  auto override_value = pci::ReadDriverOverride(fs_, bdf);
  if (!override_value) return std::unexpected(override_value.error());
  if (*driver == action.driver && *override_value == action.driver_override) {
    // Nothing to move (a hide that waited for a boot that has not come): forget the record;
    // the undo records it again.
    Ledger before = ledger_.ledger();
    const Ledger::Binding* owned = before.FindBinding(bdf);
    if (auto f = ledger_.ForgetBinding(bdf); !f) return std::unexpected(f.error());
    if (!owned) return std::vector<Action>{};
    Action undo;
    undo.kind = ActionKind::kBind;
    undo.phase = Phase::kBind;
    undo.device = bdf;
    undo.driver = owned->driver;
    undo.reboot_required = true;
    undo.before = OrNone(*driver);
    undo.after = owned->driver;
    undo.reason = "rollback of release " + bdf.str();
    return std::vector<Action>{undo};
  }
  {
    if (auto moved = Move(bdf, *driver, action.driver, action.driver_override, true); !moved) {
      auto now = pci::ReadDriver(fs_, bdf);
      (void)Move(bdf, now.value_or(""), *driver, *override_value, true);
      return std::unexpected(moved.error());
    }
  }
  if (auto f = ledger_.ForgetBinding(bdf); !f) return std::unexpected(f.error());
  if (driver->empty()) return std::vector<Action>{};
  Action undo;
  undo.kind = ActionKind::kBind;
  undo.phase = Phase::kBind;
  undo.device = bdf;
  undo.driver = *driver;
  undo.before = OrNone(action.driver);
  undo.after = *driver;
  undo.reason = "rollback of release " + bdf.str();
  return std::vector<Action>{undo};
}

}  // namespace ptrec::binding
