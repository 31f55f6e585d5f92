// modprobe.d: module options that apply whenever a module is loaded, so they survive reboots.
// Pure: ptrec's own file is rendered from values, and any modprobe.d text is parsed into facts;
// reading and writing files is the caller's (HostFs) job.
//
// Shape (man modprobe.d): one command per line, '#' starts a comment line, a '\' at the end of a
// line joins the next one. ptrec renders and reads:
//     options MODULE PARAM=VALUE [PARAM=VALUE ...]
//     softdep MODULE pre: A B post: C
//     blacklist MODULE
//     install MODULE COMMAND...
// Module names compare with '-' and '_' alike (kmod's underscores()); so do parameter names
// (the kernel's parameq()). Both are kept in the '_' form here.
//
// Sources: man modprobe.d (kmod); kmod libkmod/libkmod-config.c (kmod_config_parse: the rest
// of an options/install/softdep line is taken verbatim; conf_files_list: *.conf files from
// /etc/modprobe.d, /run/modprobe.d, /usr/local/lib/modprobe.d, /usr/lib/modprobe.d,
// /lib/modprobe.d, a name in an earlier directory hiding the same name in later ones, all read
// in lexical order of their names; kmod_config_parse_kcmdline: MODULE.PARAM=VALUE on the kernel
// command line counts as a last options line); kernel/params.c parse_args (the options string is
// split with the kernel command-line rules, and a parameter given twice takes its last value).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reconciler/model.h"

namespace ptrec::modules {

/// ptrec's own modprobe.d file, relative to the host root. ptrec rewrites it whole.
inline constexpr std::string_view kPtrecModprobePath = "etc/modprobe.d/ptrec.conf";

/// The directories kmod reads, highest priority first (a file name found in an earlier one
/// hides the same name in later ones), relative to the host root.
inline constexpr std::string_view kModprobeDirs[] = {"etc/modprobe.d", "run/modprobe.d",
                                                     "usr/local/lib/modprobe.d",
                                                     "usr/lib/modprobe.d", "lib/modprobe.d"};

/// What ptrec wants in its own modprobe.d file.
struct ModprobeConf {
  /// "softdep MODULE pre: A B post: C": modprobe loads `pre` before MODULE, `post` after.
  struct Softdep {
    std::vector<std::string> pre;  ///< module names, '_' form, in order
    std::vector<std::string> post;
    bool operator==(const Softdep&) const = default;
  };
  /// module ('_' form) -> parameter ('_' form) -> value exactly as modprobe passes it
  /// ("7,7", "1"); one "options" line per module.
  std::map<std::string, std::map<std::string, std::string>> options;
  std::map<std::string, Softdep> softdeps;  ///< module ('_' form) -> its softdep

