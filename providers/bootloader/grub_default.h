// /etc/default/grub: where GRUB 2 users keep the kernel command line. Pure: contents in,
// contents (or facts) out; the caller reads and writes the file through HostFs and runs the
// regeneration command through CommandRunner.
//
// Shape: a POSIX shell fragment that grub-mkconfig sources (then, on Debian and Ubuntu, every
// /etc/default/grub.d/*.cfg), e.g.
//     GRUB_DEFAULT=0
//     GRUB_CMDLINE_LINUX_DEFAULT="quiet splash"
//     GRUB_CMDLINE_LINUX=""
// grub-mkconfig's 10_linux writes "${GRUB_CMDLINE_LINUX} ${GRUB_CMDLINE_LINUX_DEFAULT}" into
// each normal boot entry and only GRUB_CMDLINE_LINUX (after "single" on Debian) into recovery
// entries. ptrec edits the value of one assignment in place and keeps every other byte.
//
// What ptrec reads and edits (anything else about the two variables is refused, kInvalid, with
// the line number, rather than guessed):
//   - assignments at the start of a line, optionally indented and after `export `, outside
//     if/case/loops/functions/{ } blocks; the last one in the file wins, as in the shell;
//   - values "double quoted" (escapes \" \\ \$ \`), 'single quoted' or unquoted, then optional
//     blanks and a # comment;
//   - references $NAME and ${NAME} inside the value: kept verbatim as opaque words when editing,
//     expanded from earlier assignments in the file (a never-assigned name is empty, as in a
//     shell started without it in the environment) when reporting configured arguments.
// Refused: command substitution $(...) or `...`, ${NAME...} with an operator, special
// parameters ($1, $@, ...), a quote that is not closed on its line, a line continuation (\ at
// the end of a line) in the value, a value mixing quoted and unquoted parts, text after the
// value other than a comment, `+=`, `unset` of the variable, an assignment not at the start of
// a line or inside a compound command, and "--" in the value. Here-documents and files the
// fragment sources (`. file`) are not followed.
//
// Sources: GNU GRUB manual, "Simple configuration" (GRUB_CMDLINE_LINUX,
// GRUB_CMDLINE_LINUX_DEFAULT, GRUB_ENABLE_BLSCFG); util/grub.d/10_linux.in; POSIX Shell Command
// Language 2.2 (quoting) and 2.6.2 (parameter expansion); Debian's update-grub(8); Red Hat's
// "Managing, monitoring and updating the kernel", ch. "Configuring kernel command-line
// parameters" (grub2-mkconfig targets).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "reconciler/error.h"
#include "reconciler/model.h"

