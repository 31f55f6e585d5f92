// /etc/kernel/cmdline: the command line kernel-install(8) writes into new boot entries
// (systemd-boot Boot Loader Specification entries, UKIs). Pure: contents in, contents out.
//
// Shape: the arguments as one line, e.g. "root=UUID=0a1b... ro quiet\n". kernel-install reads
// the whole file and squeezes every run of whitespace (newlines included) to one space, so the
// file may span lines; there are no comments and no shell quoting.
//
// Sources: man kernel-install ("/etc/kernel/cmdline ... specify the kernel command line to use;
// if that file does not exist, /usr/lib/kernel/cmdline is used; if that also does not exist,
// /proc/cmdline is used"), systemd's 90-loaderentry.install, which drops BOOT_IMAGE= and
// initrd= from /proc/cmdline in that last case.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "reconciler/model.h"

namespace ptrec::bootloader {

/// kernel-install's configuration file for the command line, relative to the host root.
inline constexpr std::string_view kKernelCmdlinePath = "etc/kernel/cmdline";
/// The vendor default kernel-install reads when kKernelCmdlinePath does not exist.
inline constexpr std::string_view kVendorKernelCmdlinePath = "usr/lib/kernel/cmdline";

/// New contents of a file, and whether they differ from the old ones.
struct TextEdit {
  std::string text;
  bool changed = false;
};

/// The arguments in the contents of /etc/kernel/cmdline (ParseCmdline rules; an empty file
/// has none).
std::vector<KernelArg> ReadKernelCmdlineFile(std::string_view text);

/// \a text edited to satisfy \a want (PlanKernelArgEdits decides; cmdline.h). Only the changed
/// arguments' bytes change: the other arguments, the spacing between them and the leading and
/// trailing whitespace (the usual final "\n") are kept. Replaced and added arguments are
/// written with FormatArg; added ones go after the last argument (before "--"), each after one
/// space. An empty \a text (a new file) with arguments to add becomes "ARGS\n".
/// Example: "root=/dev/sda2 ro quiet\n" + present [intel_iommu=on], absent [quiet]
///   -> "root=/dev/sda2 ro intel_iommu=on\n".
TextEdit EditKernelCmdlineFile(std::string_view text, const KernelArgsSpec& want);

/// What kernel-install would use when neither command line file exists: \a proc_cmdline
/// (the contents of proc/cmdline) without BOOT_IMAGE= and initrd= arguments, the others
/// separated by single spaces, plus "\n". Seed a new /etc/kernel/cmdline with this before
/// editing it, or the new file would drop root= and the rest of today's command line.
/// Example: "BOOT_IMAGE=/vmlinuz-6.1 root=/dev/sda2 ro quiet\n" -> "root=/dev/sda2 ro quiet\n".
std::string KernelCmdlineSeed(std::string_view proc_cmdline);

}  // namespace ptrec::bootloader
