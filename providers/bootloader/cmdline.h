// The kernel command line as ptrec reads and edits it: a list of KernelArg values.
//
// Pure: no I/O. The bootloader editors (grub_default.h, grubby.h, kernel_cmdline_file.h) all
// decide *what* to change with PlanKernelArgEdits below and differ only in how they write it.
//
// Sources: Documentation/admin-guide/kernel-parameters.rst ("The kernel parses parameters from
// the kernel command line up to '--'"; "double-quotes can be used to protect spaces in values")
// and lib/cmdline.c next_arg(), whose splitting rules ParseCmdline follows.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reconciler/model.h"

namespace ptrec::bootloader {

/// Splits \a cmdline into arguments exactly as the kernel's next_arg() (lib/cmdline.c) does.
///
/// Shape: arguments separated by whitespace (space, \t, \n, \v, \f, \r; the kernel also counts
/// byte 0xa0, which ptrec does not, so UTF-8 text stays intact). A double quote toggles
/// "inside quotes" anywhere in an argument, so `foo="a b"` is one argument. Then:
///   - the first '=' (not at position 0) splits key and value: "iommu=pt" -> {iommu, pt};
///     without '=' the value is nullopt ("quiet"); "foo=" has the value "".
///   - a value that starts with '"' loses that quote, and the argument's last '"' goes too:
///     `foo="a b"` -> {foo, "a b"}.
///   - an argument that starts with '"' loses that quote and its last '"':
///     `"foo=a b"` -> {foo, "a b"}; `"a b"` -> {key "a b"}.
///   - quotes elsewhere stay: `a"b` -> {key `a"b`}.
///   - an argument starting with '=' has no key/value split at that '=' (the kernel's
///     `equals == 0` test): "=x" -> {key "=x"}.
/// "--" is returned as an ordinary argument {key "--"}; what follows it belongs to init.
/// Example: "BOOT_IMAGE=/vmlinuz ro quiet" -> {BOOT_IMAGE=/vmlinuz}, {ro}, {quiet}.
/// Never fails: every byte string is some command line (proc/cmdline's trailing newline is
/// whitespace).
std::vector<KernelArg> ParseCmdline(std::string_view cmdline);

/// One argument of a command line and where its text is: cmdline.substr(begin, end - begin),
/// quotes included. For editors that must keep every other byte of a file.
struct ArgSpan {
  KernelArg arg;
  size_t begin = 0;
  size_t end = 0;
};

/// ParseCmdline with the byte range of each argument in \a cmdline.
std::vector<ArgSpan> ScanCmdline(std::string_view cmdline);

/// One argument as the kernel would read it back with ParseCmdline: "key", "key=value",
/// `key="a b"` when the value holds whitespace, `"a b"` / `"a b=c"` when the key does.
/// A value or key that itself contains '"' is written verbatim and may not read back the same
/// (the kernel has no escape for quotes); the schema does not allow such values.
std::string FormatArg(const KernelArg& arg);

/// The arguments joined by single spaces (FormatArg each), no trailing newline.
/// FormatCmdline(ParseCmdline(s)) == s for any s made of FormatArg outputs and single spaces.
std::string FormatCmdline(const std::vector<KernelArg>& args);

/// Index of the first "--" argument (no value) in \a args, or args.size() when there is none.
/// Arguments from there on are passed to init, not parsed by the kernel; ptrec neither adds,
/// removes nor counts arguments there.
size_t InitArgsStart(const std::vector<KernelArg>& args);

/// What to do with each argument of a command line so that it satisfies a KernelArgsSpec.
/// The building block of ApplyKernelArgs and of the file editors, which apply the same
/// decisions to the words of a file without touching the bytes around them.
struct ArgEditScript {
  enum class Op {
    kKeep,     ///< leave the argument as it is
    kReplace,  ///< write `replacement[i]` instead (same key, the wanted value)
    kRemove,   ///< drop it (an absent key, or a later duplicate of a present key)
  };
  std::vector<Op> ops;                 ///< one per current argument, same order
  std::vector<KernelArg> replacement;  ///< one per current argument; used where kReplace
  std::vector<KernelArg> append;       ///< missing present args, in `present` order
  size_t append_at = 0;  ///< insert `append` before current[append_at]; == size() means the
                         ///< end. It is the index of "--" when there is one (InitArgsStart).

  /// True when any op is not kKeep or something is appended.
  bool changed() const;
};

/// Decides the edits that make \a current satisfy \a want:
///   - every occurrence of a key in `want.absent` is removed ("quiet" removes "quiet" and any
///     "quiet=..."), unless the key is also in `want.present` (present wins; the schema
///     refuses such documents);
///   - for each arg of `want.present`, in order: its key's first occurrence is replaced by it
///     when it differs, every later occurrence of the key is removed, and when the key does not
///     occur the arg is appended (before "--" if there is one). If a key is listed twice in
///     present, the later entry wins.
/// Arguments with other keys keep their place and bytes. Only arguments before "--" count.
/// Keys compare exactly, as the kernel compares __setup names ('-' and '_' differ).
ArgEditScript PlanKernelArgEdits(const std::vector<KernelArg>& current, const KernelArgsSpec& want);

/// \a current with PlanKernelArgEdits applied, and whether that changed anything.
struct ArgsEdit {
  std::vector<KernelArg> args;
  bool changed = false;
};

/// Applies PlanKernelArgEdits(current, want). Idempotent: applying the result again gives
/// changed == false. Example: {ro, quiet, iommu=off} with present [intel_iommu=on, iommu=pt],
/// absent [quiet] -> {ro, iommu=pt, intel_iommu=on}, changed.
ArgsEdit ApplyKernelArgs(const std::vector<KernelArg>& current, const KernelArgsSpec& want);

/// True when \a args needs no edit for \a want: each present arg occurs exactly once with the
/// wanted value and no absent key occurs (before "--"). Same as
/// `!ApplyKernelArgs(args, want).changed`.
bool Satisfies(const std::vector<KernelArg>& args, const KernelArgsSpec& want);

/// How one wanted argument stands in a command line, for plans ("iommu: pt wanted, off found").
enum class ArgState {
  kPresent,     ///< wanted present: occurs once, with the wanted value
  kWrongValue,  ///< wanted present: the key occurs, but never with the wanted value
  kDuplicate,   ///< wanted present: occurs more than once, at least once with the wanted value
  kMissing,     ///< wanted present: the key does not occur
  kAbsent,      ///< wanted absent: the key does not occur
  kUnwanted,    ///< wanted absent: the key occurs
};

/// "present", "wrong_value", "duplicate", "missing", "absent", "unwanted" (for JSON).
const char* ArgStateName(ArgState state);

/// The state of one wanted key in a command line.
struct ArgStatus {
  std::string key;
  std::optional<KernelArg> want;  ///< the wanted arg; nullopt when the key must be absent
  ArgState state = ArgState::kMissing;
  std::vector<KernelArg> found;  ///< every occurrence of the key (before "--"), in order

  /// kPresent or kAbsent: nothing to do for this key.
  bool ok() const { return state == ArgState::kPresent || state == ArgState::kAbsent; }
};

/// One ArgStatus per wanted key: `want.present` in order, then `want.absent` in order (an
/// absent key also in present is skipped, as PlanKernelArgEdits skips it).
/// Satisfies(args, want) is true exactly when every status is ok().
std::vector<ArgStatus> DiffKernelArgs(const std::vector<KernelArg>& args,
                                      const KernelArgsSpec& want);

}  // namespace ptrec::bootloader
