// The binding provider on a simulated host: a bind that waits for the next boot
// (reboot_required, ptrec's udev rule does the move) records the device in the ledger and
// moves nothing, and its undo chain only forgets and re-records.
#include <catch2/catch.hpp>

#include "providers/binding/binding_provider.h"
#include "providers/state/ledger_store.h"
#include "tests/support/sim_host.h"

namespace ptrec {
namespace {

using ptrec::testing::SimHost;

Bdf B(const char* s) { return *Bdf::Parse(s); }

TEST_CASE("binding: a bind waiting for the boot records the original driver and moves nothing", "[binding]") {
  // Given the no-iommu host (02:00.0 on e1000e, no override), when a reboot_required bind to
  // vfio-pci is applied, then the device stays on e1000e with no override, the ledger (memory
  // and state.json) says vfio-pci, was e1000e with override "", and enp2s0 is remembered; the
  // undo is a release that only forgets; the release's undo records it again.
  SimHost h("no-iommu.yaml");
  const Bdf nic = B("0000:02:00.0");
  state::LedgerBook ledger(h.fs(), Ledger{});
  binding::BindingProvider binder(h.fs(), ledger);
  Action bind;
  bind.kind = ActionKind::kBind;
  bind.device = nic;
  bind.driver = "vfio-pci";
  bind.reboot_required = true;
  auto undo = binder.Apply(bind);
  REQUIRE(undo.has_value());
  CHECK(h.Link("sys/bus/pci/devices/0000:02:00.0/driver").ends_with("/e1000e"));
  CHECK(h.Read("sys/bus/pci/devices/0000:02:00.0/driver_override") == "(null)\n");
  const Ledger after_bind = ledger.ledger();
  const Ledger::Binding* rec = after_bind.FindBinding(nic);
  REQUIRE(rec != nullptr);
  CHECK(rec->driver == "vfio-pci");
  CHECK(rec->original_driver == "e1000e");
  CHECK(rec->original_override.empty());
  CHECK(rec->interfaces == std::vector<std::string>{"enp2s0"});
  auto saved = state::LoadLedger(h.fs());
  REQUIRE(saved.has_value());
  REQUIRE(saved->FindBinding(nic) != nullptr);

  REQUIRE(undo->size() == 1);
  CHECK((*undo)[0].kind == ActionKind::kRelease);
  auto redo = binder.Apply((*undo)[0]);
  REQUIRE(redo.has_value());
  CHECK(ledger.ledger().FindBinding(nic) == nullptr);
  CHECK(h.Link("sys/bus/pci/devices/0000:02:00.0/driver").ends_with("/e1000e"));
  CHECK(h.Read("sys/bus/pci/devices/0000:02:00.0/driver_override") == "(null)\n");

  REQUIRE(redo->size() == 1);
  CHECK((*redo)[0].kind == ActionKind::kBind);
  CHECK((*redo)[0].reboot_required);
  REQUIRE(binder.Apply((*redo)[0]).has_value());
  const Ledger again = ledger.ledger();
  REQUIRE(again.FindBinding(nic) != nullptr);
  CHECK(again.FindBinding(nic)->original_driver == "e1000e");
  CHECK(h.Read("sys/bus/pci/devices/0000:02:00.0/driver_override") == "(null)\n");
}

}  // namespace
}  // namespace ptrec
