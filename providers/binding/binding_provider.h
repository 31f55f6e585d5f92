// Moves PCI functions between drivers the way the kernel documents it
// (Documentation/ABI/testing/sysfs-bus-pci: driver_override, drivers_probe, unbind, bind):
//
//   take:      echo vfio-pci > .../BDF/driver_override
//              echo BDF > .../BDF/driver/unbind        (if bound)
//              echo BDF > /sys/bus/pci/drivers_probe
//   give back: echo > .../BDF/driver_override           ("\n" clears; reads back "(null)")
//              echo BDF > .../BDF/driver/unbind
//              echo BDF > /sys/bus/pci/drivers/ORIGINAL/bind   (drivers_probe if that fails)
//
// never `new_id`, which makes a driver claim every device with the same vendor:device,
// including ones the host still needs.
#pragma once

#include "providers/host/host_fs.h"
#include "providers/state/ledger_store.h"
#include "reconciler/provider.h"

namespace ptrec::binding {

/// Carries out kBind and kRelease actions through a HostFs, recording them in the ledger.
class BindingProvider : public Provider {
 public:
  /// Neither argument is owned; both must outlive the provider.
  BindingProvider(HostFs& fs, state::LedgerBook& ledger) : fs_(fs), ledger_(ledger) {}

  std::string_view name() const override { return "binding"; }
  bool Handles(ActionKind kind) const override {
    return kind == ActionKind::kBind || kind == ActionKind::kRelease;
  }

  /// kBind: moves the device (a VfRef is resolved through the PF's virtfnN link) to
  /// action.driver and verifies the `driver` link; undo = kRelease to what it had. With
  /// reboot_required (bound at the next boot by ptrec's udev rule) it only records the
  /// driver and override found, so a later release gives them back.
  /// kRelease: restores action.driver_override and action.driver; a device that no longer
  /// exists is already released, and one already on them is only forgotten. Undo = kBind back.
  /// Errors: kNotFound (device or VF missing), the kernel's errno for a refused write,
  /// kVerifyFailed when the device ends on another driver (the action's own writes are undone).
  Result<std::vector<Action>> Apply(const Action& action) override;

 private:
  Result<std::vector<Action>> Bind(const Action& action);
  Result<std::vector<Action>> Release(const Action& action);
  /// Moves \a bdf to \a driver ("" = unbound) with \a override ("" = none), then verifies.
  Result<void> Move(Bdf bdf, const std::string& from_driver, const std::string& driver,
                    const std::string& override_value, bool explicit_bind);

  HostFs& fs_;
  state::LedgerBook& ledger_;
};

/// The BDF of VF \a index of \a pf, from its virtfnN link. Errors: kNotFound.
Result<Bdf> ResolveVf(const HostFs& fs, Bdf pf, int index);

}  // namespace ptrec::binding
