#include "providers/bootloader/cmdline.h"

#include <algorithm>
#include <map>
#include <set>

namespace ptrec::bootloader {
namespace {

// The kernel's isspace() for ASCII (lib/ctype.c); 0xa0 is left out on purpose (see header).
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

bool HasSpace(std::string_view s) { return std::ranges::any_of(s, IsSpace); }

bool IsInitSeparator(const KernelArg& arg) { return arg.key == "--" && !arg.value; }

// `want.present` with one entry per key: the last value given for a key, at the place of the
// key's first mention. The schema refuses duplicates; this keeps the functions total.
std::vector<KernelArg> EffectivePresent(const KernelArgsSpec& want) {
  std::vector<KernelArg> out;
  std::map<std::string, size_t> at;
  for (const KernelArg& arg : want.present) {
    auto [it, fresh] = at.emplace(arg.key, out.size());
    if (fresh)
      out.push_back(arg);
    else
      out[it->second] = arg;
  }
  return out;
}

// Absent keys that are not also present (present wins), without repeats, in order.
std::vector<std::string> EffectiveAbsent(const KernelArgsSpec& want) {
  std::set<std::string> present;
  for (const KernelArg& arg : want.present) present.insert(arg.key);
  std::vector<std::string> out;
  for (const std::string& key : want.absent) {
    if (!present.contains(key) && std::ranges::find(out, key) == out.end()) out.push_back(key);
  }
  return out;
}

}  // namespace

std::vector<KernelArg> ParseCmdline(std::string_view s) {
  std::vector<KernelArg> out;
  for (ArgSpan& span : ScanCmdline(s)) out.push_back(std::move(span.arg));
  return out;
}

std::vector<ArgSpan> ScanCmdline(std::string_view s) {
  std::vector<ArgSpan> out;
  size_t pos = 0;
  while (pos < s.size() && IsSpace(s[pos])) ++pos;
  while (pos < s.size()) {
    // One round of next_arg(), with indices instead of the kernel's in-place NUL writes.
    bool quoted = false;
    bool in_quote = false;
    const size_t begin = pos;
    if (s[pos] == '"') {
      ++pos;
      quoted = in_quote = true;
    }
    size_t start = pos;
    size_t equals = 0;  // relative; 0 = none, as in the kernel (so a leading '=' never splits)
    size_t i = start;
    for (; i < s.size(); ++i) {
      if (IsSpace(s[i]) && !in_quote) break;
      if (equals == 0 && s[i] == '=') equals = i - start;
      if (s[i] == '"') in_quote = !in_quote;
    }
    std::string_view text = s.substr(start, i - start);
    bool last_quote_cut = false;
    KernelArg arg;
    if (equals == 0) {
      arg.key = std::string(text);
    } else {
      arg.key = std::string(text.substr(0, equals));
      std::string_view value = text.substr(equals + 1);
      if (value.starts_with('"')) {
        value.remove_prefix(1);
        if (text.ends_with('"')) {
          if (!value.empty()) value.remove_suffix(1);  // `foo="` leaves nothing to cut
          last_quote_cut = true;
        }
      }
      arg.value = std::string(value);
    }
    if (quoted && !text.empty() && text.ends_with('"') && !last_quote_cut) {
      std::string& tail = arg.value ? *arg.value : arg.key;
      if (!tail.empty()) tail.pop_back();
    }
    out.push_back(ArgSpan{std::move(arg), begin, i});
    pos = i;
    while (pos < s.size() && IsSpace(s[pos])) ++pos;
  }
  return out;
}

std::string FormatArg(const KernelArg& arg) {
  std::string text = arg.key;
  if (HasSpace(arg.key)) {
    if (arg.value) text += "=" + *arg.value;
    return "\"" + text + "\"";
  }
  if (!arg.value) return text;
  if (HasSpace(*arg.value)) return text + "=\"" + *arg.value + "\"";
  return text + "=" + *arg.value;
}

std::string FormatCmdline(const std::vector<KernelArg>& args) {
  std::string out;
  for (const KernelArg& arg : args) {
    if (!out.empty()) out += ' ';
    out += FormatArg(arg);
  }
  return out;
}

size_t InitArgsStart(const std::vector<KernelArg>& args) {
  auto it = std::ranges::find_if(args, IsInitSeparator);
  return static_cast<size_t>(it - args.begin());
}

bool ArgEditScript::changed() const {
  return !append.empty() || std::ranges::any_of(ops, [](Op op) { return op != Op::kKeep; });
}

ArgEditScript PlanKernelArgEdits(const std::vector<KernelArg>& current,
                                 const KernelArgsSpec& want) {
  ArgEditScript script;
  script.ops.assign(current.size(), ArgEditScript::Op::kKeep);
  script.replacement = current;
  const size_t end = InitArgsStart(current);
  script.append_at = end;
  for (const std::string& key : EffectiveAbsent(want)) {
    for (size_t i = 0; i < end; ++i) {
      if (current[i].key == key) script.ops[i] = ArgEditScript::Op::kRemove;
    }
  }
  for (const KernelArg& arg : EffectivePresent(want)) {
    bool seen = false;
    for (size_t i = 0; i < end; ++i) {
      if (current[i].key != arg.key) continue;
      if (seen) {
        script.ops[i] = ArgEditScript::Op::kRemove;
      } else if (current[i] != arg) {
        script.ops[i] = ArgEditScript::Op::kReplace;
        script.replacement[i] = arg;
      }
      seen = true;
    }
    if (!seen) script.append.push_back(arg);
  }
  return script;
}

ArgsEdit ApplyKernelArgs(const std::vector<KernelArg>& current, const KernelArgsSpec& want) {
  ArgEditScript script = PlanKernelArgEdits(current, want);
  ArgsEdit edit;
  edit.changed = script.changed();
  for (size_t i = 0; i <= current.size(); ++i) {
    if (i == script.append_at) {
      edit.args.insert(edit.args.end(), script.append.begin(), script.append.end());
    }
    if (i == current.size()) break;
    if (script.ops[i] != ArgEditScript::Op::kRemove) edit.args.push_back(script.replacement[i]);
  }
  return edit;
}

bool Satisfies(const std::vector<KernelArg>& args, const KernelArgsSpec& want) {
  return !PlanKernelArgEdits(args, want).changed();
}

const char* ArgStateName(ArgState state) {
  switch (state) {
    case ArgState::kPresent:
      return "present";
    case ArgState::kWrongValue:
      return "wrong_value";
    case ArgState::kDuplicate:
      return "duplicate";
    case ArgState::kMissing:
      return "missing";
    case ArgState::kAbsent:
      return "absent";
    case ArgState::kUnwanted:
      return "unwanted";
  }
  return "unknown";
}

std::vector<ArgStatus> DiffKernelArgs(const std::vector<KernelArg>& args,
                                      const KernelArgsSpec& want) {
  const size_t end = InitArgsStart(args);
  auto occurrences = [&](const std::string& key) {
    std::vector<KernelArg> found;
    for (size_t i = 0; i < end; ++i) {
      if (args[i].key == key) found.push_back(args[i]);
    }
    return found;
  };
  std::vector<ArgStatus> out;
  for (const KernelArg& arg : EffectivePresent(want)) {
    ArgStatus status{arg.key, arg, ArgState::kMissing, occurrences(arg.key)};
    size_t right = static_cast<size_t>(std::ranges::count(status.found, arg));
    if (status.found.empty())
      status.state = ArgState::kMissing;
    else if (right == 0)
      status.state = ArgState::kWrongValue;
    else if (status.found.size() > 1)
      status.state = ArgState::kDuplicate;
    else
      status.state = ArgState::kPresent;
    out.push_back(std::move(status));
  }
  for (const std::string& key : EffectiveAbsent(want)) {
    ArgStatus status{key, std::nullopt, ArgState::kAbsent, occurrences(key)};
    if (!status.found.empty()) status.state = ArgState::kUnwanted;
    out.push_back(std::move(status));
  }
  return out;
}

}  // namespace ptrec::bootloader
