// ptrec's memory on a host: what it changed (the Ledger) and the journal of the apply in
// progress. Both live under the host root in var/lib/ptrec/ as JSON, written atomically.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "providers/host/host_fs.h"
#include "reconciler/model.h"

namespace ptrec::state {

/// Reads var/lib/ptrec/state.json. A missing file is an empty Ledger (ptrec never ran here).
/// Errors: kInvalid when the file is not a ledger ptrec wrote (names the file and the problem).
Result<Ledger> LoadLedger(const HostFs& fs);

/// Writes \a ledger to var/lib/ptrec/state.json atomically (HostFs::WriteFileAtomic).
Result<void> SaveLedger(HostFs& fs, const Ledger& ledger);

/// The ledger as JSON text: {"format_version":1,"bindings":[...],"vf_counts":[...],
/// "hostdevs":[{vm, uri, qmp, bdf, managed}]}.
std::string LedgerToJson(const Ledger& ledger);

/// Parses LedgerToJson's output. Errors: kInvalid with what is wrong.
Result<Ledger> LedgerFromJson(const std::string& text);

}  // namespace ptrec::state

namespace ptrec::state {

/// The ledger of one apply run: the in-memory Ledger plus a write-through to the host root
/// after every change, so a crash leaves an accurate record. Thread-safe.
class LedgerBook {
 public:
  LedgerBook(HostFs& fs, Ledger initial) : fs_(fs), ledger_(std::move(initial)) {}

  /// Records that ptrec bound \a bdf to \a driver, having found it on \a found_driver with
  /// override \a found_override and network \a interfaces. If ptrec already owned it, the
  /// first originals are kept.
  Result<void> RecordBinding(Bdf bdf, const std::string& driver, const std::string& found_driver,
                             const std::string& found_override,
                             const std::vector<std::string>& interfaces);
  /// Forgets \a bdf's binding (given back, or the device is gone).
  Result<void> ForgetBinding(Bdf bdf);
  /// Forgets the bindings of several devices at once (VFs removed with their PF's count).
  Result<void> ForgetBindings(const std::vector<Bdf>& bdfs);
  /// Records that ptrec set \a pf to \a num_vfs having found \a found_num_vfs. When the count
  /// goes back to the original, the entry is dropped: the PF is no longer ptrec's.
  Result<void> RecordVfCount(Bdf pf, int num_vfs, int found_num_vfs);

  /// Records that ptrec attached \a hostdev.bdf to domain \a hostdev.vm (no-op if recorded).
  Result<void> RecordHostdev(const Ledger::Hostdev& hostdev);
  /// Forgets that ptrec attached \a bdf to \a vm (detached again).
  Result<void> ForgetHostdev(const std::string& vm, Bdf bdf);

  /// A copy of the ledger as it stands.
  Ledger ledger() const;

 private:
  Result<void> Save();  // caller holds mu_

  HostFs& fs_;
  Ledger ledger_;
  mutable std::mutex mu_;
};

}  // namespace ptrec::state