namespace ptrec::bootloader {

/// The file ptrec edits, relative to the host root.
inline constexpr std::string_view kGrubDefaultPath = "etc/default/grub";
/// Debian and Ubuntu's grub-mkconfig also sources DIR/*.cfg, in glob order, after the file.
inline constexpr std::string_view kGrubDefaultDir = "etc/default/grub.d";

/// Which variable of /etc/default/grub receives the `present` arguments.
enum class GrubVar {
  kCmdlineLinux,         ///< GRUB_CMDLINE_LINUX: every entry, recovery included (the default)
  kCmdlineLinuxDefault,  ///< GRUB_CMDLINE_LINUX_DEFAULT: normal (non-recovery) entries only
};

/// "GRUB_CMDLINE_LINUX" or "GRUB_CMDLINE_LINUX_DEFAULT".
const char* GrubVarName(GrubVar var);

/// One shell fragment grub-mkconfig sources: \a path (relative to the host root, for
/// messages) and its contents.
struct GrubFile {
  std::string path;
  std::string text;
};

/// The result of EditGrubDefault.
struct GrubEdit {
  std::string text;        ///< the whole new file
  bool changed = false;    ///< text differs from the input
  std::vector<int> lines;  ///< 1-based lines whose value changed or that were added, ascending
};

/// Edits the contents of /etc/default/grub (\a text) so that the command line of a normal boot
/// entry (GRUB_CMDLINE_LINUX then GRUB_CMDLINE_LINUX_DEFAULT, NormalBootArgs) satisfies
/// \a want, as Satisfies() in cmdline.h defines it.
///
/// When it already does, nothing changes (changed false, text == input). Otherwise the two
/// variables' last assignments are edited together, as one command line, with
/// PlanKernelArgEdits: an argument is replaced where it is (in either variable), later
/// duplicates and absent keys are removed from both, and missing arguments are appended to
/// \a target's value. So at most these two lines change; when \a target has no assignment a
/// line `NAME="ARGS"` is appended at the end of the file (after a "\n" if the file lacks its
/// final one). Only the bytes of a value change: `export`, the name, the comment after it and
/// every other line stay byte for byte. The quote style stays: double-quoted values get
/// \" \\ \$ \` escapes, single-quoted ones refuse an argument holding "'", and an unquoted
/// value that now needs quoting (more than one argument, or characters outside
/// [A-Za-z0-9_.,:/=+@%-]) becomes double-quoted. Words with references ($VAR) stay verbatim.
///
/// \a later are the files grub-mkconfig sources after this one (etc/default/grub.d/*.cfg, in
/// order); they are not edited, but their assignments count when deciding and verifying.
///
/// Errors (kInvalid, message "etc/default/grub line N: ..."): a construct listed in this
/// header's "Refused" for either variable, in \a text or \a later; an argument that must
/// change but comes from a reference; an argument a single-quoted value cannot hold; and a
/// result that still does not satisfy \a want (e.g. a later file sets the variable again).
Result<GrubEdit> EditGrubDefault(std::string_view text, const KernelArgsSpec& want,
                                 GrubVar target = GrubVar::kCmdlineLinux,
                                 const std::vector<GrubFile>& later = {});

/// The arguments \a which holds after sourcing \a files in order (ParseCmdline of its expanded
/// value; an unassigned variable holds none). Errors: as EditGrubDefault, for \a which and the
/// variables its value refers to.
Result<std::vector<KernelArg>> ConfiguredArgs(const std::vector<GrubFile>& files, GrubVar which);
/// ConfiguredArgs of the single file \a text (path "etc/default/grub" in messages).
Result<std::vector<KernelArg>> ConfiguredArgs(std::string_view text, GrubVar which);

/// The arguments grub-mkconfig puts on a normal boot entry after sourcing \a files:
/// GRUB_CMDLINE_LINUX's, then GRUB_CMDLINE_LINUX_DEFAULT's (10_linux). This is what ptrec
/// reports as "configured for the next boot" for GRUB (the entry's own root=/ro and
/// BOOT_IMAGE= come on top). Errors: as ConfiguredArgs.
Result<std::vector<KernelArg>> NormalBootArgs(const std::vector<GrubFile>& files);
/// NormalBootArgs of the single file \a text.
Result<std::vector<KernelArg>> NormalBootArgs(std::string_view text);

/// True when \a text's last readable assignment of GRUB_ENABLE_BLSCFG is "true" (RHEL 8+,
/// Fedora 30+): boot entries then live in /boot/loader/entries and grubby edits them. A value
/// ptrec cannot read counts as false.
bool GrubBlsEnabled(std::string_view text);

/// True when \a grub_cfg (contents of an EFI System Partition grub.cfg) is the small stub that
/// RHEL 9 and Fedora 34+ install there: it loads the real /boot/grub2/grub.cfg with
/// `configfile` and has no menuentry or blscfg of its own. grub2-mkconfig must not overwrite it.
bool IsGrubEfiStub(std::string_view grub_cfg);

/// Files that decide how grub.cfg is regenerated, found by the caller under the host root.
struct GrubHostFacts {
  bool update_grub = false;     ///< usr/sbin/update-grub exists (Debian, Ubuntu, Proxmox)
  bool grub2_mkconfig = false;  ///< usr/sbin/grub2-mkconfig exists (RHEL, Fedora, SUSE)
  /// "boot/efi/EFI/<id>/grub.cfg" when that file exists (<id>: redhat, centos, fedora, ...);
  /// "" when there is none.
  std::string efi_grub_cfg;
  bool efi_grub_cfg_is_stub = false;  ///< IsGrubEfiStub(contents of efi_grub_cfg)
};

/// The argv that regenerates grub.cfg after /etc/default/grub changed:
///   - update_grub:                    {"update-grub"}
///   - grub2_mkconfig, efi_grub_cfg set and not a stub (RHEL 7/8 on UEFI):
///                                     {"grub2-mkconfig", "-o", "/boot/efi/EFI/<id>/grub.cfg"}
///   - grub2_mkconfig otherwise:       {"grub2-mkconfig", "-o", "/boot/grub2/grub.cfg"}
///   - neither:                        {"grub-mkconfig", "-o", "/boot/grub/grub.cfg"}
/// Paths are absolute on the host the command runs on.
std::vector<std::string> RegenerateCommand(const GrubHostFacts& facts);

}  // namespace ptrec::bootloader
