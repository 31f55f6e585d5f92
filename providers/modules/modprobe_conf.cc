#include "providers/modules/modprobe_conf.h"

#include "providers/host/host_fs.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>

#include "providers/bootloader/cmdline.h"

namespace ptrec::modules {
namespace {

constexpr std::string_view kHeader =
    "# ptrec owns this file and rewrites it on every apply; edits here are lost. It holds the\n"
    "# module options and softdeps of the desired state (modules:, and sriov entries with\n"
    "# method: module-param). modprobe applies them the next time each module is loaded; for\n"
    "# modules loaded from the initramfs, rebuild it too (update-initramfs -u, dracut -f).\n";

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

bool HasSpace(std::string_view s) {
  return std::ranges::any_of(s, [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
}

std::string_view BaseName(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string_view DirName(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
}

// Splits at blanks (kmod's strtok_r(..., "\t ")).
std::vector<std::string> Words(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && IsBlank(s[i])) ++i;
    size_t start = i;
    while (i < s.size() && !IsBlank(s[i])) ++i;
    if (i > start) out.emplace_back(s.substr(start, i - start));
  }
  return out;
}

// The text after the first \a n words and the blanks that follow them (strtok's "\0" rest).
std::string_view Rest(std::string_view s, int n) {
  size_t i = 0;
  for (int w = 0; w < n; ++w) {
    while (i < s.size() && IsBlank(s[i])) ++i;
    while (i < s.size() && !IsBlank(s[i])) ++i;
  }
  while (i < s.size() && IsBlank(s[i])) ++i;
  return s.substr(i);
}

void AddOptionsLine(ModprobeFacts& facts, const std::string& module, std::string_view options,
                    const ConfSource& source) {
  for (KernelArg& arg : bootloader::ParseCmdline(options)) {
    facts.options[module][ModuleName(arg.key)] = ConfiguredOption{std::move(arg.value), source};
  }
}

// An integer as kstrtoll(s, 0) reads it: optional sign, then 0x hex, 0 octal or decimal.
std::optional<long long> KernelInt(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  int base = 10;
  if (s.size() > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  } else if (s.size() > 1 && s[0] == '0') {
    base = 8;
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  long long value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value, base);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return negative ? -value : value;
}

}  // namespace

bool SameParameterValue(std::string_view configured, std::string_view running) {
  if (configured == running) return true;
  if (running == "Y" || running == "N") return KernelStrToBool(configured) == (running == "Y");
  auto a = KernelInt(configured);
  auto b = KernelInt(running);
  return a && b && *a == *b;
}

bool AddOption(ModprobeConf& conf, std::string_view module, std::string_view param,
               std::string_view value) {
  auto& params = conf.options[ModuleName(module)];
  auto [it, fresh] = params.emplace(ModuleName(param), std::string(value));
  return fresh || it->second == value;
}

ModprobeConf ModprobeConfFromSpecs(const std::vector<ModuleConfigSpec>& modules) {
  ModprobeConf conf;
  for (const ModuleConfigSpec& spec : modules) {
    for (const auto& [param, value] : spec.parameters) AddOption(conf, spec.name, param, value);
    if (spec.softdep_pre.empty() && spec.softdep_post.empty()) continue;
    ModprobeConf::Softdep& dep = conf.softdeps[ModuleName(spec.name)];
    for (const std::string& m : spec.softdep_pre) dep.pre.push_back(ModuleName(m));
    for (const std::string& m : spec.softdep_post) dep.post.push_back(ModuleName(m));
  }
  return conf;
}

std::string RenderModprobeConf(const ModprobeConf& conf) {
  std::string out = std::string(kPtrecModprobeMarker) + "\n" + std::string(kHeader);
  std::set<std::string> modules;
  for (const auto& [module, params] : conf.options) {
    if (!params.empty()) modules.insert(module);
  }
  for (const auto& [module, dep] : conf.softdeps) {
    if (!dep.pre.empty() || !dep.post.empty()) modules.insert(module);
  }
  for (const std::string& module : modules) {
    if (auto it = conf.options.find(module); it != conf.options.end() && !it->second.empty()) {
      out += "options " + module;
      for (const auto& [param, value] : it->second) {
        out += " " + param + "=" + (HasSpace(value) ? "\"" + value + "\"" : value);
      }
      out += "\n";
    }
    if (auto it = conf.softdeps.find(module); it != conf.softdeps.end()) {
      const ModprobeConf::Softdep& dep = it->second;
      if (dep.pre.empty() && dep.post.empty()) continue;
      out += "softdep " + module;
      if (!dep.pre.empty()) {
        out += " pre:";
        for (const std::string& m : dep.pre) out += " " + m;
      }
      if (!dep.post.empty()) {
        out += " post:";
        for (const std::string& m : dep.post) out += " " + m;
      }
      out += "\n";
    }
  }
  return out;
}

std::vector<ModprobeFile> OrderModprobeFiles(std::vector<ModprobeFile> files) {
  auto rank = [](std::string_view path) {
    std::string_view dir = DirName(path);
    const size_t count = std::size(kModprobeDirs);
    for (size_t r = 0; r < count; ++r) {
      if (dir == kModprobeDirs[r]) return r;
    }
    return count;
  };
  std::vector<ModprobeFile> kept;
  std::stable_sort(files.begin(), files.end(), [&](const ModprobeFile& a, const ModprobeFile& b) {
    return rank(a.path) < rank(b.path);
  });
  std::set<std::string, std::less<>> seen;
  for (ModprobeFile& file : files) {
    std::string_view name = BaseName(file.path);
    if (name.starts_with('.') || !(name.ends_with(".conf") || name.ends_with(".alias"))) continue;
    if (!seen.emplace(name).second) continue;
    kept.push_back(std::move(file));
  }
  std::stable_sort(kept.begin(), kept.end(), [](const ModprobeFile& a, const ModprobeFile& b) {
    return BaseName(a.path) < BaseName(b.path);
  });
  return kept;
}

const ConfiguredOption* ModprobeFacts::Option(std::string_view module,
                                              std::string_view param) const {
  auto m = options.find(ModuleName(module));
  if (m == options.end()) return nullptr;
  auto p = m->second.find(ModuleName(param));
  return p == m->second.end() ? nullptr : &p->second;
}

ModprobeFacts ParseModprobeD(const std::vector<ModprobeFile>& files) {
  ModprobeFacts facts;
  for (const ModprobeFile& file : files) {
    std::string_view text = file.text;
    size_t pos = 0;
    int line_number = 0;
    while (pos < text.size()) {
      // One logical line: physical lines joined where one ends in '\' (getline_wrapped).
      std::string line;
      int first_line = line_number + 1;
      while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        std::string_view physical =
            text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        pos = nl == std::string_view::npos ? text.size() : nl + 1;
        ++line_number;
        if (physical.ends_with('\\') && nl != std::string_view::npos) {
          line += physical.substr(0, physical.size() - 1);
          continue;
        }
        line += physical;
        break;
      }
      if (line.empty() || line[0] == '#') continue;
      std::vector<std::string> words = Words(line);
      if (words.empty()) continue;
      const ConfSource source{file.path, first_line};
      const std::string& command = words[0];
      auto ignore = [&](std::string_view why) {
        facts.ignored.push_back(file.path + ":" + std::to_string(first_line) + ": " +
                                std::string(why));
      };
      if (command == "options" || command == "install" || command == "softdep" ||
          command == "remove") {
        std::string_view rest = Rest(line, 2);
        if (words.size() < 3 || rest.empty()) {
          ignore(command + " needs a module and more");
          continue;
        }
        std::string module = ModuleName(words[1]);
        if (command == "options") {
          AddOptionsLine(facts, module, rest, source);
        } else if (command == "install") {
          facts.install.emplace(module, std::string(rest));
        } else if (command == "softdep") {
          ConfiguredSoftdep dep{{}, source};
          std::vector<std::string>* into = nullptr;
          for (const std::string& w : Words(rest)) {
            if (w == "pre:")
              into = &dep.dep.pre;
            else if (w == "post:")
              into = &dep.dep.post;
            else if (into)
              into->push_back(ModuleName(w));
          }
          facts.softdeps.emplace(module, std::move(dep));
        }
      } else if (command == "blacklist") {
        if (words.size() < 2) {
          ignore("blacklist needs a module");
          continue;
        }
        facts.blacklist.emplace(ModuleName(words[1]), source);
      } else if (command == "alias") {
        if (words.size() < 3) ignore("alias needs a name and a module");
      } else {
        ignore("unknown command " + command);
      }
    }
  }
  return facts;
}

void AddKernelCmdlineOptions(ModprobeFacts& facts, std::string_view proc_cmdline) {
  proc_cmdline = proc_cmdline.substr(0, proc_cmdline.find('\n'));
  const ConfSource source{"proc/cmdline", 0};
  for (const std::string& word : Words(proc_cmdline)) {
    size_t dot = word.find('.');
    size_t equals = word.find('=');
    if (dot == std::string::npos || dot == 0 || (equals != std::string::npos && equals < dot))
      continue;
    std::string module = ModuleName(word.substr(0, dot));
    std::string option = word.substr(dot + 1);
    if (module == "modprobe" && option.starts_with("blacklist=")) {
      std::string_view list = std::string_view(option).substr(10);
      while (!list.empty()) {
        size_t comma = list.find(',');
        std::string_view name = list.substr(0, comma);
        if (!name.empty()) facts.blacklist.emplace(ModuleName(name), source);
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
      }
      continue;
    }
    AddOptionsLine(facts, module, option, source);
  }
}

std::string MaxVfsList(const std::vector<int>& per_pf) {
  std::string out;
  for (int n : per_pf) {
    if (!out.empty()) out += ',';
    out += std::to_string(n);
  }
  return out;
}

}  // namespace ptrec::modules
