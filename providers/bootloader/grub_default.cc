#include "providers/bootloader/grub_default.h"

#include <algorithm>
#include <map>
#include <optional>

#include "providers/bootloader/cmdline.h"
#include "providers/bootloader/word_splice.h"

namespace ptrec::bootloader {
namespace {

constexpr std::string_view kLinux = "GRUB_CMDLINE_LINUX";
constexpr std::string_view kLinuxDefault = "GRUB_CMDLINE_LINUX_DEFAULT";

bool IsCmdlineVar(std::string_view name) { return name == kLinux || name == kLinuxDefault; }
bool IsBlank(char c) { return c == ' ' || c == '\t'; }
bool IsIdentStart(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || (c >= '0' && c <= '9'); }
// Characters that end a shell word outside quotes (POSIX 2.3 operators and blanks).
bool IsWordEnd(char c) {
  return IsBlank(c) || c == '\n' || c == ';' || c == '&' || c == '|' || c == '(' || c == ')' ||
         c == '<' || c == '>';
}
bool IsKernelSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

enum class Quote { kNone, kDouble, kSingle };

// One character of a value after shell unquoting, or one $NAME reference; [begin, end) are
// its bytes in the file.
struct Unit {
  bool ref = false;
  char c = 0;
  std::string name;
  size_t begin = 0;
  size_t end = 0;
};

// The value of an assignment: [begin, end) includes the quotes; content is between them.
struct Value {
  Quote quote = Quote::kNone;
  size_t begin = 0;
  size_t end = 0;
  size_t content_begin = 0;
  size_t content_end = 0;
  std::vector<Unit> units;
};

// NAME=value at some place in the file. `safe` is false where the shell may or may not run it
// (inside a compound command, after `;` or `&&`) or for an `unset`; `value` is nullopt when
// the value is not one ptrec reads (`why` says why).
struct Assignment {
  std::string name;
  int line = 0;
  bool safe = true;
  std::string unsafe_why;  // "is assigned inside an if, ..." when !safe
  std::optional<Value> value;
  std::string value_why;  // "it uses command substitution $(...)" when !value
};

// A command-line word inside a value (split as the kernel splits), as units [first, last).
struct Word {
  size_t first = 0;
  size_t last = 0;
  bool opaque = false;  // holds a reference: kept verbatim, never edited
  std::string decoded;  // the characters without references
};

class Lexer {
 public:
  explicit Lexer(std::string_view text) : t_(text) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < t_.size(); ++i) {
      if (t_[i] == '\n') line_starts_.push_back(i + 1);
    }
  }

  int LineAt(size_t pos) const {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), pos);
    return static_cast<int>(it - line_starts_.begin());
  }

  std::vector<Assignment> Run();

 private:
  size_t SkipWord(size_t i) const;
  std::optional<Value> ParseValue(size_t v, size_t& end, std::string& why) const;
  // Reads the $-expression at k into \a unit; returns its length, or 0 with \a why.
  size_t ParseDollar(size_t k, Unit& unit, std::string& why) const;

  std::string_view t_;
  std::vector<size_t> line_starts_;
};

size_t Lexer::SkipWord(size_t i) const {
  const size_t n = t_.size();
  while (i < n && !IsWordEnd(t_[i])) {
    char c = t_[i];
    if (c == '\\') {
      i += 2;
    } else if (c == '\'' || c == '`') {
      size_t close = t_.find(c, i + 1);
      if (close == std::string_view::npos) return n;
      i = close + 1;
    } else if (c == '"') {
      ++i;
      while (i < n && t_[i] != '"') i += t_[i] == '\\' ? 2 : 1;
      if (i >= n) return n;
      ++i;
    } else if (c == '$' && i + 1 < n && (t_[i + 1] == '(' || t_[i + 1] == '{')) {
      char open = t_[i + 1];
      char close = open == '(' ? ')' : '}';
      int depth = 0;
      for (++i; i < n; ++i) {
        if (t_[i] == open) ++depth;
        if (t_[i] == close && --depth == 0) break;
      }
      if (i >= n) return n;
      ++i;
    } else {
      ++i;
    }
  }
  return std::min(i, n);
}

