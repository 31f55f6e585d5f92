// The desired-state document: YAML text -> ptrec::DesiredState, with every problem reported.
//
// The format (apiVersion ptrec/v1, kind HostConfig) is specified field by field in
// schema/fields.md and, for editors, in schema/ptrec-v1.schema.json. Examples: examples/*.yaml.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "reconciler/model.h"

namespace ptrec::schema {

/// One problem in a desired-state document, in the style of a compiler diagnostic.
/// \a pos is where it is (1-based line and column; line 0 = the file as a whole, e.g. when it
/// cannot be read). \a message says what is wrong, naming the field by its path
/// ("sriov[0].numVfs must be an integer from 0 to 65535, got \"four\""). \a hint says how to
/// fix it ("write the number of VFs as a plain integer, e.g. numVfs: 7"); it may be empty.
struct Diagnostic {
  SourcePos pos;
  std::string message;
  std::string hint;

  /// "host.yaml:12:7: MESSAGE (hint: HINT)". Without a line: "host.yaml: MESSAGE (hint: HINT)";
  /// the " (hint: ...)" part is left out when \a hint is empty.
  std::string str() const;
};

/// Every problem found in one document, sorted by position (line, then column).
using Diagnostics = std::vector<Diagnostic>;

/// Parses and validates one desired-state document.
///
/// \a yaml_text is the whole document (YAML 1.2; one document per stream). \a file_name is used
/// only to label positions: it becomes DesiredState::source and SourcePos::file everywhere.
///
/// On success every HideSpec, SriovSpec and ModuleConfigSpec has `pos` = the start of its
/// entry's mapping, its Selector has `pos` = the position of the selector key's value, and
/// KernelArgsSpec::pos is the start of the kernelArgs mapping. Short BDFs ("03:00.0") are
/// normalised to domain 0000; module names and parameter names, softdep names included, to
/// the '_' form (ModuleName: vfio-pci -> vfio_pci); parameter values to the text modprobe
/// passes (integers in decimal, true/false as "1"/"0", strings as written); kernel arguments
/// to KernelArg (`opt="a b"` -> {opt, "a b"}). Absent optional fields keep the defaults of
/// model.h; without kernelArgs, DesiredState::kernel_args is nullopt.
///
/// Errors: every problem found, not just the first, with a hint each. Scalars are typed by the
/// YAML 1.2 core schema, so `force: yes` and `numVfs: "7"` are strings, not a bool or an int.
/// Checked: YAML syntax (only the first syntax error: parsing stops there); an empty document or
/// more than one; the top level not a mapping; apiVersion/kind missing or not ptrec/v1 and
/// HostConfig; unknown keys at any level (hint: the closest known key); duplicate keys in one mapping; wrong types
/// (list/mapping/scalar, int, bool, string); numVfs outside 0..65535; malformed BDFs, ids and
/// interface names (kernel dev_valid_name rules); index without id or below 0; no selector or
/// more than one; unknown driver/method/group/bootloader values; the same selector twice in
/// hide or twice in sriov; a selector both in hide and in sriov. In kernelArgs: an item that
/// is not one "key" or "key=value" argument as the kernel reads it (whitespace outside a quoted
/// value, an empty key, a quote in a key, an unbalanced quote, "--"); a key twice in present
/// (same or different value); a value in absent; a key both in present and absent. In modules:
/// a missing name; module, parameter and softdep names outside [A-Za-z0-9_-] (module names at
/// most 55 characters); the same module twice, or one parameter twice, after '-' -> '_';
/// parameter values that are not a string, integer or boolean, or strings holding '"', '\' or
/// control characters; softdep naming the module itself, a module twice, or in pre and post.
/// In vms: a missing name, a name that libvirt would refuse (empty, '/', control characters), a
/// name twice; uri and qmp both given; a uri without ":/"; a qmp path that is not absolute;
/// hotplug/managed/force not booleans; missing not refuse or skip; devices not a list of
/// mappings; a device entry without exactly one selector; vf not an integer 0..65535; an
/// address that is not a BDF or given twice in one VM; the same device (selector and vf) in two
/// entries. VmDeviceSpec::pos is the start of the device's mapping, VmSpec::pos the VM's.
/// Selectors are compared as written, after normalisation: `interface: enp3s0f1` and
/// `device: 0000:03:00.1` may name the same function, but only the host can tell; the planner
/// checks that.
///
/// Never throws: yaml-cpp exceptions are caught and reported as syntax diagnostics.
std::expected<DesiredState, Diagnostics> ParseDesired(std::string_view yaml_text,
                                                      std::string_view file_name);

/// Reads the file at \a path, or standard input when \a path is "-" (then labelled "<stdin>"),
/// and parses it with ParseDesired.
///
/// Errors: as ParseDesired; a missing or unreadable file gives one Diagnostic whose pos.file is
/// \a path, pos.line 0, and whose message carries the system's reason
/// ("cannot read the file: No such file or directory").
std::expected<DesiredState, Diagnostics> LoadDesired(const std::string& path);

}  // namespace ptrec::schema
