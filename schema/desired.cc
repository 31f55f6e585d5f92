#include "schema/desired.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <span>
#include <utility>

namespace ptrec::schema {
namespace {

using Keys = std::span<const std::string_view>;

constexpr std::string_view kApiVersion = "ptrec/v1";
constexpr std::string_view kKind = "HostConfig";

constexpr std::array<std::string_view, 8> kTopKeys = {
    "apiVersion", "kind", "metadata", "sriov", "hide", "kernelArgs", "modules", "vms"};
constexpr std::array<std::string_view, 6> kVmKeys = {"name", "uri", "qmp", "hotplug", "missing", "devices"};
constexpr std::array<std::string_view, 8> kVmDeviceKeys = {"device", "interface", "id",      "index",
                                                           "vf",     "managed",   "address", "force"};
constexpr std::array<std::string_view, 2> kMissing = {"refuse", "skip"};
constexpr std::array<std::string_view, 3> kMetadataKeys = {"name", "description", "labels"};
constexpr std::array<std::string_view, 8> kSriovKeys = {"device", "interface", "id",     "index",
                                                        "numVfs", "vfDriver",  "method", "force"};
constexpr std::array<std::string_view, 7> kHideKeys = {"device", "interface", "id",   "index",
                                                       "driver", "group",     "force"};
constexpr std::array<std::string_view, 3> kSelectorKeys = {"device", "interface", "id"};
constexpr std::array<std::string_view, 2> kDrivers = {"vfio-pci", "pci-stub"};
constexpr std::array<std::string_view, 2> kMethods = {"sysfs", "module-param"};
constexpr std::array<std::string_view, 2> kGroups = {"strict", "include"};
constexpr std::array<std::string_view, 3> kKernelArgsKeys = {"bootloader", "present", "absent"};
constexpr std::array<std::string_view, 4> kBootloaders = {"auto", "grub", "grubby",
                                                          "kernel-install"};
constexpr std::array<std::string_view, 5> kModuleKeys = {"name", "parameters", "load", "softdep",
                                                         "allowReload"};
constexpr std::array<std::string_view, 2> kSoftdepKeys = {"pre", "post"};
// MODULE_NAME_LEN (include/linux/module.h) is 64 - sizeof(unsigned long) with the NUL.
constexpr size_t kMaxModuleName = 55;

// Words people reach for that edit distance cannot map to the key they meant.
constexpr std::array<std::pair<std::string_view, std::string_view>, 22> kSynonyms = {{
    {"bdf", "device"},
    {"address", "device"},
    {"pci", "device"},
    {"slot", "device"},
    {"netdev", "interface"},
    {"ifname", "interface"},
    {"iface", "interface"},
    {"vendor", "id"},
    {"vfs", "numVfs"},
    {"count", "numVfs"},
    {"totalVfs", "numVfs"},
    {"version", "apiVersion"},
    {"add", "present"},
    {"remove", "absent"},
    {"options", "parameters"},
    {"params", "parameters"},
    {"module", "name"},
    {"cmdline", "kernelArgs"},
    {"kernelArguments", "kernelArgs"},
    {"domain", "name"},
    {"socket", "qmp"},
    {"hostdevs", "devices"},
}};

// Case-insensitive Levenshtein distance: "numvfs" and "numVfs" are 0 apart.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                  std::tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The known word closest to \a word, if close enough to be a plausible typo.
std::optional<std::string_view> Closest(std::string_view word, Keys known) {
  for (auto [synonym, key] : kSynonyms) {
    if (EditDistance(word, synonym) == 0 && std::ranges::find(known, key) != known.end())
      return key;
  }
  std::optional<std::string_view> best;
  size_t best_distance = 0;
  for (std::string_view candidate : known) {
    size_t d = EditDistance(word, candidate);
    size_t limit = std::max<size_t>(2, candidate.size() / 3);
    if (d <= limit && d < word.size() && (!best || d < best_distance)) {
      best = candidate;
      best_distance = d;
    }
  }
  return best;
}

std::string Join(Keys words, std::string_view separator = ", ") {
  std::string out;
  for (std::string_view w : words) {
    if (!out.empty()) out += separator;
    out += w;
  }
  return out;
}

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

// Scalar types of the YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1023-core-schema),
// which is also what yaml-language-server and JSON Schema see. yaml-cpp's own conversions
// follow YAML 1.1 (`yes` is a bool there), so plain scalars are typed here.
enum class Type { kNull, kBool, kInt, kFloat, kString, kList, kMapping };

bool AllOf(std::string_view s, int (*pred)(int)) {
  return !s.empty() &&
         std::ranges::all_of(s, [&](char c) { return pred(static_cast<unsigned char>(c)) != 0; });
}

bool IsOctalDigits(std::string_view s) {
  return !s.empty() && std::ranges::all_of(s, [](char c) { return c >= '0' && c <= '7'; });
}

bool IsCoreInt(std::string_view s) {
  if (s.starts_with("0x")) return AllOf(s.substr(2), isxdigit);
  if (s.starts_with("0o")) return IsOctalDigits(s.substr(2));
  if (s.starts_with('+') || s.starts_with('-')) s.remove_prefix(1);
  return AllOf(s, isdigit);
}

bool IsCoreFloat(std::string_view s) {
  if (s == ".nan" || s == ".NaN" || s == ".NAN") return true;
  if (s.starts_with('+') || s.starts_with('-')) s.remove_prefix(1);
  if (s == ".inf" || s == ".Inf" || s == ".INF") return true;
  size_t i = 0;
  auto digits = [&] {
    size_t start = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    return i - start;
  };
  size_t whole = digits();
  size_t fraction = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    fraction = digits();
  }
  if (whole == 0 && fraction == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (digits() == 0) return false;
  }
  return i == s.size();
}

Type TypeOf(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence:
      return Type::kList;
    case YAML::NodeType::Map:
      return Type::kMapping;
    case YAML::NodeType::Scalar:
      break;
    default:
      return Type::kNull;
  }
  // "!" marks a quoted scalar; an explicit !!str tag forces a string too.
  if (node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str") return Type::kString;
  const std::string& s = node.Scalar();
  if (s == "true" || s == "True" || s == "TRUE" || s == "false" || s == "False" || s == "FALSE") {
    return Type::kBool;
  }
  if (IsCoreInt(s)) return Type::kInt;
  if (IsCoreFloat(s)) return Type::kFloat;
  return Type::kString;
}

// Value of a core-schema integer; nullopt when it does not fit in a long long.
std::optional<long long> IntValue(std::string_view s) {
  int base = 10;
  bool negative = false;
  if (s.starts_with("0x") || s.starts_with("0o")) {
    base = s[1] == 'x' ? 16 : 8;
    s.remove_prefix(2);
  } else if (s.starts_with('+') || s.starts_with('-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  unsigned long long magnitude = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), magnitude, base);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  if (magnitude > static_cast<unsigned long long>(LLONG_MAX)) return std::nullopt;
  long long value = static_cast<long long>(magnitude);
  return negative ? -value : value;
}

// "the string \"four\"", "the number 1.5", "a list": what a value is, for messages.
std::string Describe(const YAML::Node& node) {
  switch (TypeOf(node)) {
    case Type::kNull:
      return "an empty value";
    case Type::kBool:
      return "the boolean " + node.Scalar();
    case Type::kInt:
      return "the integer " + node.Scalar();
    case Type::kFloat:
      return "the number " + node.Scalar();
    case Type::kString:
      return "the string " + Quote(node.Scalar());
    case Type::kList:
      return "a list";
    case Type::kMapping:
      return "a mapping";
  }
  return "a value";
}

// Why \a name cannot be a network interface name, or nullptr if it can. The rules are the
// kernel's dev_valid_name() (net/core/dev.c): 1..IFNAMSIZ-1 bytes, not "." or "..", and no
// '/', ':' or whitespace.
const char* InterfaceNameProblem(std::string_view name) {
  if (name.empty()) return "it is empty";
  if (name.size() > 15) return "it is longer than 15 characters";
  if (name == "." || name == "..") return "it is . or ..";
  if (name.find_first_of("/:") != std::string_view::npos) return "it contains '/' or ':'";
  if (std::ranges::any_of(name,
                          [](char c) { return std::isspace(static_cast<unsigned char>(c)); })) {
    return "it contains whitespace";
  }
  return nullptr;
}

bool IsSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }
bool HasSpace(std::string_view s) { return std::ranges::any_of(s, IsSpace); }

// Why \a name cannot be a kernel module (or module parameter) name, or nullptr if it can:
// kmod names are letters, digits, '_' and '-' ('-' reads as '_').
const char* ModuleNameProblem(std::string_view name, size_t max_size) {
  if (name.empty()) return "it is empty";
  if (name.size() > max_size) return "it is too long";
  bool ok = std::ranges::all_of(name, [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-';
  });
  return ok ? nullptr : "only letters, digits, '_' and '-' are allowed";
}

// A problem with one kernelArgs item: what is wrong and how to fix it.
struct ArgProblem {
  std::string message;
  std::string hint;
};

// Reads "key" or "key=value" (value optionally wrapped in double quotes, which may then hold
// spaces) as the kernel would (lib/cmdline.c next_arg), refusing everything the kernel would
// read differently from how it looks: several arguments in one item, quotes in keys, ...
std::expected<KernelArg, ArgProblem> ParseArgItem(std::string_view text) {
  const std::string one_per_item =
      "write one argument per list item, e.g. present: [intel_iommu=on, iommu=pt]; a value with "
      "spaces goes in double quotes: 'opt=\"a b\"'";
  if (text.empty()) return std::unexpected(ArgProblem{"is empty", "remove the empty item"});
  if (IsSpace(text.front()) || IsSpace(text.back())) {
    return std::unexpected(
        ArgProblem{"has whitespace around it", "write the argument without spaces around it"});
  }
  size_t equals = text.find('=');
  KernelArg arg;
  arg.key = std::string(text.substr(0, equals));
  if (arg.key.empty()) {
    return std::unexpected(ArgProblem{"has an empty key", "write key or key=value, e.g. iommu=pt"});
  }
  if (HasSpace(arg.key))
    return std::unexpected(ArgProblem{"holds more than one argument", one_per_item});
  if (arg.key.find('"') != std::string::npos) {
    return std::unexpected(ArgProblem{"has a double quote in its key",
                                      "only a value may be quoted, as in key=\"a b\""});
  }
  if (arg.key == "--") {
    return std::unexpected(ArgProblem{
        "is --, which ends the kernel's arguments",
        "list kernel arguments only; ptrec does not manage what the kernel passes to init"});
  }
  if (equals == std::string_view::npos) return arg;
  std::string_view value = text.substr(equals + 1);
  if (value.starts_with('"')) {
    if (value.size() < 2 || !value.ends_with('"') ||
        value.substr(1, value.size() - 2).find('"') != std::string_view::npos) {
      return std::unexpected(
          ArgProblem{"has a quoted value that does not end in its one closing "
                     "double quote",
                     "write key=\"value with spaces\" with no other quotes"});
    }
    value = value.substr(1, value.size() - 2);
  } else if (HasSpace(value)) {
    return std::unexpected(ArgProblem{"holds more than one argument", one_per_item});
  } else if (value.find('"') != std::string_view::npos) {
    return std::unexpected(ArgProblem{"has a double quote inside its value",
                                      "quote the whole value, key=\"...\", or leave quotes out"});
  }
  arg.value = std::string(value);
  return arg;
}

// A module parameter value as modprobe passes it, or why it cannot be one.
std::expected<std::string, ArgProblem> ParameterText(const YAML::Node& value, Type type) {
  switch (type) {
    case Type::kInt: {
      auto n = IntValue(value.Scalar());
      if (!n) return std::unexpected(ArgProblem{"is too large", "write a smaller integer"});
      return std::to_string(*n);  // decimal: the kernel's kstrto* do not read YAML's 0o17
    }
    case Type::kBool:
      // 1/0 rather than Y/N: bool parameters take both, int parameters only 1/0.
      return std::string(std::tolower(static_cast<unsigned char>(value.Scalar()[0])) == 't' ? "1"
                                                                                            : "0");
    case Type::kString: {
      const std::string& s = value.Scalar();
      bool bad = std::ranges::any_of(s, [](char c) {
        return c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
      });
      if (bad) {
        return std::unexpected(ArgProblem{
            "contains a double quote, a backslash or a control character",
            "modprobe.d has no way to write these; use plain text, e.g. max_vfs: \"7,7\""});
      }
      return s;
    }
    default:
      return std::unexpected(
          ArgProblem{"must be a string, an integer or a boolean, got " + Describe(value),
                     "write one value; several values for an array parameter go in one string, "
                     "e.g. max_vfs: \"7,7\""});
  }
}

// One `key: value` pair of a mapping.
struct Field {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;
};

// The fields of one mapping by key, first occurrence only (duplicates are reported).
using Fields = std::map<std::string, Field, std::less<>>;

const Field* Find(const Fields& fields, std::string_view key) {
  auto it = fields.find(key);
  return it == fields.end() ? nullptr : &it->second;
}

class Parser {
 public:
  Parser(std::string_view text, std::string_view file) : text_(text), file_(file) {}

  std::expected<DesiredState, Diagnostics> Run();

 private:
  SourcePos PosAt(const YAML::Mark& mark) const {
    return SourcePos{file_, mark.line + 1, mark.column + 1};
  }
  SourcePos PosOf(const YAML::Node& node) const { return PosAt(node.Mark()); }
  SourcePos ItemPos(const YAML::Node& item) const;
  // Where to point at a value: an empty value has no position of its own, so its key's.
  SourcePos ValuePos(const Field& f) const {
    return f.value.IsNull() ? PosOf(f.key_node) : PosOf(f.value);
  }
  void Report(SourcePos pos, std::string message, std::string hint) {
    diagnostics_.push_back(Diagnostic{std::move(pos), std::move(message), std::move(hint)});
  }

  void ReportSyntax(const YAML::Exception& e);
  // Fields of \a map; reports non-scalar, duplicate, reserved and unknown keys ("in hide[0]"
  // is \a where). An empty \a known accepts every key (labels).
  Fields ReadFields(const YAML::Node& map, std::string_view where, Keys known, Keys reserved = {});
  // Each Read* returns the value, or reports why it is not one (hint: \a example) and nullopt.
  std::optional<std::string> ReadString(const Field& f, std::string_view path,
                                        std::string_view example);
  std::optional<std::string> ReadEnum(const Field& f, std::string_view path, Keys allowed,
                                      std::string_view meaning);
  std::optional<long long> ReadInt(const Field& f, std::string_view path, long long min,
                                   long long max, std::string_view hint);
  std::optional<Force> ReadForce(const Field& f, std::string_view path);
  std::optional<bool> ReadBool(const Field& f, std::string_view path, std::string_view example);
  // The items of a list of strings, or nullopt (reported) when \a f is not a list; items that
  // are not strings are reported and left out.
  std::optional<std::vector<YAML::Node>> ReadStringList(const Field& f, std::string_view path,
                                                        std::string_view example);
  // The entries of a top-level list, each a mapping; reports the list's and entries' shape.
  std::vector<YAML::Node> ReadEntries(const Field& f, std::string_view example);
  std::optional<Selector> ReadSelector(const YAML::Node& entry, const Fields& fields,
                                       std::string_view path);
  void ReadMetadata(const Field& f, DesiredState& state);
  void ReadSriov(const Field& f, DesiredState& state);
  void ReadHide(const Field& f, DesiredState& state);
  void ReadKernelArgs(const Field& f, DesiredState& state);
  void ReadModules(const Field& f, DesiredState& state);
  void ReadVms(const Field& f, DesiredState& state);
  std::optional<VmDeviceSpec> ReadVmDevice(const YAML::Node& entry, const std::string& path);
  // Module names in a softdep list ("modules[0].softdep.pre"), normalised; nullopt if any is bad.
  std::optional<std::vector<std::string>> ReadSoftdepList(const Field& f, std::string_view path,
                                                          const std::string& self);
  // Reports selectors listed twice in hide or in sriov, and selectors in both lists.
  void CheckOverlaps();

  // A selector that parsed, with the entry it came from ("hide[2]"), for CheckOverlaps.
  struct Named {
    std::string entry;
    Selector select;
  };

  std::string_view text_;
  std::string file_;
  Diagnostics diagnostics_;
  std::vector<Named> hide_selectors_;
  std::vector<Named> sriov_selectors_;
};

SourcePos Parser::ItemPos(const YAML::Node& item) const {
  // yaml-cpp marks an empty list item at the token after it; point at its '-' instead.
  if (!item.IsNull() || item.Mark().pos < 0) return PosOf(item);
  size_t i = std::min<size_t>(static_cast<size_t>(item.Mark().pos), text_.size());
  while (i > 0 && std::isspace(static_cast<unsigned char>(text_[i - 1]))) --i;
  if (i == 0 || text_[i - 1] != '-') return PosOf(item);
  std::string_view before = text_.substr(0, i - 1);
  int line = 1 + static_cast<int>(std::ranges::count(before, '\n'));
  size_t line_start = before.rfind('\n');
  int column =
      static_cast<int>(i - 1 - (line_start == std::string_view::npos ? 0 : line_start + 1)) + 1;
  return SourcePos{file_, line, column};
}

void Parser::ReportSyntax(const YAML::Exception& e) {
  std::string hint = "check the indentation and quoting at this point";
  // A tab in the indentation of the offending line is the most common cause, and yaml-cpp's
  // message for it ("illegal map value") does not say so.
  size_t line_start = 0;
  for (int line = 0; line < e.mark.line && line_start != std::string_view::npos; ++line) {
    line_start = text_.find('\n', line_start);
    if (line_start != std::string_view::npos) ++line_start;
  }
  if (line_start != std::string_view::npos && e.mark.line >= 0) {
    std::string_view line = text_.substr(line_start, text_.find('\n', line_start) - line_start);
    std::string_view indent = line.substr(0, line.find_first_not_of(" \t"));
    if (indent.find('\t') != std::string_view::npos) {
      hint = "YAML does not allow tabs in indentation; indent with spaces";
    } else if (e.msg.find("illegal map value") != std::string::npos) {
      hint = "quote values that contain ': ', and put each key on its own line";
    } else if (e.msg.find("flow") != std::string::npos) {
      hint = "close every '[' with ']' and every '{' with '}'";
    }
  }
  Report(PosAt(e.mark), "YAML syntax error: " + e.msg, hint);
}

Fields Parser::ReadFields(const YAML::Node& map, std::string_view where, Keys known,
                          Keys reserved) {
  Fields fields;
  std::map<std::string, SourcePos, std::less<>> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    const YAML::Node& key = it->first;
    if (!key.IsScalar()) {
      Report(PosOf(key),
             "keys must be plain names, got " + Describe(key) + " " + std::string(where),
             "write each key as a word followed by ': '");
      continue;
    }
    const std::string& name = key.Scalar();
    if (auto first = seen.find(name); first != seen.end()) {
      Report(PosOf(key),
             "duplicate key " + name + " " + std::string(where) + " (first at " +
                 first->second.str() + ")",
             "a mapping takes each key once; remove one of them");
      continue;
    }
    seen.emplace(name, PosOf(key));
    if (std::ranges::find(reserved, name) != reserved.end()) {
      Report(PosOf(key), name + " is not supported by this version of ptrec yet",
             "remove " + name + "; this version manages sriov, hide, kernelArgs, modules and vms");
    } else if (!known.empty() && std::ranges::find(known, name) == known.end()) {
      auto closest = Closest(name, known);
      Report(PosOf(key), "unknown key " + name + " " + std::string(where),
             closest ? "did you mean " + std::string(*closest) + "?"
                     : "known keys here: " + Join(known));
    } else {
      fields.emplace(name, Field{name, key, it->second});
    }
  }
  return fields;
}

std::optional<std::string> Parser::ReadString(const Field& f, std::string_view path,
                                              std::string_view example) {
  if (TypeOf(f.value) == Type::kString) return f.value.Scalar();
  std::string hint = "write a string, e.g. " + std::string(example);
  if (f.value.IsScalar()) hint += "; quote it to keep it a string: " + Quote(f.value.Scalar());
  Report(ValuePos(f), std::string(path) + " must be a string, got " + Describe(f.value), hint);
  return std::nullopt;
}

std::optional<std::string> Parser::ReadEnum(const Field& f, std::string_view path, Keys allowed,
                                            std::string_view meaning) {
  std::string choices = Join(allowed, " or ");
  if (TypeOf(f.value) == Type::kString &&
      std::ranges::find(allowed, f.value.Scalar()) != allowed.end()) {
    return f.value.Scalar();
  }
  auto closest = f.value.IsScalar() ? Closest(f.value.Scalar(), allowed) : std::nullopt;
  Report(ValuePos(f), std::string(path) + " must be " + choices + ", got " + Describe(f.value),
         closest ? "did you mean " + std::string(*closest) + "? " + std::string(meaning)
                 : std::string(meaning));
  return std::nullopt;
}

std::optional<long long> Parser::ReadInt(const Field& f, std::string_view path, long long min,
                                         long long max, std::string_view hint) {
  std::string expected =
      " must be an integer from " + std::to_string(min) + " to " + std::to_string(max);
  if (TypeOf(f.value) != Type::kInt) {
    Report(ValuePos(f), std::string(path) + expected + ", got " + Describe(f.value),
           std::string(hint));
    return std::nullopt;
  }
  auto value = IntValue(f.value.Scalar());
  if (!value || *value < min || *value > max) {
    Report(ValuePos(f), std::string(path) + expected + ", got " + f.value.Scalar(),
           std::string(hint));
    return std::nullopt;
  }
  return value;
}

std::optional<Force> Parser::ReadForce(const Field& f, std::string_view path) {
  if (TypeOf(f.value) == Type::kBool) {
    return std::tolower(static_cast<unsigned char>(f.value.Scalar()[0])) == 't' ? Force::kYes
                                                                                : Force::kNo;
  }
  Report(ValuePos(f), std::string(path) + " must be true or false, got " + Describe(f.value),
         "write force: true or force: false; yes/no/on/off are not booleans in YAML 1.2");
  return std::nullopt;
}

std::optional<bool> Parser::ReadBool(const Field& f, std::string_view path,
                                     std::string_view example) {
  if (TypeOf(f.value) == Type::kBool) {
    return std::tolower(static_cast<unsigned char>(f.value.Scalar()[0])) == 't';
  }
  Report(ValuePos(f), std::string(path) + " must be true or false, got " + Describe(f.value),
         "write " + std::string(example) + "; yes/no/on/off are not booleans in YAML 1.2");
  return std::nullopt;
}

std::optional<std::vector<YAML::Node>> Parser::ReadStringList(const Field& f, std::string_view path,
                                                              std::string_view example) {
  if (!f.value.IsSequence()) {
    Report(ValuePos(f), std::string(path) + " must be a list, got " + Describe(f.value),
           "write e.g. " + std::string(example) + ", or [] for none");
    return std::nullopt;
  }
  std::vector<YAML::Node> items;
  size_t i = 0;
  for (const YAML::Node& item : f.value) {
    std::string item_path = std::string(path) + "[" + std::to_string(i++) + "]";
    if (TypeOf(item) != Type::kString) {
      std::string hint = "write each item as a string, e.g. " + std::string(example);
      if (item.IsScalar()) hint += "; quote it to keep it a string: " + Quote(item.Scalar());
      Report(ItemPos(item), item_path + " must be a string, got " + Describe(item), hint);
      continue;
    }
    items.push_back(item);
  }
  return items;
}

std::vector<YAML::Node> Parser::ReadEntries(const Field& f, std::string_view example) {
  // Entries that are not mappings are reported and left as null nodes, so that index i of the
  // result is still list item i.
  std::vector<YAML::Node> entries;
  if (!f.value.IsSequence()) {
    Report(ValuePos(f), f.key + " must be a list of entries, got " + Describe(f.value),
           "write one '- ' item per entry, e.g. " + std::string(example) + ", or " + f.key +
               ": [] for none");
    return entries;
  }
  for (const YAML::Node& item : f.value) {
    std::string path = f.key + "[" + std::to_string(entries.size()) + "]";
    if (item.IsNull()) {
      Report(ItemPos(item), path + " is empty",
             "remove the lone '-', or indent the entry's keys under it");
    } else if (!item.IsMap()) {
      Report(ItemPos(item), path + " must be a mapping, got " + Describe(item),
             "write the entry as keys and values, e.g. " + std::string(example));
    }
    entries.push_back(item.IsMap() ? item : YAML::Node());
  }
  return entries;
}

std::optional<Selector> Parser::ReadSelector(const YAML::Node& entry, const Fields& fields,
                                             std::string_view path) {
  std::vector<const Field*> given;
  for (std::string_view key : kSelectorKeys) {
    if (const Field* f = Find(fields, key)) given.push_back(f);
  }
  const Field* index = Find(fields, "index");
  std::string p(path);
  if (given.empty()) {
    Report(PosOf(entry), p + " has no selector",
           "add exactly one selector: device: 0000:03:00.0 for a PCI address, interface: "
           "enp3s0f0 for a network interface, or id: 8086:10c9 for vendor:device");
    return std::nullopt;
  }
  std::ranges::sort(given, [&](const Field* a, const Field* b) {
    return std::pair(a->key_node.Mark().line, a->key_node.Mark().column) <
           std::pair(b->key_node.Mark().line, b->key_node.Mark().column);
  });
  bool ok = true;
  for (size_t i = 1; i < given.size(); ++i) {
    Report(PosOf(given[i]->key_node),
           p + " has more than one selector: " + given[0]->key + " and " + given[i]->key,
           "keep exactly one of device, interface or id; write one entry per device");
    ok = false;
  }
  if (index && given[0]->key != "id") {
    Report(PosOf(index->key_node), p + ".index is only allowed together with id",
           "remove index, or select by id: VENDOR:DEVICE with index: N, the N-th match in BDF "
           "order counting from 0");
    ok = false;
  }

  const Field& f = *given[0];
  Selector s;
  s.pos = ValuePos(f);
  auto text = ReadString(f, p + "." + f.key,
                         f.key == "device"      ? "device: \"0000:03:00.0\""
                         : f.key == "interface" ? "interface: enp3s0f0"
                                                : "id: \"8086:10c9\"");
  if (!text) return std::nullopt;
  if (f.key == "device") {
    auto bdf = Bdf::Parse(*text);
    if (!bdf) {
      Report(s.pos, p + ".device " + Quote(*text) + " is not a PCI address",
             "write DDDD:BB:DD.F or BB:DD.F in hex as `lspci -D` prints it, e.g. 0000:03:00.0; "
             "device is 00-1f and function 0-7");
      return std::nullopt;
    }
    s.kind = Selector::Kind::kBdf;
    s.bdf = *bdf;
  } else if (f.key == "interface") {
    const char* why = InterfaceNameProblem(*text);
    if (why) {
      Report(s.pos, p + ".interface " + Quote(*text) + " is not a network interface name: " + why,
             "use the name `ip link` shows, e.g. enp3s0f0: 1-15 characters without '/', ':' or "
             "whitespace");
      return std::nullopt;
    }
    s.kind = Selector::Kind::kInterface;
    s.interface = *text;
  } else {
    auto id = PciId::Parse(*text);
    if (!id) {
      Report(s.pos, p + ".id " + Quote(*text) + " is not a vendor:device id",
             "write the two hex numbers `lspci -nn` shows in brackets, e.g. 8086:10c9");
      return std::nullopt;
    }
    s.kind = Selector::Kind::kId;
    s.id = *id;
    if (index) {
      auto n = ReadInt(*index, p + ".index", 0, INT_MAX,
                       "write which match to take, counting from 0 in BDF order, e.g. index: 0");
      if (!n) return std::nullopt;
      s.index = static_cast<int>(*n);
    }
  }
  if (!ok) return std::nullopt;
  return s;
}

void Parser::ReadMetadata(const Field& f, DesiredState& state) {
  if (!f.value.IsMap()) {
    Report(ValuePos(f), "metadata must be a mapping, got " + Describe(f.value),
           "write e.g. metadata: {name: compute-17}, or remove metadata");
    return;
  }
  Fields fields = ReadFields(f.value, "in metadata", kMetadataKeys);
  if (const Field* name = Find(fields, "name"))
    state.name = ReadString(*name, "metadata.name", "name: compute-17").value_or("");
  if (const Field* d = Find(fields, "description")) {
    ReadString(*d, "metadata.description", "description: \"GPU host, rack 4\"");
  }
  if (const Field* labels = Find(fields, "labels")) {
    if (!labels->value.IsMap()) {
      Report(ValuePos(*labels), "metadata.labels must be a mapping, got " + Describe(labels->value),
             "write e.g. labels: {rack: r4, role: compute}");
      return;
    }
    for (const auto& [key, label] : ReadFields(labels->value, "in metadata.labels", {})) {
      ReadString(label, "metadata.labels." + key, key + ": \"value\"");
    }
  }
}

void Parser::ReadSriov(const Field& f, DesiredState& state) {
  std::vector<YAML::Node> entries = ReadEntries(f, "- {device: 0000:03:00.0, numVfs: 4}");
  for (size_t i = 0; i < entries.size(); ++i) {
    const YAML::Node& entry = entries[i];
    if (!entry.IsMap()) continue;
    std::string path = "sriov[" + std::to_string(i) + "]";
    Fields fields = ReadFields(entry, "in " + path, kSriovKeys);
    SriovSpec spec;
    spec.pos = PosOf(entry);
    bool ok = true;
    if (auto s = ReadSelector(entry, fields, path)) {
      spec.select = *s;
      sriov_selectors_.push_back(Named{path, *s});
    } else {
      ok = false;
    }
    if (const Field* n = Find(fields, "numVfs")) {
      auto count = ReadInt(*n, path + ".numVfs", 0, 65535,
                           "write the number of VFs as a plain integer, e.g. numVfs: 7; 0 removes "
                           "them, and the PF's sriov_totalvfs is the limit");
      if (count)
        spec.num_vfs = static_cast<int>(*count);
      else
        ok = false;
    } else {
      Report(spec.pos, path + " has no numVfs",
             "add numVfs: N, the number of VFs the PF should have; 0 removes them");
      ok = false;
    }
    if (const Field* d = Find(fields, "vfDriver")) {
      auto driver = ReadEnum(*d, path + ".vfDriver", kDrivers,
                             "leave vfDriver out to let the kernel's VF driver take the VFs");
      if (driver)
        spec.vf_driver = *driver;
      else
        ok = false;
    }
    if (const Field* m = Find(fields, "method")) {
      auto method = ReadEnum(*m, path + ".method", kMethods,
                             "sysfs, the default, sets VFs at runtime; module-param uses the "
                             "driver's max_vfs parameter");
      if (method)
        spec.method = *method == "sysfs" ? SriovMethod::kSysfs : SriovMethod::kModuleParam;
      else
        ok = false;
    }
    if (const Field* force = Find(fields, "force")) {
      if (auto v = ReadForce(*force, path + ".force"))
        spec.force = *v;
      else
        ok = false;
    }
    if (ok) state.sriov.push_back(std::move(spec));
  }
}

void Parser::ReadHide(const Field& f, DesiredState& state) {
  std::vector<YAML::Node> entries = ReadEntries(f, "- {device: 0000:02:00.0}");
  for (size_t i = 0; i < entries.size(); ++i) {
    const YAML::Node& entry = entries[i];
    if (!entry.IsMap()) continue;
    std::string path = "hide[" + std::to_string(i) + "]";
    Fields fields = ReadFields(entry, "in " + path, kHideKeys);
    HideSpec spec;
    spec.pos = PosOf(entry);
    bool ok = true;
    if (auto s = ReadSelector(entry, fields, path)) {
      spec.select = *s;
      hide_selectors_.push_back(Named{path, *s});
    } else {
      ok = false;
    }
    if (const Field* d = Find(fields, "driver")) {
      auto driver = ReadEnum(*d, path + ".driver", kDrivers,
                             "vfio-pci, the default, for VFIO passthrough; pci-stub only "
                             "keeps host drivers away");
      if (driver)
        spec.driver = *driver;
      else
        ok = false;
    }
    if (const Field* g = Find(fields, "group")) {
      auto group = ReadEnum(*g, path + ".group", kGroups,
                            "strict, the default, refuses unless the rest of the IOMMU group is "
                            "already viable; include hides the group's other endpoints too");
      if (group)
        spec.group = *group == "strict" ? GroupPolicy::kStrict : GroupPolicy::kInclude;
      else
        ok = false;
    }
    if (const Field* force = Find(fields, "force")) {
      if (auto v = ReadForce(*force, path + ".force"))
        spec.force = *v;
      else
        ok = false;
    }
    if (ok) state.hide.push_back(std::move(spec));
  }
}

void Parser::ReadKernelArgs(const Field& f, DesiredState& state) {
  if (!f.value.IsMap()) {
    Report(ValuePos(f), "kernelArgs must be a mapping, got " + Describe(f.value),
           "write e.g. kernelArgs: {present: [intel_iommu=on, iommu=pt], absent: [quiet]}");
    return;
  }
  Fields fields = ReadFields(f.value, "in kernelArgs", kKernelArgsKeys);
  KernelArgsSpec spec;
  spec.pos = PosOf(f.value);
  bool ok = true;
  if (const Field* b = Find(fields, "bootloader")) {
    auto bootloader = ReadEnum(*b, "kernelArgs.bootloader", kBootloaders,
                               "auto, the default, detects grubby, kernel-install or GRUB; name "
                               "one to skip detection");
    if (!bootloader)
      ok = false;
    else if (*bootloader == "grub")
      spec.bootloader = Bootloader::kGrub;
    else if (*bootloader == "grubby")
      spec.bootloader = Bootloader::kGrubby;
    else if (*bootloader == "kernel-install")
      spec.bootloader = Bootloader::kKernelInstall;
  }
  // Each key once: where it was first given, for the messages about a second mention.
  struct Seen {
    std::string list;  // "present[1]"
    SourcePos pos;
    KernelArg arg;
  };
  std::map<std::string, Seen> present_keys;
  if (const Field* p = Find(fields, "present")) {
    auto items = ReadStringList(*p, "kernelArgs.present", "present: [intel_iommu=on, iommu=pt]");
    if (!items) ok = false;
    size_t i = 0;
    for (const YAML::Node& item : items.value_or(std::vector<YAML::Node>{})) {
      std::string path = "kernelArgs.present[" + std::to_string(i++) + "]";
      auto arg = ParseArgItem(item.Scalar());
      if (!arg) {
        Report(PosOf(item), path + " " + Quote(item.Scalar()) + " " + arg.error().message,
               arg.error().hint);
        ok = false;
        continue;
      }
      auto [it, fresh] = present_keys.emplace(arg->key, Seen{path, PosOf(item), *arg});
      if (!fresh) {
        bool same = it->second.arg == *arg;
        Report(PosOf(item),
               path + " " + Quote(item.Scalar()) + (same ? " repeats " : " sets ") + arg->key +
                   (same ? "" : " again, to another value") + " (" + it->second.list + ", " +
                   it->second.pos.str() + ": " + Quote(it->second.arg.str()) + ")",
               same ? "remove the repeated item"
                    : "a key takes one value on the command line; keep one of the two");
        ok = false;
        continue;
      }
      spec.present.push_back(std::move(*arg));
    }
  }
  if (const Field* a = Find(fields, "absent")) {
    auto items = ReadStringList(*a, "kernelArgs.absent", "absent: [quiet, nomodeset]");
    if (!items) ok = false;
    std::map<std::string, SourcePos> absent_keys;
    size_t i = 0;
    for (const YAML::Node& item : items.value_or(std::vector<YAML::Node>{})) {
      std::string path = "kernelArgs.absent[" + std::to_string(i++) + "]";
      const std::string& key = item.Scalar();
      auto arg = ParseArgItem(key);
      if (!arg) {
        Report(PosOf(item), path + " " + Quote(key) + " " + arg.error().message,
               "write the key alone, e.g. absent: [quiet]");
        ok = false;
        continue;
      }
      if (arg->value) {
        Report(PosOf(item), path + " " + Quote(key) + " has a value; absent takes keys only",
               "write " + arg->key + ": it removes " + arg->key + " with any value");
        ok = false;
        continue;
      }
      if (auto it = present_keys.find(key); it != present_keys.end()) {
        Report(PosOf(item),
               path + " " + Quote(key) + " is also in present (" + it->second.list + ", " +
                   it->second.pos.str() + ")",
               "a key cannot be both on and off the command line; remove it from one list");
        ok = false;
        continue;
      }
      auto [it, fresh] = absent_keys.emplace(key, PosOf(item));
      if (!fresh) {
        Report(PosOf(item),
               path + " " + Quote(key) + " is listed twice in absent (first at " +
                   it->second.str() + ")",
               "remove the repeated item");
        ok = false;
        continue;
      }
      spec.absent.push_back(key);
    }
  }
  if (ok) state.kernel_args = std::move(spec);
}

std::optional<std::vector<std::string>> Parser::ReadSoftdepList(const Field& f,
                                                                std::string_view path,
                                                                const std::string& self) {
  auto items = ReadStringList(f, path, std::string(f.key) + ": [vfio-pci]");
  if (!items) return std::nullopt;
  bool ok = items->size() == f.value.size();  // a non-string item was reported
  std::vector<std::string> names;
  size_t i = 0;
  for (const YAML::Node& item : *items) {
    std::string item_path = std::string(path) + "[" + std::to_string(i++) + "]";
    if (const char* why = ModuleNameProblem(item.Scalar(), kMaxModuleName)) {
      Report(PosOf(item), item_path + " " + Quote(item.Scalar()) + " is not a module name: " + why,
             "write the module's name as lsmod shows it, e.g. vfio_pci or vfio-pci");
      ok = false;
      continue;
    }
    std::string name = ModuleName(item.Scalar());
    if (name == self) {
      Report(PosOf(item), item_path + " names the module itself",
             "list other modules only: those to load before (pre) or after (post) it");
      ok = false;
    } else if (std::ranges::find(names, name) != names.end()) {
      Report(PosOf(item), item_path + " " + Quote(item.Scalar()) + " is listed twice",
             "remove the repeated item");
      ok = false;
    } else {
      names.push_back(name);
    }
  }
  if (!ok) return std::nullopt;
  return names;
}

void Parser::ReadModules(const Field& f, DesiredState& state) {
  std::vector<YAML::Node> entries = ReadEntries(f, "- {name: igb, parameters: {max_vfs: \"7,7\"}}");
  std::map<std::string, std::pair<std::string, SourcePos>> seen;  // name -> (entry, position)
  for (size_t i = 0; i < entries.size(); ++i) {
    const YAML::Node& entry = entries[i];
    if (!entry.IsMap()) continue;
    std::string path = "modules[" + std::to_string(i) + "]";
    Fields fields = ReadFields(entry, "in " + path, kModuleKeys);
    ModuleConfigSpec spec;
    spec.pos = PosOf(entry);
    bool ok = true;
    if (const Field* n = Find(fields, "name")) {
      auto name = ReadString(*n, path + ".name", "name: igb");
      if (!name) {
        ok = false;
      } else if (const char* why = ModuleNameProblem(*name, kMaxModuleName)) {
        Report(ValuePos(*n), path + ".name " + Quote(*name) + " is not a module name: " + why,
               "write the module's name as lsmod or modinfo shows it, e.g. igb or vfio-pci; at "
               "most 55 characters");
        ok = false;
      } else {
        spec.name = ModuleName(*name);
        auto [it, fresh] = seen.emplace(spec.name, std::pair(path, ValuePos(*n)));
        if (!fresh) {
          Report(ValuePos(*n),
                 "module " + spec.name + " is listed twice in modules (" + it->second.first + ", " +
                     it->second.second.str() + ", and " + path + ")",
                 "merge the two entries into one; '-' and '_' name the same module");
          ok = false;
        }
      }
    } else {
      Report(spec.pos, path + " has no name",
             "add name: MODULE, the kernel module as lsmod shows it, e.g. name: igb");
      ok = false;
    }
    if (const Field* p = Find(fields, "parameters")) {
      if (!p->value.IsMap()) {
        Report(ValuePos(*p), path + ".parameters must be a mapping, got " + Describe(p->value),
               "write e.g. parameters: {max_vfs: \"7,7\"}");
        ok = false;
      } else {
        std::map<std::string, std::string> as_written;  // normalised name -> name as written
        // In document order, so that of two spellings of one name the second is reported.
        Fields params = ReadFields(p->value, "in " + path + ".parameters", {});
        std::vector<const Field*> ordered;
        for (const auto& [key, param] : params) ordered.push_back(&param);
        std::ranges::sort(ordered, {}, [](const Field* a) {
          return std::pair(a->key_node.Mark().line, a->key_node.Mark().column);
        });
        for (const Field* field : ordered) {
          const std::string& key = field->key;
          const Field& param = *field;
          std::string param_path = path + ".parameters." + key;
          if (const char* why = ModuleNameProblem(key, 255)) {
            Report(PosOf(param.key_node), param_path + " is not a module parameter name: " + why,
                   "use a name `modinfo -p MODULE` lists, e.g. max_vfs");
            ok = false;
            continue;
          }
          std::string name = ModuleName(key);
          if (auto [it, fresh] = as_written.emplace(name, key); !fresh) {
            Report(PosOf(param.key_node),
                   param_path + " is the same parameter as " + it->second +
                       " ('-' and '_' read alike)",
                   "keep one of the two");
            ok = false;
            continue;
          }
          auto text = ParameterText(param.value, TypeOf(param.value));
          if (!text) {
            Report(ValuePos(param), param_path + " " + text.error().message, text.error().hint);
            ok = false;
            continue;
          }
          spec.parameters[name] = *text;
        }
      }
    }
    if (const Field* l = Find(fields, "load")) {
      if (auto load = ReadBool(*l, path + ".load", "load: true"))
        spec.load = *load ? ModuleLoad::kLoaded : ModuleLoad::kUnchanged;
      else
        ok = false;
    }
    if (const Field* r = Find(fields, "allowReload")) {
      if (auto reload = ReadBool(*r, path + ".allowReload", "allowReload: true"))
        spec.allow_reload = *reload;
      else
        ok = false;
    }
    if (const Field* d = Find(fields, "softdep")) {
      if (!d->value.IsMap()) {
        Report(ValuePos(*d), path + ".softdep must be a mapping, got " + Describe(d->value),
               "write e.g. softdep: {pre: [vfio-pci]}");
        ok = false;
      } else {
        Fields deps = ReadFields(d->value, "in " + path + ".softdep", kSoftdepKeys);
        if (const Field* pre = Find(deps, "pre")) {
          auto names = ReadSoftdepList(*pre, path + ".softdep.pre", spec.name);
          if (names)
            spec.softdep_pre = std::move(*names);
          else
            ok = false;
        }
        if (const Field* post = Find(deps, "post")) {
          auto names = ReadSoftdepList(*post, path + ".softdep.post", spec.name);
          if (names)
            spec.softdep_post = std::move(*names);
          else
            ok = false;
        }
        for (const std::string& name : spec.softdep_post) {
          if (std::ranges::find(spec.softdep_pre, name) != spec.softdep_pre.end()) {
            Report(ValuePos(*Find(deps, "post")),
                   path + ".softdep has " + name + " both in pre and in post",
                   "a module loads either before or after; keep it in one list");
            ok = false;
          }
        }
      }
    }
    if (ok) state.modules.push_back(std::move(spec));
  }
}

// libvirt domain names: any text but empty, '/' (they name files under /etc/libvirt/qemu) or
// control characters (virDomainDefParseXML / virXMLCheckIllegalChars "\n").
const char* DomainNameProblem(std::string_view name) {
  if (name.empty()) return "it is empty";
  if (name.find('/') != std::string_view::npos) return "it contains '/'";
  if (std::ranges::any_of(name, [](char c) { return std::iscntrl(static_cast<unsigned char>(c)) != 0; }))
    return "it contains a control character";
  return nullptr;
}

std::optional<VmDeviceSpec> Parser::ReadVmDevice(const YAML::Node& entry, const std::string& path) {
  Fields fields = ReadFields(entry, "in " + path, kVmDeviceKeys);
  VmDeviceSpec spec;
  spec.pos = PosOf(entry);
  bool ok = true;
  if (auto s = ReadSelector(entry, fields, path))
    spec.select = *s;
  else
    ok = false;
  if (const Field* v = Find(fields, "vf")) {
    auto n = ReadInt(*v, path + ".vf", 0, 65535,
                     "write the VF number of the selected PF, counting from 0 (its virtfnN link), e.g. vf: 1");
    if (n)
      spec.vf = static_cast<int>(*n);
    else
      ok = false;
  }
  if (const Field* m = Find(fields, "managed")) {
    if (auto v = ReadBool(*m, path + ".managed", "managed: true (libvirt binds the device) or managed: false"))
      spec.managed = *v;
    else
      ok = false;
  }
  if (const Field* a = Find(fields, "address")) {
    if (auto text = ReadString(*a, path + ".address", "address: \"0000:07:00.0\"")) {
      if (auto bdf = Bdf::Parse(*text))
        spec.guest_address = *bdf;
      else {
        Report(ValuePos(*a), path + ".address " + Quote(*text) + " is not a PCI address",
               "write the guest address as DDDD:BB:DD.F in hex, e.g. 0000:07:00.0, or leave address out to let "
               "libvirt choose one");
        ok = false;
      }
    } else {
      ok = false;
    }
  }
  if (const Field* force = Find(fields, "force")) {
    if (auto v = ReadForce(*force, path + ".force"))
      spec.force = *v;
    else
      ok = false;
  }
  if (!ok) return std::nullopt;
  return spec;
}

void Parser::ReadVms(const Field& f, DesiredState& state) {
  std::vector<YAML::Node> entries = ReadEntries(f, "- {name: win10, devices: [{device: 0000:03:00.0}]}");
  std::map<std::string, SourcePos> names;
  std::map<std::string, std::pair<std::string, SourcePos>> devices;  // device -> (entry, pos)
  for (size_t i = 0; i < entries.size(); ++i) {
    const YAML::Node& entry = entries[i];
    if (!entry.IsMap()) continue;
    std::string path = "vms[" + std::to_string(i) + "]";
    Fields fields = ReadFields(entry, "in " + path, kVmKeys);
    VmSpec spec;
    spec.pos = PosOf(entry);
    bool ok = true;
    if (const Field* n = Find(fields, "name")) {
      if (auto name = ReadString(*n, path + ".name", "name: win10")) {
        if (const char* why = DomainNameProblem(*name)) {
          Report(ValuePos(*n), path + ".name " + Quote(*name) + " is not a domain name: " + why,
                 "use the name `virsh list --all` shows");
          ok = false;
        } else if (auto [it, fresh] = names.emplace(*name, ValuePos(*n)); !fresh) {
          Report(ValuePos(*n), "vm " + *name + " is listed twice in vms (first at " + it->second.str() + ")",
                 "merge the two entries' devices into one entry");
          ok = false;
        } else {
          spec.name = *name;
        }
      } else {
        ok = false;
      }
    } else {
      Report(spec.pos, path + " has no name", "add name: DOMAIN, the libvirt domain name (`virsh list --all`)");
      ok = false;
    }
    const Field* uri = Find(fields, "uri");
    const Field* qmp = Find(fields, "qmp");
    if (uri && qmp) {
      Report(PosOf(qmp->key_node), path + " has both uri and qmp",
             "give uri for a libvirt domain, or qmp for a QEMU run without libvirt, not both");
      ok = false;
    } else if (uri) {
      if (auto text = ReadString(*uri, path + ".uri", "uri: qemu:///system")) {
        if (text->find(":/") == std::string::npos) {
          Report(ValuePos(*uri), path + ".uri " + Quote(*text) + " is not a libvirt connection URI",
                 "write e.g. qemu:///system, or qemu:///system?socket=/run/libvirt/libvirt-sock");
          ok = false;
        } else {
          spec.uri = *text;
        }
      } else {
        ok = false;
      }
    } else if (qmp) {
      if (auto text = ReadString(*qmp, path + ".qmp", "qmp: /run/qemu/vm1.qmp")) {
        if (!text->starts_with('/')) {
          Report(ValuePos(*qmp), path + ".qmp " + Quote(*text) + " is not an absolute path",
                 "write the path of the QMP unix socket QEMU was started with (-qmp unix:PATH,server), e.g. "
                 "/run/qemu/vm1.qmp");
          ok = false;
        } else {
          spec.qmp = *text;
        }
      } else {
        ok = false;
      }
    }
    if (const Field* h = Find(fields, "hotplug")) {
      if (auto v = ReadBool(*h, path + ".hotplug", "hotplug: true (also change the running domain) or hotplug: false"))
        spec.hotplug = *v;
      else
        ok = false;
    }
    if (const Field* m = Find(fields, "missing")) {
      auto v = ReadEnum(*m, path + ".missing", kMissing,
                        "refuse, the default, stops the plan when the domain does not exist; skip leaves the "
                        "entry out with a warning");
      if (v)
        spec.missing = *v == "skip" ? MissingDomain::kSkip : MissingDomain::kRefuse;
      else
        ok = false;
    }
    if (const Field* d = Find(fields, "devices")) {
      if (!d->value.IsSequence()) {
        Report(ValuePos(*d), path + ".devices must be a list of entries, got " + Describe(d->value),
               "write one '- ' item per device, e.g. devices: [{device: 0000:03:00.0}], or [] for none");
        ok = false;
      } else {
        size_t j = 0;
        std::map<std::string, SourcePos> addresses;
        for (const YAML::Node& item : d->value) {
          std::string dpath = path + ".devices[" + std::to_string(j++) + "]";
          if (item.IsNull()) {
            Report(ItemPos(item), dpath + " is empty", "remove the lone '-', or indent the entry's keys under it");
            ok = false;
            continue;
          }
          if (!item.IsMap()) {
            Report(ItemPos(item), dpath + " must be a mapping, got " + Describe(item),
                   "write the device as keys and values, e.g. {device: 0000:03:00.0} or {interface: enp4s0f0, vf: 1}");
            ok = false;
            continue;
          }
          auto dev = ReadVmDevice(item, dpath);
          if (!dev) {
            ok = false;
            continue;
          }
          std::string key = dev->str();
          if (auto [it, fresh] = devices.emplace(key, std::pair(dpath, dev->select.pos)); !fresh) {
            Report(dev->select.pos,
                   key + " is listed twice in vms (" + it->second.first + ", " + it->second.second.str() + ", and " +
                       dpath + ")",
                   "a device goes to one VM at a time; remove one of the entries");
            ok = false;
            continue;
          }
          if (dev->guest_address) {
            if (auto [it, fresh] = addresses.emplace(dev->guest_address->str(), dev->pos); !fresh) {
              Report(dev->pos, dpath + ".address " + dev->guest_address->str() + " is given to two devices (first at " +
                                   it->second.str() + ")",
                     "give each device its own guest address, or leave address out");
              ok = false;
              continue;
            }
          }
          spec.devices.push_back(std::move(*dev));
        }
      }
    }
    if (ok) state.vms.push_back(std::move(spec));
  }
}

void Parser::CheckOverlaps() {
  // Selectors are compared in their normal form (Selector::str()): "03:00.0" equals
  // "0000:03:00.0", but an interface and a BDF are only known to clash on the host.
  auto check_unique = [&](const std::vector<Named>& entries, std::string_view list,
                          std::string_view hint) {
    std::map<std::string, const Named*> seen;
    for (const Named& n : entries) {
      auto [it, fresh] = seen.emplace(n.select.str(), &n);
      if (!fresh) {
        Report(n.select.pos,
               n.select.str() + " is listed twice in " + std::string(list) + " (" +
                   it->second->entry + ", " + it->second->select.pos.str() + ", and " + n.entry +
                   ")",
               std::string(hint));
      }
    }
    return seen;
  };
  auto hidden = check_unique(hide_selectors_, "hide", "merge the two entries into one");
  auto pfs =
      check_unique(sriov_selectors_, "sriov", "keep one entry per PF, since a PF has one VF count");
  for (const auto& [key, first] : pfs) {  // one report per device, at its first sriov entry
    const Named& n = *first;
    if (auto it = hidden.find(key); it != hidden.end()) {
      Report(n.select.pos,
             n.select.str() + " is hidden from the host (" + it->second->entry + ", " +
                 it->second->select.pos.str() + ") and given VFs for the host (" + n.entry + ")",
             "remove it from hide to give its VFs to guests with vfDriver: vfio-pci, or from "
             "sriov to pass the whole function through");
    }
  }
}

std::expected<DesiredState, Diagnostics> Parser::Run() {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(std::string(text_));
  } catch (const YAML::Exception& e) {
    ReportSyntax(e);
    return std::unexpected(std::move(diagnostics_));
  }
  DesiredState state;
  state.source = file_;
  const SourcePos start{file_, 1, 1};
  if (documents.empty() || documents[0].IsNull()) {
    Report(start, "the document is empty",
           "start with apiVersion: ptrec/v1 and kind: HostConfig; see examples/");
    return std::unexpected(std::move(diagnostics_));
  }
  if (documents.size() > 1) {
    Report(
        PosOf(documents[1]),
        "the file holds " + std::to_string(documents.size()) + " YAML documents; ptrec reads one",
        "remove the '---' line and what follows it, or move it to its own file");
  }
  const YAML::Node& root = documents[0];
  if (!root.IsMap()) {
    Report(PosOf(root),
           "the document must be a mapping of apiVersion, kind, sriov, hide, ...; got " +
               Describe(root),
           "start with apiVersion: ptrec/v1 at column 1, without a leading '- '");
    return std::unexpected(std::move(diagnostics_));
  }