size_t Lexer::ParseDollar(size_t k, Unit& unit, std::string& why) const {
  const size_t n = t_.size();
  char next = k + 1 < n ? t_[k + 1] : '\0';
  if (next == '(') {
    why = "it uses command substitution $(...)";
    return 0;
  }
  if (next == '{') {
    size_t close = t_.find('}', k + 2);
    std::string_view name =
        close == std::string_view::npos ? std::string_view() : t_.substr(k + 2, close - k - 2);
    if (name.empty() || !IsIdentStart(name[0]) || !std::ranges::all_of(name, IsIdentChar)) {
      why = "it uses ${...} with an operator or a special parameter";
      return 0;
    }
    unit = Unit{true, 0, std::string(name), k, close + 1};
    return close + 1 - k;
  }
  if (IsIdentStart(next)) {
    size_t j = k + 1;
    while (j < n && IsIdentChar(t_[j])) ++j;
    unit = Unit{true, 0, std::string(t_.substr(k + 1, j - k - 1)), k, j};
    return j - k;
  }
  if ((next >= '0' && next <= '9') ||
      std::string_view("@*#?-$!").find(next) != std::string_view::npos) {
    why = std::string("it uses the special parameter $") + next;
    return 0;
  }
  unit = Unit{false, '$', {}, k, k + 1};  // a lone '$' is literal in the shell
  return 1;
}

std::optional<Value> Lexer::ParseValue(size_t v, size_t& end, std::string& why) const {
  const size_t n = t_.size();
  Value val;
  val.begin = v;
  size_t k = v;
  auto plain = [&](char c, size_t from, size_t to) {
    val.units.push_back(Unit{false, c, {}, from, to});
  };
  char open = v < n ? t_[v] : '\0';
  if (open == '"' || open == '\'') {
    val.quote = open == '"' ? Quote::kDouble : Quote::kSingle;
    val.content_begin = ++k;
    while (true) {
      if (k >= n) {
        why = std::string("its opening ") + open + " is never closed";
        return std::nullopt;
      }
      char c = t_[k];
      if (c == open) break;
      if (c == '\n') {
        why = std::string("its quoted value continues on the next line (no closing ") + open +
              " on this line)";
        return std::nullopt;
      }
      if (open == '\'') {
        plain(c, k, k + 1);
        ++k;
      } else if (c == '\\') {
        char d = k + 1 < n ? t_[k + 1] : '\0';
        if (d == '\n') {
          why = "it continues on the next line with a backslash";
          return std::nullopt;
        }
        if (d == '$' || d == '`' || d == '"' || d == '\\') {
          plain(d, k, k + 2);
          k += 2;
        } else {
          plain('\\', k, k + 1);  // POSIX 2.2.3: the backslash stays before other characters
          ++k;
        }
      } else if (c == '`') {
        why = "it uses command substitution `...`";
        return std::nullopt;
      } else if (c == '$') {
        Unit unit;
        size_t len = ParseDollar(k, unit, why);
        if (len == 0) return std::nullopt;
        val.units.push_back(std::move(unit));
        k += len;
      } else {
        plain(c, k, k + 1);
        ++k;
      }
    }
    val.content_end = k;
    end = val.end = k + 1;
    if (end < n && !IsWordEnd(t_[end])) {
      why = "its value mixes quoted and unquoted parts";
      return std::nullopt;
    }
    return val;
  }
  val.content_begin = v;
  while (k < n && !IsWordEnd(t_[k])) {
    char c = t_[k];
    if (c == '"' || c == '\'') {
      why = "its value mixes quoted and unquoted parts";
      return std::nullopt;
    }
    if (c == '\\') {
      why = k + 1 < n && t_[k + 1] == '\n' ? "it continues on the next line with a backslash"
                                           : "its unquoted value uses backslash escapes";
      return std::nullopt;
    }
    if (c == '`') {
      why = "it uses command substitution `...`";
      return std::nullopt;
    }
    if (c == '$') {
      Unit unit;
      size_t len = ParseDollar(k, unit, why);
      if (len == 0) return std::nullopt;
      val.units.push_back(std::move(unit));
      k += len;
      continue;
    }
    plain(c, k, k + 1);
    ++k;
  }
  val.content_end = end = val.end = k;
  return val;
}

