// grubby(8): the tool RHEL, CentOS Stream and Fedora use to edit the command line of their boot
// entries (Boot Loader Specification files under /boot/loader/entries since RHEL 8, grub.cfg
// before). Pure: ptrec parses grubby's output and builds its argv; CommandRunner runs it.
//
// Sources: man grubby (--info=ALL, --update-kernel, --args, --remove-args); grubby-bls's
// update_args(), which drops every existing argument with an --args key before appending it,
// and for a --remove-args item without '=' removes the key with any value.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "reconciler/error.h"
#include "reconciler/model.h"

namespace ptrec::bootloader {

/// One boot entry of `grubby --info=ALL`.
struct GrubbyEntry {
  int index = -1;               ///< index=N, the entry's position in the boot menu
  std::string kernel;           ///< "/boot/vmlinuz-5.14.0-362.8.1.el9_3.x86_64"; "" for non-Linux
  std::string args_text;        ///< the args value without its quotes, verbatim
  std::vector<KernelArg> args;  ///< ParseCmdline(args_text); "$tuned_params" stays a key
  std::string root;             ///< root=..., "" when grubby printed none
  std::string initrd;
  std::string title;
  std::string id;  ///< BLS entry id (RHEL 8+); "" before
};

/// Parses the output of `grubby --info=ALL` (or --info=KERNEL).
///
/// Shape: blocks of KEY=VALUE lines, each block starting with "index=N"; a value may be wrapped
/// in double quotes, which are removed (RHEL 7's grubby prints kernel= and root= bare, later
/// versions quote everything):
///     index=0
///     kernel="/boot/vmlinuz-5.14.0-362.8.1.el9_3.x86_64"
///     args="ro crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M resume=/dev/mapper/rhel-swap ..."
///     root="/dev/mapper/rhel-root"
///     initrd="/boot/initramfs-5.14.0-362.8.1.el9_3.x86_64.img $tuned_initrd"
///     title="Red Hat Enterprise Linux (5.14.0-362.8.1.el9_3.x86_64) 9.3 (Plow)"
///     id="f1d5e1a6c9b14c0f8d3c2b4a5e6f7a8b-5.14.0-362.8.1.el9_3.x86_64"
/// Unknown keys and lines without '=' (e.g. "non linux entry") are skipped. Empty output gives
/// no entries.
/// Errors: kInvalid when a KEY=VALUE line comes before any index= line, or an index is not a
/// non-negative integer (message names the 1-based line).
Result<std::vector<GrubbyEntry>> ParseGrubbyInfo(std::string_view output);

/// The argv that makes every entry (\a kernel "ALL"; or "DEFAULT", or a kernel path) satisfy
/// \a want: {"grubby", "--update-kernel=ALL", "--args=intel_iommu=on iommu=pt",
/// "--remove-args=quiet"}. One argv element per option, no shell quoting. --args is left out
/// when want.present is empty and --remove-args when want.absent is; with both empty the result
/// is empty (nothing to run). grubby moves a re-added argument to the end of the line.
/// Errors: kInvalid when an argument's value holds whitespace or '"' (grubby splits its
/// --args at spaces and would break it), or a key holds whitespace.
Result<std::vector<std::string>> GrubbyUpdateCommand(const KernelArgsSpec& want,
                                                     std::string_view kernel = "ALL");

}  // namespace ptrec::bootloader