  bool empty() const { return options.empty() && softdeps.empty(); }
  bool operator==(const ModprobeConf&) const = default;
};

/// Adds "options \a module \a param=\a value" to \a conf (names normalised to '_').
/// Returns false, and changes nothing, when the module already has the parameter with another
/// value: two sources (a modules: entry and an sriov method: module-param entry) disagree and
/// the caller reports it. Adding the same value again is fine (true).
bool AddOption(ModprobeConf& conf, std::string_view module, std::string_view param,
               std::string_view value);

/// The options and softdeps of `modules:` entries (already validated by the schema: names in
/// '_' form, values as text). Entries without parameters or softdep add nothing. Two entries
/// for one module are merged; on a conflicting value the first entry's stays (the schema
/// refuses duplicate module names).
ModprobeConf ModprobeConfFromSpecs(const std::vector<ModuleConfigSpec>& modules);

/// The contents of kPtrecModprobePath for \a conf: a header saying ptrec owns the file, then
/// per module in name order its "options" line (parameters in name order, separated by one
/// space; a value holding whitespace written as PARAM="VALUE", an empty one as PARAM=) and
/// its "softdep" line (parts without modules left out; no line when both are empty). Every
/// line ends in "\n". Deterministic: equal confs give equal bytes. An empty conf gives the
/// header alone; the caller may remove the file instead.
/// Example: options {igb: {max_vfs: "7,7"}}, softdeps {igb: pre [vfio_pci]} ->
///   HEADER + "options igb max_vfs=7,7\n" + "softdep igb pre: vfio_pci\n".
std::string RenderModprobeConf(const ModprobeConf& conf);

/// The first line of every file RenderModprobeConf makes; lets a caller recognise ptrec's file.
inline constexpr std::string_view kPtrecModprobeMarker =
    "# Written by ptrec (declarative PCI passthrough). Do not edit: ptrec rewrites this file.";

/// One modprobe.d file: \a path relative to the host root (for facts and messages) and text.
struct ModprobeFile {
  std::string path;
  std::string text;
};

/// Orders \a files as kmod reads them: only names ending in ".conf" (or ".alias") not starting
/// with '.'; a name already seen in a higher-priority directory of kModprobeDirs is dropped
/// (files outside those directories rank after them, in the order given); the rest sorted by
/// file name (strcmp), whatever their directory.
/// Example: {lib/modprobe.d/b.conf, etc/modprobe.d/b.conf, lib/modprobe.d/a.conf}
///   -> {lib/modprobe.d/a.conf, etc/modprobe.d/b.conf}.
std::vector<ModprobeFile> OrderModprobeFiles(std::vector<ModprobeFile> files);

/// Where a fact was read: \a path and 1-based \a line (the first line of a joined line);
/// path "proc/cmdline" with line 0 for options from the kernel command line.
struct ConfSource {
  std::string path;
  int line = 0;
  bool operator==(const ConfSource&) const = default;
};

/// The value of one module parameter that modprobe will pass, and where it was set.
struct ConfiguredOption {
  std::optional<std::string> value;  ///< nullopt: the bare flag "PARAM" (a bool set to true)
  ConfSource source;
};

/// A softdep as configured, and where.
struct ConfiguredSoftdep {
  ModprobeConf::Softdep dep;
  ConfSource source;
};

/// What modprobe.d configures, as modprobe will apply it the next time each module is loaded.
struct ModprobeFacts {
  /// module -> parameter -> its effective value: options lines are all applied, in file order
  /// and then line order, and a parameter set twice keeps its last value.
  std::map<std::string, std::map<std::string, ConfiguredOption>> options;
  /// module -> the first softdep line for it (kmod uses only the first match).
  std::map<std::string, ConfiguredSoftdep> softdeps;
  /// module -> the first install command for it (kmod uses only the first match).
  std::map<std::string, std::string> install;
  std::map<std::string, ConfSource> blacklist;  ///< module -> where it is first blacklisted
  /// Lines modprobe ignores, "etc/modprobe.d/x.conf:3: options needs a module and options".
  std::vector<std::string> ignored;

  /// The effective value of \a param of \a module (any '-'/'_' spelling), or nullptr.
  const ConfiguredOption* Option(std::string_view module, std::string_view param) const;
};

/// Parses \a files, already in kmod's order (OrderModprobeFiles), into facts. Never fails:
/// lines modprobe would ignore are listed in `ignored`. alias and remove lines are read and not
/// reported.
ModprobeFacts ParseModprobeD(const std::vector<ModprobeFile>& files);

/// Adds what modprobe takes from the kernel command line (\a proc_cmdline, the contents of
/// proc/cmdline) to \a facts, after the files as kmod does: each MODULE.PARAM[=VALUE] argument
/// (no '=' before the first '.') is one more options line for MODULE, and
/// modprobe.blacklist=A,B blacklists A and B. kmod splits the command line at spaces only, so
/// this does too.
void AddKernelCmdlineOptions(ModprobeFacts& facts, std::string_view proc_cmdline);

/// Whether the running value of a module parameter (the contents of
/// sys/module/MODULE/parameters/PARAM, trailing newline removed) is the \a configured one.
/// Equal text is; so is a bool parameter's "Y"/"N" against any text the kernel's kstrtobool
/// reads the same ("1", "y", "true", "on" / "0", "n", "false", "off"), and two integers of the
/// same value written differently ("16" and "0x10", as kstrtoint with base 0 reads them).
/// Note: a parameter declared with permission 0 (igb's max_vfs) has no file in sysfs at all;
/// its running value is unknown, not different.
bool SameParameterValue(std::string_view configured, std::string_view running);

/// The max_vfs value igb (and ixgbe) take, one count per PF in probe order, comma-separated:
/// {7, 7} -> "7,7"; {} -> "". Source: Documentation/networking/device_drivers/ethernet/intel/
/// igb.rst ("max_vfs ... Valid Range: 0-7 ... comma separated values for each port").
std::string MaxVfsList(const std::vector<int>& per_pf);

}  // namespace ptrec::modules