std::vector<Assignment> Lexer::Run() {
  std::vector<Assignment> out;
  const size_t n = t_.size();
  size_t i = 0;
  bool command_start = true;  // the next word is in command position
  bool line_start = true;     // ... and nothing but `export` precedes it on its line
  bool after_unset = false;   // the current command is `unset`
  int depth = 0;              // open if/case/loops/{ } (a heuristic: keywords in command position)
  auto unsafe_event = [&](std::string_view name, size_t at, std::string why) {
    out.push_back(
        Assignment{std::string(name), LineAt(at), false, std::move(why), std::nullopt, {}});
  };
  while (i < n) {
    char c = t_[i];
    if (c == '\n') {
      ++i;
      command_start = line_start = true;
      after_unset = false;
      continue;
    }
    if (IsBlank(c) || c == '<' || c == '>') {
      ++i;
      continue;
    }
    if (c == '#') {
      while (i < n && t_[i] != '\n') ++i;
      continue;
    }
    if (c == ';' || c == '&' || c == '|' || c == '(' || c == ')') {
      ++i;
      command_start = true;
      line_start = after_unset = false;
      continue;
    }
    if (c == '\\' && i + 1 < n && t_[i + 1] == '\n') {  // the command goes on on the next line
      i += 2;
      line_start = false;
      continue;
    }
    if (command_start && IsIdentStart(c)) {
      size_t j = i;
      while (j < n && IsIdentChar(t_[j])) ++j;
      bool append = j + 1 < n && t_[j] == '+' && t_[j + 1] == '=';
      if (j < n && (t_[j] == '=' || append)) {
        Assignment a;
        a.name = std::string(t_.substr(i, j - i));
        a.line = LineAt(i);
        if (depth > 0) {
          a.safe = false;
          a.unsafe_why = "is assigned inside an if, case, loop, function or { } block";
        } else if (!line_start) {
          a.safe = false;
          a.unsafe_why = "is assigned after another command on its line";
        } else if (append) {
          a.safe = false;
          a.unsafe_why = "is assigned with +=, which /bin/sh does not know";
        }
        size_t v = j + (append ? 2 : 1);
        size_t end = v;
        std::string why;
        a.value = ParseValue(v, end, why);
        if (!a.value) {
          end = SkipWord(v);
        } else if (IsCmdlineVar(a.name)) {
          size_t k = end;
          while (k < n && IsBlank(t_[k])) ++k;
          if (k < n && t_[k] != '\n' && t_[k] != '#') {
            a.value.reset();
            why = "there is more than a comment after its value";
          }
        }
        if (!a.value) a.value_why = why;
        out.push_back(std::move(a));
        i = end;
        line_start = false;
        continue;  // still in command position: `A=1 B=2 cmd`
      }
    }
    size_t end = SkipWord(i);
    std::string_view word = t_.substr(i, end - i);
    if (command_start) {
      if (word == "export") {
        // `export NAME=value` assigns like a plain assignment; line_start stays.
      } else if (word == "if" || word == "while" || word == "until" || word == "{") {
        ++depth;
        line_start = false;
      } else if (word == "case" || word == "for") {
        ++depth;
        command_start = line_start = false;
      } else if (word == "fi" || word == "done" || word == "esac" || word == "}") {
        depth = std::max(0, depth - 1);
        command_start = line_start = false;
      } else if (word == "then" || word == "do" || word == "else" || word == "elif" ||
                 word == "!") {
        line_start = false;
      } else {
        after_unset = word == "unset";
        command_start = line_start = false;
      }
    } else {
      for (std::string_view name : {kLinux, kLinuxDefault}) {
        if (after_unset && word == name) {
          unsafe_event(name, i, "is unset");
        } else if (word.starts_with(std::string(name) + "=")) {
          unsafe_event(name, i, "is assigned in the arguments of a command");
        }
      }
    }
    i = end;
  }
  return out;
}

