#include "providers/bootloader/kernel_cmdline_file.h"

#include <optional>

#include "providers/bootloader/cmdline.h"
#include "providers/bootloader/word_splice.h"

namespace ptrec::bootloader {

std::vector<KernelArg> ReadKernelCmdlineFile(std::string_view text) { return ParseCmdline(text); }

TextEdit EditKernelCmdlineFile(std::string_view text, const KernelArgsSpec& want) {
  std::vector<ArgSpan> spans = ScanCmdline(text);
  std::vector<KernelArg> current;
  std::vector<detail::WordSpan> words;
  for (const ArgSpan& span : spans) {
    current.push_back(span.arg);
    words.push_back({span.begin, span.end});
  }
  ArgEditScript script = PlanKernelArgEdits(current, want);
  if (!script.changed()) return TextEdit{std::string(text), false};

  std::vector<std::optional<std::string>> replacement;
  for (size_t i = 0; i < spans.size(); ++i) {
    switch (script.ops[i]) {
      case ArgEditScript::Op::kKeep:
        replacement.emplace_back(text.substr(spans[i].begin, spans[i].end - spans[i].begin));
        break;
      case ArgEditScript::Op::kReplace:
        replacement.emplace_back(FormatArg(script.replacement[i]));
        break;
      case ArgEditScript::Op::kRemove:
        replacement.emplace_back(std::nullopt);
        break;
    }
  }
  std::vector<std::string> inserts;
  for (const KernelArg& arg : script.append) inserts.push_back(FormatArg(arg));
  std::string out = detail::SpliceWords(text, words, replacement, inserts, script.append_at);
  // A new (or blank) file gets the one-line-with-newline shape kernel-install's own files have.
  if (spans.empty() && text.find('\n') == std::string_view::npos && !out.empty()) out += '\n';
  return TextEdit{out, out != text};
}

std::string KernelCmdlineSeed(std::string_view proc_cmdline) {
  std::string out;
  for (const ArgSpan& span : ScanCmdline(proc_cmdline)) {
    if (span.arg.key == "BOOT_IMAGE" || span.arg.key == "initrd") continue;
    if (!out.empty()) out += ' ';
    out += proc_cmdline.substr(span.begin, span.end - span.begin);
  }
  return out + "\n";
}

}  // namespace ptrec::bootloader
