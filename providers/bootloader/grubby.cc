#include "providers/bootloader/grubby.h"

#include <algorithm>
#include <charconv>

#include "providers/bootloader/cmdline.h"

namespace ptrec::bootloader {
namespace {

bool HasSpace(std::string_view s) {
  return s.find_first_of(" \t\n\v\f\r") != std::string_view::npos;
}

}  // namespace

Result<std::vector<GrubbyEntry>> ParseGrubbyInfo(std::string_view output) {
  std::vector<GrubbyEntry> entries;
  int line_number = 0;
  size_t pos = 0;
  while (pos < output.size()) {
    size_t nl = output.find('\n', pos);
    std::string_view line =
        output.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? output.size() : nl + 1;
    ++line_number;
    if (line.ends_with('\r')) line.remove_suffix(1);
    size_t equals = line.find('=');
    if (equals == std::string_view::npos) continue;
    std::string_view key = line.substr(0, equals);
    std::string_view value = line.substr(equals + 1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    const std::string where = "grubby output line " + std::to_string(line_number) + ": ";
    if (key == "index") {
      int index = -1;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), index);
      if (ec != std::errc() || end != value.data() + value.size() || index < 0) {
        return Fail(Code::kInvalid,
                    where + "index \"" + std::string(value) + "\" is not a non-negative integer");
      }
      entries.push_back(GrubbyEntry{});
      entries.back().index = index;
      continue;
    }
    if (entries.empty()) {
      return Fail(Code::kInvalid, where + std::string(key) + "= comes before any index= line");
    }
    GrubbyEntry& e = entries.back();
    if (key == "kernel") {
      e.kernel = value;
    } else if (key == "args") {
      e.args_text = value;
      e.args = ParseCmdline(value);
    } else if (key == "root") {
      e.root = value;
    } else if (key == "initrd") {
      e.initrd = value;
    } else if (key == "title") {
      e.title = value;
    } else if (key == "id") {
      e.id = value;
    }
  }
  return entries;
}

Result<std::vector<std::string>> GrubbyUpdateCommand(const KernelArgsSpec& want,
                                                     std::string_view kernel) {
  std::string add;
  for (const KernelArg& arg : want.present) {
    if (HasSpace(arg.key) ||
        (arg.value && (HasSpace(*arg.value) || arg.value->find('"') != std::string::npos))) {
      return Fail(Code::kInvalid, "grubby cannot set " + FormatArg(arg) +
                                      ": it splits --args at spaces; use a value without spaces "
                                      "or quotes, or bootloader: grub");
    }
    if (!add.empty()) add += ' ';
    add += FormatArg(arg);
  }
  std::string remove;
  for (const std::string& key : want.absent) {
    if (HasSpace(key)) return Fail(Code::kInvalid, "grubby cannot remove \"" + key + "\"");
    if (!remove.empty()) remove += ' ';
    remove += key;
  }
  if (add.empty() && remove.empty()) return std::vector<std::string>{};
  std::vector<std::string> argv{"grubby", "--update-kernel=" + std::string(kernel)};
  if (!add.empty()) argv.push_back("--args=" + add);
  if (!remove.empty()) argv.push_back("--remove-args=" + remove);
  return argv;
}

}  // namespace ptrec::bootloader