// The words of a value, split where the kernel splits (whitespace outside double quotes).
std::vector<Word> SplitWords(const Value& value) {
  std::vector<Word> words;
  bool in_quote = false;
  bool open = false;
  for (size_t u = 0; u < value.units.size(); ++u) {
    const Unit& unit = value.units[u];
    if (!unit.ref && IsKernelSpace(unit.c) && !in_quote) {
      open = false;
      continue;
    }
    if (!open) {
      words.push_back(Word{u, u, false, {}});
      open = true;
    }
    Word& w = words.back();
    w.last = u + 1;
    if (unit.ref) {
      w.opaque = true;
    } else {
      if (unit.c == '"') in_quote = !in_quote;
      w.decoded += unit.c;
    }
  }
  return words;
}

// Shell variables as known so far; nullopt = assigned in a way ptrec does not read.
using Env = std::map<std::string, std::optional<std::string>, std::less<>>;

// The text of units [first, last) with references expanded from \a env (a name never assigned
// is empty); nullopt and \a unknown set when a reference's value is unknown.
std::optional<std::string> Expand(const std::vector<Unit>& units, size_t first, size_t last,
                                  const Env& env, std::string& unknown) {
  std::string out;
  for (size_t u = first; u < last; ++u) {
    if (!units[u].ref) {
      out += units[u].c;
      continue;
    }
    auto it = env.find(units[u].name);
    if (it == env.end()) continue;
    if (!it->second) {
      unknown = units[u].name;
      return std::nullopt;
    }
    out += *it->second;
  }
  return out;
}

std::string Where(std::string_view path, int line) {
  return std::string(path) + " line " + std::to_string(line) + ": ";
}

// Runs the assignments of one file over \a env, as sourcing it would. \a before, if given,
// receives the environment in force just before each assignment.
Result<void> Source(const std::vector<Assignment>& assignments, std::string_view path, Env& env,
                    std::vector<Env>* before) {
  for (const Assignment& a : assignments) {
    if (before) before->push_back(env);
    if (!IsCmdlineVar(a.name)) {
      env[a.name] = std::nullopt;
      if (a.safe && a.value) {
        std::string unknown;
        env[a.name] = Expand(a.value->units, 0, a.value->units.size(), env, unknown);
      }
      continue;
    }
    if (!a.safe) {
      return Fail(Code::kInvalid,
                  Where(path, a.line) + a.name + " " + a.unsafe_why +
                      "; ptrec cannot tell which value applies and does not edit such a file",
                  std::string(path));
    }
    if (!a.value) {
      return Fail(
          Code::kInvalid,
          Where(path, a.line) + "ptrec cannot read the value of " + a.name + ": " + a.value_why,
          std::string(path));
    }
    std::string unknown;
    auto value = Expand(a.value->units, 0, a.value->units.size(), env, unknown);
    if (!value) {
      return Fail(Code::kInvalid,
                  Where(path, a.line) + a.name + " refers to $" + unknown +
                      ", whose value ptrec cannot read",
                  std::string(path));
    }
    env[a.name] = std::move(value);
  }
  return {};
}

Result<Env> SourceAll(const std::vector<GrubFile>& files) {
  Env env;
  for (const GrubFile& file : files) {
    auto sourced = Source(Lexer(file.text).Run(), file.path, env, nullptr);
    if (!sourced) return std::unexpected(sourced.error());
  }
  return env;
}

std::string VarValue(const Env& env, std::string_view name) {
  auto it = env.find(name);
  return it == env.end() || !it->second ? std::string() : *it->second;
}

std::vector<KernelArg> NormalArgs(const Env& env) {
  return ParseCmdline(VarValue(env, kLinux) + " " + VarValue(env, kLinuxDefault));
}

// Characters an unquoted value may hold without the shell giving them a meaning.
bool SafeUnquoted(std::string_view s) {
  return std::ranges::all_of(s, [](char c) {
    return IsIdentChar(c) || std::string_view(".,:/=+@%-").find(c) != std::string_view::npos;
  });
}