  Fields fields = ReadFields(root, "at the top level", kTopKeys);
  auto check_exact = [&](std::string_view key, std::string_view want) {
    const Field* f = Find(fields, key);
    std::string fix = std::string(key) + ": " + std::string(want);
    if (!f) {
      Report(PosOf(root), std::string(key) + " is missing", "add " + fix + " at the top");
    } else if (TypeOf(f->value) != Type::kString || f->value.Scalar() != want) {
      Report(ValuePos(*f),
             std::string(key) + " must be " + std::string(want) + ", got " + Describe(f->value),
             "write " + fix + ", the only " + std::string(key) + " this ptrec reads");
    }
  };
  check_exact("apiVersion", kApiVersion);
  check_exact("kind", kKind);
  if (const Field* f = Find(fields, "metadata")) ReadMetadata(*f, state);
  if (const Field* f = Find(fields, "sriov")) ReadSriov(*f, state);
  if (const Field* f = Find(fields, "hide")) ReadHide(*f, state);
  if (const Field* f = Find(fields, "kernelArgs")) ReadKernelArgs(*f, state);
  if (const Field* f = Find(fields, "modules")) ReadModules(*f, state);
  if (const Field* f = Find(fields, "vms")) ReadVms(*f, state);
  CheckOverlaps();