std::string EscapeDouble(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\' || c == '$' || c == '`') out += '\\';
    out += c;
  }
  return out;
}

// The new bytes of a value: its words kept, replaced (\a replacement nullopt = removed) or
// added (\a inserts, at the end), in its quote style.
Result<std::string> RenderValue(std::string_view text, const Value& value,
                                const std::vector<Word>& words,
                                const std::vector<std::optional<KernelArg>>& replacement,
                                const std::vector<bool>& removed,
                                const std::vector<KernelArg>& inserts, std::string_view path,
                                int line) {
  Quote quote = value.quote;
  if (quote == Quote::kNone) {
    size_t kept = inserts.size();
    bool safe = true;
    for (size_t w = 0; w < words.size(); ++w) {
      if (removed[w]) continue;
      ++kept;
      if (replacement[w]) safe = safe && SafeUnquoted(FormatArg(*replacement[w]));
    }
    for (const KernelArg& arg : inserts) safe = safe && SafeUnquoted(FormatArg(arg));
    if (kept > 1 || !safe) quote = Quote::kDouble;
  }
  auto encode = [&](const KernelArg& arg) -> Result<std::string> {
    std::string s = FormatArg(arg);
    if (quote == Quote::kDouble) return EscapeDouble(s);
    if (quote == Quote::kSingle && s.find('\'') != std::string::npos) {
      return Fail(Code::kInvalid,
                  Where(path, line) + "cannot write " + s + " into a single-quoted value",
                  std::string(path));
    }
    return s;
  };
  std::string_view content =
      text.substr(value.content_begin, value.content_end - value.content_begin);
  std::vector<detail::WordSpan> spans;
  std::vector<std::optional<std::string>> texts;
  for (size_t w = 0; w < words.size(); ++w) {
    size_t begin = value.units[words[w].first].begin - value.content_begin;
    size_t end = value.units[words[w].last - 1].end - value.content_begin;
    spans.push_back({begin, end});
    if (removed[w]) {
      texts.emplace_back(std::nullopt);
    } else if (replacement[w]) {
      auto s = encode(*replacement[w]);
      if (!s) return std::unexpected(s.error());
      texts.emplace_back(*s);
    } else {
      texts.emplace_back(std::string(content.substr(begin, end - begin)));
    }
  }
  std::vector<std::string> added;
  for (const KernelArg& arg : inserts) {
    auto s = encode(arg);
    if (!s) return std::unexpected(s.error());
    added.push_back(*s);
  }
  std::string body = detail::SpliceWords(content, spans, texts, added, words.size());
  switch (quote) {
    case Quote::kDouble:
      return "\"" + body + "\"";
    case Quote::kSingle:
      return "'" + body + "'";
    case Quote::kNone:
      return body;
  }
  return body;
}

// Why \a args does not satisfy \a want, for an error message: "iommu=pt (duplicate), quiet".
std::string Unsatisfied(const std::vector<KernelArg>& args, const KernelArgsSpec& want) {
  std::string out;
  for (const ArgStatus& status : DiffKernelArgs(args, want)) {
    if (status.ok()) continue;
    if (!out.empty()) out += ", ";
    out += (status.want ? FormatArg(*status.want) : status.key) + " (" +
           ArgStateName(status.state) + ")";
  }
  return out;
}

}  // namespace

const char* GrubVarName(GrubVar var) {
  return var == GrubVar::kCmdlineLinux ? "GRUB_CMDLINE_LINUX" : "GRUB_CMDLINE_LINUX_DEFAULT";
}

Result<GrubEdit> EditGrubDefault(std::string_view text, const KernelArgsSpec& want, GrubVar target,
                                 const std::vector<GrubFile>& later) {
  const std::string path(kGrubDefaultPath);
  Lexer lexer(text);
  std::vector<Assignment> assignments = lexer.Run();
  Env env;
  std::vector<Env> before;
  if (auto ok = Source(assignments, path, env, &before); !ok) return std::unexpected(ok.error());
  Env final_env = env;
  for (const GrubFile& file : later) {
    auto ok = Source(Lexer(file.text).Run(), file.path, final_env, nullptr);
    if (!ok) return std::unexpected(ok.error());
  }
  if (Satisfies(NormalArgs(final_env), want)) return GrubEdit{std::string(text), false, {}};

  // The last assignment of each variable, in command-line order: LINUX, then LINUX_DEFAULT.
  const std::string_view names[2] = {kLinux, kLinuxDefault};
  const size_t target_var = target == GrubVar::kCmdlineLinux ? 0 : 1;
  int last[2] = {-1, -1};
  for (size_t a = 0; a < assignments.size(); ++a) {
    for (size_t var = 0; var < 2; ++var) {
      if (assignments[a].name == names[var]) last[var] = static_cast<int>(a);
    }
  }
  // Both lines' arguments as one command line; each remembers its variable and word, and
  // whether it came from a reference (then it may not change).
  struct Origin {
    size_t var;
    size_t word;
    bool opaque;
  };
  std::vector<KernelArg> combined;
  std::vector<Origin> origins;
  std::vector<Word> words[2];
  for (size_t var = 0; var < 2; ++var) {
    if (last[var] < 0) continue;
    const Assignment& a = assignments[last[var]];
    words[var] = SplitWords(*a.value);
    for (size_t w = 0; w < words[var].size(); ++w) {
      Word& word = words[var][w];
      std::vector<KernelArg> args;
      if (!word.opaque) {
        args = ParseCmdline(word.decoded);
        if (args.size() != 1) word.opaque = true;  // cannot happen with kernel splitting
      }
      if (word.opaque) {
        std::string unknown;
        auto expanded = Expand(a.value->units, word.first, word.last, before[last[var]], unknown);
        args = ParseCmdline(expanded.value_or(""));
      }
      for (KernelArg& arg : args) {
        if (arg.key == "--" && !arg.value) {
          return Fail(Code::kInvalid,
                      Where(path, a.line) + a.name +
                          " holds \"--\"; ptrec does not edit a command line that passes "
                          "arguments to init",
                      path);
        }
        combined.push_back(std::move(arg));
        origins.push_back(Origin{var, w, word.opaque});
      }
    }
  }
  ArgEditScript script = PlanKernelArgEdits(combined, want);

  std::vector<std::optional<KernelArg>> replacement[2];
  std::vector<bool> removed[2];
  bool touched[2] = {false, false};
  for (size_t var = 0; var < 2; ++var) {
    replacement[var].assign(words[var].size(), std::nullopt);
    removed[var].assign(words[var].size(), false);
  }
  for (size_t i = 0; i < combined.size(); ++i) {
    if (script.ops[i] == ArgEditScript::Op::kKeep) continue;
    const Origin& o = origins[i];
    const Assignment& a = assignments[last[o.var]];
    if (o.opaque) {
      const Value& v = *a.value;
      std::string_view raw = text.substr(
          v.units[words[o.var][o.word].first].begin,
          v.units[words[o.var][o.word].last - 1].end - v.units[words[o.var][o.word].first].begin);
      return Fail(Code::kInvalid,
                  Where(path, a.line) + combined[i].key + " comes from " + std::string(raw) +
                      " in " + a.name + "; ptrec does not edit through a reference",
                  path);
    }
    touched[o.var] = true;
    if (script.ops[i] == ArgEditScript::Op::kRemove)
      removed[o.var][o.word] = true;
    else
      replacement[o.var][o.word] = script.replacement[i];
  }

  // New bytes for each value that changes, then the file with them spliced in.
  struct Splice {
    size_t begin;
    size_t end;
    std::string bytes;
    int line;
  };
  std::vector<Splice> splices;
  for (size_t var = 0; var < 2; ++var) {
    bool adds = var == target_var && !script.append.empty();
    if (last[var] < 0 || !(touched[var] || adds)) continue;
    const Assignment& a = assignments[last[var]];
    auto bytes = RenderValue(text, *a.value, words[var], replacement[var], removed[var],
                             adds ? script.append : std::vector<KernelArg>{}, path, a.line);
    if (!bytes) return std::unexpected(bytes.error());
    splices.push_back(Splice{a.value->begin, a.value->end, *bytes, a.line});
  }
  std::ranges::sort(splices, {}, &Splice::begin);
  GrubEdit edit;
  size_t at = 0;
  for (const Splice& s : splices) {
    edit.text += text.substr(at, s.begin - at);
    edit.text += s.bytes;
    at = s.end;
    edit.lines.push_back(s.line);
  }
  edit.text += text.substr(at);
  if (last[target_var] < 0 && !script.append.empty()) {
    if (!edit.text.empty() && !edit.text.ends_with('\n')) edit.text += '\n';
    edit.lines.push_back(1 + static_cast<int>(std::ranges::count(edit.text, '\n')));
    edit.text += std::string(names[target_var]) + "=\"" +
                 EscapeDouble(FormatCmdline(script.append)) + "\"\n";
  }
  std::ranges::sort(edit.lines);
  edit.changed = edit.text != text;

  // The edit is decided on this file alone; make sure the whole chain now agrees.
  std::vector<GrubFile> chain{GrubFile{path, edit.text}};
  chain.insert(chain.end(), later.begin(), later.end());
  auto after = SourceAll(chain);
  if (!after) return std::unexpected(after.error());
  std::vector<KernelArg> result = NormalArgs(*after);
  if (!Satisfies(result, want)) {
    return Fail(
        Code::kInvalid,
        path +
            ": after editing, the command line of a normal boot would still not be "
            "as wanted: " +
            Unsatisfied(result, want) +
            (later.empty() ? std::string()
                           : "; a file in " + std::string(kGrubDefaultDir) + " may set it again"),
        path);
  }
  return edit;
}

Result<std::vector<KernelArg>> ConfiguredArgs(const std::vector<GrubFile>& files, GrubVar which) {
  auto env = SourceAll(files);
  if (!env) return std::unexpected(env.error());
  return ParseCmdline(VarValue(*env, GrubVarName(which)));
}

Result<std::vector<KernelArg>> ConfiguredArgs(std::string_view text, GrubVar which) {
  return ConfiguredArgs({GrubFile{std::string(kGrubDefaultPath), std::string(text)}}, which);
}

Result<std::vector<KernelArg>> NormalBootArgs(const std::vector<GrubFile>& files) {
  auto env = SourceAll(files);
  if (!env) return std::unexpected(env.error());
  return NormalArgs(*env);
}

Result<std::vector<KernelArg>> NormalBootArgs(std::string_view text) {
  return NormalBootArgs({GrubFile{std::string(kGrubDefaultPath), std::string(text)}});
}

bool GrubBlsEnabled(std::string_view text) {
  std::optional<std::string> value;
  for (const Assignment& a : Lexer(text).Run()) {
    if (a.name != "GRUB_ENABLE_BLSCFG") continue;
    value.reset();
    if (a.safe && a.value && std::ranges::none_of(a.value->units, &Unit::ref)) {
      value.emplace();
      for (const Unit& u : a.value->units) *value += u.c;
    }
  }
  return value == "true";
}

bool IsGrubEfiStub(std::string_view grub_cfg) {
  return grub_cfg.find("configfile") != std::string_view::npos &&
         grub_cfg.find("menuentry") == std::string_view::npos &&
         grub_cfg.find("blscfg") == std::string_view::npos;
}

std::vector<std::string> RegenerateCommand(const GrubHostFacts& facts) {
  if (facts.update_grub) return {"update-grub"};
  if (facts.grub2_mkconfig) {
    if (!facts.efi_grub_cfg.empty() && !facts.efi_grub_cfg_is_stub) {
      return {"grub2-mkconfig", "-o", "/" + facts.efi_grub_cfg};
    }
    return {"grub2-mkconfig", "-o", "/boot/grub2/grub.cfg"};
  }
  return {"grub-mkconfig", "-o", "/boot/grub/grub.cfg"};
}

}  // namespace ptrec::bootloader