  if (diagnostics_.empty()) return state;
  std::ranges::stable_sort(diagnostics_, [](const Diagnostic& a, const Diagnostic& b) {
    return std::pair(a.pos.line, a.pos.column) < std::pair(b.pos.line, b.pos.column);
  });
  return std::unexpected(std::move(diagnostics_));
}

}  // namespace

std::string Diagnostic::str() const {
  std::string out = pos.file.empty() ? message : pos.str() + ": " + message;
  if (!hint.empty()) out += " (hint: " + hint + ")";
  return out;
}

std::expected<DesiredState, Diagnostics> ParseDesired(std::string_view yaml_text,
                                                      std::string_view file_name) {
  try {
    return Parser(yaml_text, file_name).Run();
  } catch (const std::exception& e) {
    // yaml-cpp can throw from node access on malformed input; no exception leaves the schema.
    return std::unexpected(
        Diagnostics{{SourcePos{std::string(file_name)}, std::string("internal error: ") + e.what(),
                     "please report this with the document that caused it"}});
  }
}

std::expected<DesiredState, Diagnostics> LoadDesired(const std::string& path) {
  bool use_stdin = path == "-";
  std::string name = use_stdin ? "<stdin>" : path;
  FILE* file = use_stdin ? stdin : std::fopen(path.c_str(), "rb");
  int error = file ? 0 : errno;
  std::string text;
  if (file) {
    char buffer[65536];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) text.append(buffer, n);
    if (std::ferror(file)) error = errno ? errno : EIO;  // e.g. EISDIR for a directory
    if (!use_stdin) std::fclose(file);
  }
  if (error != 0) {
    return std::unexpected(
        Diagnostics{{SourcePos{name}, std::string("cannot read the file: ") + std::strerror(error),
                     "check the path and its permissions"}});
  }
  return ParseDesired(text, name);
}

}  // namespace ptrec::schema
