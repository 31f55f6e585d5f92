// The pure bootloader layer: kernel command lines (cmdline.h), /etc/default/grub
// (grub_default.h, with golden files in tests/data/grub), grubby (grubby.h) and
// /etc/kernel/cmdline (kernel_cmdline_file.h). Strings in, strings out; expected values are
// written by hand from lib/cmdline.c, the GRUB manual and man grubby / kernel-install.
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "providers/bootloader/cmdline.h"
#include "providers/bootloader/grub_default.h"
#include "providers/bootloader/grubby.h"
#include "providers/bootloader/kernel_cmdline_file.h"

namespace ptrec::bootloader {
namespace {

using Args = std::vector<KernelArg>;

KernelArg A(std::string key) { return KernelArg{std::move(key), std::nullopt}; }
KernelArg A(std::string key, std::string value) {
  return KernelArg{std::move(key), std::move(value)};
}

KernelArgsSpec Want(Args present, std::vector<std::string> absent = {}) {
  KernelArgsSpec spec;
  spec.present = std::move(present);
  spec.absent = std::move(absent);
  return spec;
}

// The edit every golden file gets, in one of two variants.
KernelArgsSpec IommuOn() { return Want({A("intel_iommu", "on"), A("iommu", "pt")}); }
KernelArgsSpec IommuOnNoQuiet() {
  return Want({A("intel_iommu", "on"), A("iommu", "pt")}, {"quiet"});
}

std::string ReadData(const std::string& name) {
  std::ifstream in(std::string(PTREC_SOURCE_DIR) + "/tests/data/grub/" + name, std::ios::binary);
  INFO(name);
  REQUIRE(in.good());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// ---------------------------------------------------------------------------------------------
// cmdline.h
// ---------------------------------------------------------------------------------------------

TEST_CASE("bootloader: ParseCmdline splits as the kernel's next_arg does", "[bootloader]") {
  // Given command lines exercising each rule of lib/cmdline.c next_arg(), then the arguments
  // are the ones the kernel would see.
  CHECK(ParseCmdline("BOOT_IMAGE=/vmlinuz-6.1.0-28-amd64 root=/dev/sda2 ro quiet\n") ==
        Args{A("BOOT_IMAGE", "/vmlinuz-6.1.0-28-amd64"), A("root", "/dev/sda2"), A("ro"),
             A("quiet")});
  CHECK(ParseCmdline("") == Args{});
  CHECK(ParseCmdline(" \t\n ") == Args{});
  CHECK(ParseCmdline("  a=1\t\tb  ") == Args{A("a", "1"), A("b")});
  // The first '=' splits; later ones belong to the value; "k=" has an empty value.
  CHECK(ParseCmdline("root=UUID=0a1b-2c3d k=") == Args{A("root", "UUID=0a1b-2c3d"), A("k", "")});
  // Quotes protect spaces in a value and are removed.
  CHECK(ParseCmdline("opt=\"a b\" x") == Args{A("opt", "a b"), A("x")});
  // A quote around the whole argument is removed too.
  CHECK(ParseCmdline("\"opt=a b\" \"two words\"") == Args{A("opt", "a b"), A("two words")});
  // A quote in the middle stays, and still protects the space after it.
  CHECK(ParseCmdline("a\"b c\" d") == Args{A("a\"b c\""), A("d")});
  // An unclosed quote runs to the end; only the leading quote of the value goes.
  CHECK(ParseCmdline("opt=\"a b") == Args{A("opt", "a b")});
  CHECK(ParseCmdline("opt=\"") == Args{A("opt", "")});
  // A leading '=' does not split (the kernel's equals == 0 test); the next '=' does.
  CHECK(ParseCmdline("=x =a=b") == Args{A("=x"), A("=a", "b")});
  // "--" is an ordinary argument here; what follows belongs to init.
  CHECK(ParseCmdline("quiet -- single") == Args{A("quiet"), A("--"), A("single")});
}

TEST_CASE("bootloader: ScanCmdline gives each argument's bytes", "[bootloader]") {
  // Given a line with spacing and quotes, then each span covers exactly its argument's text,
  // quotes included.
  const std::string line = "  ro  opt=\"a b\" \"x y\"\n";
  std::vector<ArgSpan> spans = ScanCmdline(line);
  REQUIRE(spans.size() == 3);
  CHECK(line.substr(spans[0].begin, spans[0].end - spans[0].begin) == "ro");
  CHECK(line.substr(spans[1].begin, spans[1].end - spans[1].begin) == "opt=\"a b\"");
  CHECK(spans[1].arg == A("opt", "a b"));
  CHECK(line.substr(spans[2].begin, spans[2].end - spans[2].begin) == "\"x y\"");
  CHECK(spans[2].arg == A("x y"));
}

TEST_CASE("bootloader: FormatCmdline quotes only what needs it and reads back", "[bootloader]") {
  // Given arguments with and without values, with spaces in a value or a key, then the text is
  // what a person would write, and ParseCmdline reads the same arguments back.
  const Args args{A("ro"),    A("root", "/dev/sda2"), A("opt", "a b"),
                  A("k", ""), A("two words"),         A("x y", "1 2")};
  const std::string text = FormatCmdline(args);
  CHECK(text == "ro root=/dev/sda2 opt=\"a b\" k= \"two words\" \"x y=1 2\"");
  CHECK(ParseCmdline(text) == args);
  CHECK(FormatCmdline({}) == "");
  CHECK(FormatArg(A("intel_iommu", "on")) == "intel_iommu=on");
}

TEST_CASE("bootloader: ApplyKernelArgs keeps the user's arguments and their order",
          "[bootloader]") {
  // Given a command line and a spec, then other arguments keep their place, a present key's
  // value is replaced where it first occurs, its later duplicates go, every absent key goes,
  // and missing arguments are appended in present order.
  const Args current{A("BOOT_IMAGE", "/vmlinuz"),
                     A("root", "/dev/sda2"),
                     A("ro"),
                     A("iommu", "off"),
                     A("quiet"),
                     A("splash"),
                     A("iommu", "pt"),
                     A("quiet", "1")};
  ArgsEdit edit = ApplyKernelArgs(current, Want({A("intel_iommu", "on"), A("iommu", "pt"),
                                                 A("pcie_acs_override", "downstream")},
                                                {"quiet", "nomodeset"}));
  CHECK(edit.changed);
  CHECK(edit.args == Args{A("BOOT_IMAGE", "/vmlinuz"), A("root", "/dev/sda2"), A("ro"),
                          A("iommu", "pt"), A("splash"), A("intel_iommu", "on"),
                          A("pcie_acs_override", "downstream")});
}

TEST_CASE("bootloader: ApplyKernelArgs changes nothing when the line already satisfies",
          "[bootloader]") {
  // Given a line that has each present argument once with its value and no absent key, then
  // changed is false and the arguments are returned as they were; applying an edit's result
  // again changes nothing (idempotence).
  const Args current{A("ro"), A("iommu", "pt"), A("intel_iommu", "on")};
  const KernelArgsSpec want = Want({A("intel_iommu", "on"), A("iommu", "pt")}, {"quiet"});
  ArgsEdit same = ApplyKernelArgs(current, want);
  CHECK_FALSE(same.changed);
  CHECK(same.args == current);

  ArgsEdit first = ApplyKernelArgs({A("quiet"), A("iommu", "off")}, want);
  REQUIRE(first.changed);
  ArgsEdit second = ApplyKernelArgs(first.args, want);
  CHECK_FALSE(second.changed);
  CHECK(second.args == first.args);
}

TEST_CASE("bootloader: ApplyKernelArgs edits only the kernel's part before --", "[bootloader]") {
  // Given a line with "--" (the rest goes to init), then missing arguments are inserted before
  // "--", and an absent key after it is left alone because it is not a kernel argument.
  ArgsEdit edit = ApplyKernelArgs({A("ro"), A("quiet"), A("--"), A("quiet"), A("single")},
                                  Want({A("iommu", "pt")}, {"quiet"}));
  CHECK(edit.changed);
  CHECK(edit.args == Args{A("ro"), A("iommu", "pt"), A("--"), A("quiet"), A("single")});
}

TEST_CASE("bootloader: exact duplicates and value-less keys count as changes", "[bootloader]") {
  // Given a present argument listed twice with the right value, then the second goes; given
  // "quiet=1" where "quiet" (no value) is wanted, then it is replaced in place.
  ArgsEdit dup =
      ApplyKernelArgs({A("iommu", "pt"), A("ro"), A("iommu", "pt")}, Want({A("iommu", "pt")}));
  CHECK(dup.changed);
  CHECK(dup.args == Args{A("iommu", "pt"), A("ro")});
  ArgsEdit bare = ApplyKernelArgs({A("quiet", "1"), A("ro")}, Want({A("quiet")}));
  CHECK(bare.changed);
  CHECK(bare.args == Args{A("quiet"), A("ro")});
}

TEST_CASE("bootloader: PlanKernelArgEdits says what happens to each argument", "[bootloader]") {
  // Given a line with a wrong value, a duplicate and an absent key, then the script marks
  // replace, remove and keep per argument and appends before "--".
  ArgEditScript s = PlanKernelArgEdits(
      {A("iommu", "off"), A("ro"), A("iommu", "pt"), A("quiet"), A("--"), A("x")},
      Want({A("iommu", "pt"), A("intel_iommu", "on")}, {"quiet"}));
  using Op = ArgEditScript::Op;
  CHECK(s.ops ==
        std::vector<Op>{Op::kReplace, Op::kKeep, Op::kRemove, Op::kRemove, Op::kKeep, Op::kKeep});
  CHECK(s.replacement[0] == A("iommu", "pt"));
  CHECK(s.append == Args{A("intel_iommu", "on")});
  CHECK(s.append_at == 4);
  CHECK(s.changed());
  CHECK(InitArgsStart({A("a"), A("--", "x"), A("--")}) == 2);  // "--=x" is not the separator
}

TEST_CASE("bootloader: Satisfies and DiffKernelArgs agree with ApplyKernelArgs", "[bootloader]") {
  // Given one spec and several lines, then Satisfies is true exactly when ApplyKernelArgs would
  // change nothing, and DiffKernelArgs names each wanted key's state.
  const KernelArgsSpec want = Want({A("intel_iommu", "on"), A("iommu", "pt")}, {"quiet"});
  struct Row {
    Args args;
    ArgState intel;
    ArgState iommu;
    ArgState quiet;
  };
  const Row rows[] = {
      {{A("intel_iommu", "on"), A("iommu", "pt")},
       ArgState::kPresent,
       ArgState::kPresent,
       ArgState::kAbsent},
      {{A("ro")}, ArgState::kMissing, ArgState::kMissing, ArgState::kAbsent},
      {{A("intel_iommu", "off"), A("iommu")},
       ArgState::kWrongValue,
       ArgState::kWrongValue,
       ArgState::kAbsent},
      {{A("intel_iommu", "on"), A("intel_iommu", "on"), A("iommu", "off"), A("iommu", "pt")},
       ArgState::kDuplicate,
       ArgState::kDuplicate,
       ArgState::kAbsent},
      {{A("intel_iommu", "on"), A("iommu", "pt"), A("quiet", "0")},
       ArgState::kPresent,
       ArgState::kPresent,
       ArgState::kUnwanted},
      // After "--" nothing counts.
      {{A("intel_iommu", "on"), A("iommu", "pt"), A("--"), A("quiet")},
       ArgState::kPresent,
       ArgState::kPresent,
       ArgState::kAbsent},
  };
  for (const Row& row : rows) {
    INFO(FormatCmdline(row.args));
    std::vector<ArgStatus> diff = DiffKernelArgs(row.args, want);
    REQUIRE(diff.size() == 3);
    CHECK(diff[0].key == "intel_iommu");
    CHECK(diff[0].want == A("intel_iommu", "on"));
    CHECK(diff[0].state == row.intel);
    CHECK(diff[1].state == row.iommu);
    CHECK(diff[2].key == "quiet");
    CHECK_FALSE(diff[2].want.has_value());
    CHECK(diff[2].state == row.quiet);
    bool all_ok = diff[0].ok() && diff[1].ok() && diff[2].ok();
    CHECK(Satisfies(row.args, want) == all_ok);
    CHECK(ApplyKernelArgs(row.args, want).changed == !all_ok);
  }
  std::vector<ArgStatus> dup =
      DiffKernelArgs({A("iommu", "off"), A("x"), A("iommu", "pt")}, Want({A("iommu", "pt")}));
  CHECK(dup.at(0).found == Args{A("iommu", "off"), A("iommu", "pt")});
  CHECK(std::string(ArgStateName(ArgState::kWrongValue)) == "wrong_value");
}

// ---------------------------------------------------------------------------------------------
// grub_default.h: golden files
// ---------------------------------------------------------------------------------------------

struct Golden {
  const char* input;     // tests/data/grub/INPUT.in
  const char* expected;  // tests/data/grub/EXPECTED.expected
  KernelArgsSpec want;
  GrubVar target;
  std::vector<int> lines;  // 1-based lines that change (or are added)
};

TEST_CASE("bootloader: /etc/default/grub golden files change exactly the value bytes",
          "[bootloader]") {
  // Given each real-world style file and a fixed edit, then the result is byte for byte the
  // hand-written expected file, only the listed lines differ, every other line is unchanged,
  // and the same edit on the result changes nothing.
  const Golden cases[] = {
      {"debian12", "debian12", IommuOn(), GrubVar::kCmdlineLinux, {10}},
      // quiet lives in GRUB_CMDLINE_LINUX_DEFAULT, on the normal boot line too: both change.
      {"debian12", "debian12-no-quiet", IommuOnNoQuiet(), GrubVar::kCmdlineLinux, {9, 10}},
      {"ubuntu2204", "ubuntu2204", IommuOnNoQuiet(), GrubVar::kCmdlineLinuxDefault, {10}},
      {"rhel7", "rhel7", IommuOnNoQuiet(), GrubVar::kCmdlineLinux, {6}},
      {"rhel8", "rhel8", IommuOnNoQuiet(), GrubVar::kCmdlineLinux, {6}},
      {"rhel9", "rhel9", IommuOnNoQuiet(), GrubVar::kCmdlineLinux, {6}},
      {"proxmox", "proxmox", IommuOn(), GrubVar::kCmdlineLinuxDefault, {9}},
      {"unquoted", "unquoted", IommuOnNoQuiet(), GrubVar::kCmdlineLinux, {3}},
      {"unquoted-one-arg",
       "unquoted-one-arg",
       Want({A("iommu", "pt")}),
       GrubVar::kCmdlineLinux,
       {2}},
      {"single-quotes", "single-quotes", IommuOnNoQuiet(), GrubVar::kCmdlineLinux, {6}},
      {"reference", "reference", IommuOnNoQuiet(), GrubVar::kCmdlineLinux, {4}},
      {"export", "export", IommuOn(), GrubVar::kCmdlineLinux, {3}},
      {"missing", "missing", IommuOn(), GrubVar::kCmdlineLinux, {5}},
  };
  for (const Golden& c : cases) {
    DYNAMIC_SECTION(c.expected) {
      const std::string input = ReadData(std::string(c.input) + ".in");
      const std::string expected = ReadData(std::string(c.expected) + ".expected");
      auto edit = EditGrubDefault(input, c.want, c.target);
      INFO((edit ? std::string() : edit.error().message));
      REQUIRE(edit);
      CHECK(edit->changed);
      CHECK(edit->text == expected);
      CHECK(edit->lines == c.lines);

      std::vector<std::string> in = Lines(input);
      std::vector<std::string> out = Lines(edit->text);
      size_t added = out.size() - in.size();
      CHECK(out.size() >= in.size());
      int differing = static_cast<int>(added);
      for (size_t i = 0; i < in.size() && i < out.size(); ++i) {
        bool listed =
            std::find(c.lines.begin(), c.lines.end(), static_cast<int>(i) + 1) != c.lines.end();
        if (in[i] != out[i]) ++differing;
        if (!listed) CHECK(in[i] == out[i]);
      }
      CHECK(differing == static_cast<int>(c.lines.size()));

      auto again = EditGrubDefault(edit->text, c.want, c.target);
      REQUIRE(again);
      CHECK_FALSE(again->changed);
      CHECK(again->text == edit->text);
      CHECK(again->lines.empty());
    }
  }
}

TEST_CASE("bootloader: golden files read back as the arguments they configure", "[bootloader]") {
  // Given the inputs and the edited files, then ConfiguredArgs reports each variable's
  // arguments (references expanded from earlier lines) and NormalBootArgs the two joined.
  const std::string ubuntu = ReadData("ubuntu2204.in");
  CHECK(ConfiguredArgs(ubuntu, GrubVar::kCmdlineLinux).value() == Args{});
  CHECK(ConfiguredArgs(ubuntu, GrubVar::kCmdlineLinuxDefault).value() ==
        Args{A("quiet"), A("splash")});
  CHECK(NormalBootArgs(ReadData("ubuntu2204.expected")).value() ==
        Args{A("splash"), A("intel_iommu", "on"), A("iommu", "pt")});

  CHECK(ConfiguredArgs(ReadData("rhel7.in"), GrubVar::kCmdlineLinux).value() ==
        Args{A("crashkernel", "auto"), A("rd.lvm.lv", "rhel/root"), A("rd.lvm.lv", "rhel/swap"),
             A("rhgb"), A("quiet")});
  CHECK(
      ConfiguredArgs(ReadData("reference.expected"), GrubVar::kCmdlineLinux).value() ==
      Args{A("rd.lvm.lv", "vg0/root"), A("audit", "1"), A("intel_iommu", "on"), A("iommu", "pt")});
  // ${GRUB_CMDLINE_LINUX_EXTRA} is never assigned in the file: empty, as in a clean shell.
  CHECK(NormalBootArgs(ReadData("export.expected")).value() ==
        Args{A("iommu", "pt"), A("intel_iommu", "on"), A("quiet")});
  CHECK(ConfiguredArgs(ReadData("missing.in"), GrubVar::kCmdlineLinux).value() == Args{});
}

TEST_CASE("bootloader: GRUB_ENABLE_BLSCFG is read from the file", "[bootloader]") {
  // Given RHEL 8/9 files (GRUB_ENABLE_BLSCFG=true) and Debian's (no such line), then only the
  // former report BLS.
  CHECK(GrubBlsEnabled(ReadData("rhel8.in")));
  CHECK(GrubBlsEnabled(ReadData("rhel9.in")));
  CHECK_FALSE(GrubBlsEnabled(ReadData("rhel7.in")));
  CHECK_FALSE(GrubBlsEnabled(ReadData("debian12.in")));
  CHECK_FALSE(GrubBlsEnabled("GRUB_ENABLE_BLSCFG=true\nGRUB_ENABLE_BLSCFG=false\n"));
  CHECK(GrubBlsEnabled("export GRUB_ENABLE_BLSCFG=\"true\"\n"));
}

// ---------------------------------------------------------------------------------------------
// grub_default.h: edge cases and refusals
// ---------------------------------------------------------------------------------------------

TEST_CASE("bootloader: GRUB edits keep quote styles and escape what they write", "[bootloader]") {
  // Given values in each quote style and arguments that need quoting, then double-quoted
  // values get shell escapes, unquoted ones turn double-quoted when needed, and the file reads
  // back as the wanted arguments.
  SECTION("a value with a space inside double quotes") {
    auto edit = EditGrubDefault("GRUB_CMDLINE_LINUX=\"ro\"\n", Want({A("opt", "a b")}));
    REQUIRE(edit);
    CHECK(edit->text == "GRUB_CMDLINE_LINUX=\"ro opt=\\\"a b\\\"\"\n");
    CHECK(ConfiguredArgs(edit->text, GrubVar::kCmdlineLinux).value() ==
          Args{A("ro"), A("opt", "a b")});
  }
  SECTION("shell-special characters are escaped in double quotes") {
    auto edit = EditGrubDefault("GRUB_CMDLINE_LINUX=\"\"\n", Want({A("x", "$y`z\\")}));
    REQUIRE(edit);
    CHECK(edit->text == "GRUB_CMDLINE_LINUX=\"x=\\$y\\`z\\\\\"\n");
    CHECK(ConfiguredArgs(edit->text, GrubVar::kCmdlineLinux).value() == Args{A("x", "$y`z\\")});
  }
  SECTION("an unquoted empty value becomes double-quoted for two arguments") {
    auto edit = EditGrubDefault("GRUB_CMDLINE_LINUX=\n", IommuOn());
    REQUIRE(edit);
    CHECK(edit->text == "GRUB_CMDLINE_LINUX=\"intel_iommu=on iommu=pt\"\n");
  }
  SECTION("an unquoted value stays unquoted for one plain argument") {
    auto edit = EditGrubDefault("GRUB_CMDLINE_LINUX=\n", Want({A("iommu", "pt")}));
    REQUIRE(edit);
    CHECK(edit->text == "GRUB_CMDLINE_LINUX=iommu=pt\n");
  }
  SECTION("removing the only argument leaves an empty value in its quotes") {
    auto edit = EditGrubDefault("GRUB_CMDLINE_LINUX_DEFAULT='quiet'\nGRUB_CMDLINE_LINUX=quiet\n",
                                Want({}, {"quiet"}));
    REQUIRE(edit);
    CHECK(edit->text == "GRUB_CMDLINE_LINUX_DEFAULT=''\nGRUB_CMDLINE_LINUX=\n");
    CHECK(edit->lines == std::vector<int>{1, 2});
  }
  SECTION("a single-quoted value cannot take a single quote") {
    auto edit = EditGrubDefault("GRUB_CMDLINE_LINUX='ro'\n", Want({A("x", "it's")}));
    REQUIRE_FALSE(edit);
    CHECK(edit.error().code == Code::kInvalid);
    CHECK(edit.error().message.find("line 1") != std::string::npos);
  }
  SECTION("escaped quotes already in a double-quoted value are kept verbatim") {
    const std::string text = "GRUB_CMDLINE_LINUX=\"opt=\\\"a b\\\" quiet\"\n";
    CHECK(ConfiguredArgs(text, GrubVar::kCmdlineLinux).value() ==
          Args{A("opt", "a b"), A("quiet")});
    auto edit = EditGrubDefault(text, Want({}, {"quiet"}));
    REQUIRE(edit);
    CHECK(edit->text == "GRUB_CMDLINE_LINUX=\"opt=\\\"a b\\\"\"\n");
  }
}

TEST_CASE("bootloader: a missing GRUB_CMDLINE_LINUX is appended at the end", "[bootloader]") {
  // Given files without the variable, with and without a final newline and empty, then one line
  // NAME="ARGS" is added at the end, after a newline when the file lacked one.
  auto no_newline = EditGrubDefault("GRUB_TIMEOUT=5", IommuOn());
  REQUIRE(no_newline);
  CHECK(no_newline->text == "GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX=\"intel_iommu=on iommu=pt\"\n");
  CHECK(no_newline->lines == std::vector<int>{2});
  auto empty = EditGrubDefault("", Want({A("iommu", "pt")}), GrubVar::kCmdlineLinuxDefault);
  REQUIRE(empty);
  CHECK(empty->text == "GRUB_CMDLINE_LINUX_DEFAULT=\"iommu=pt\"\n");
  CHECK(empty->lines == std::vector<int>{1});
  // Only absent keys and no variable: nothing to write.
  auto nothing = EditGrubDefault("GRUB_TIMEOUT=5\n", Want({}, {"quiet"}));
  REQUIRE(nothing);
  CHECK_FALSE(nothing->changed);
  CHECK(nothing->text == "GRUB_TIMEOUT=5\n");
}

TEST_CASE("bootloader: an argument already in the other variable is left there", "[bootloader]") {
  // Given intel_iommu=on already in GRUB_CMDLINE_LINUX_DEFAULT, then the normal boot line is
  // satisfied by it and only the missing iommu=pt is added to GRUB_CMDLINE_LINUX; a wrong value
  // there is replaced where it is.
  auto edit = EditGrubDefault(
      "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet intel_iommu=off\"\nGRUB_CMDLINE_LINUX=\"\"\n", IommuOn());
  REQUIRE(edit);
  CHECK(edit->text ==
        "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet intel_iommu=on\"\nGRUB_CMDLINE_LINUX=\"iommu=pt\"\n");
  CHECK(edit->lines == std::vector<int>{1, 2});
  auto dup = EditGrubDefault(
      "GRUB_CMDLINE_LINUX=\"iommu=pt\"\nGRUB_CMDLINE_LINUX_DEFAULT=\"iommu=pt quiet\"\n",
      Want({A("iommu", "pt")}));
  REQUIRE(dup);
  CHECK(dup->text == "GRUB_CMDLINE_LINUX=\"iommu=pt\"\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\n");
}

TEST_CASE("bootloader: GRUB values ptrec cannot safely edit are refused with the line",
          "[bootloader]") {
  // Given each construct listed as refused in grub_default.h, then EditGrubDefault and
  // ConfiguredArgs return kInvalid naming etc/default/grub and the line, instead of guessing.
  struct Bad {
    const char* name;
    std::string text;
    const char* message;
  };
  const Bad cases[] = {
      {"command substitution", "GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX=\"$(cat /etc/args)\"\n",
       "line 2: ptrec cannot read the value of GRUB_CMDLINE_LINUX: it uses command substitution "
       "$(...)"},
      {"backticks", "GRUB_CMDLINE_LINUX=\"ro `cat /etc/args`\"\n",
       "line 1: ptrec cannot read the value of GRUB_CMDLINE_LINUX: it uses command substitution "
       "`...`"},
      {"quote not closed on its line", "GRUB_CMDLINE_LINUX=\"ro quiet\n",
       "line 1: ptrec cannot read the value of GRUB_CMDLINE_LINUX: its quoted value continues on "
       "the next line (no closing \" on this line)"},
      {"quote never closed", "GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX='ro",
       "line 2: ptrec cannot read "
       "the value of GRUB_CMDLINE_LINUX: its opening ' is never closed"},
      {"multi-line value", "GRUB_CMDLINE_LINUX=\"ro\nquiet\"\n",
       "line 1: ptrec cannot read the value of GRUB_CMDLINE_LINUX: its quoted value continues on "
       "the next line"},
      {"line continuation", "GRUB_CMDLINE_LINUX=\"ro \\\nquiet\"\n",
       "line 1: ptrec cannot read the value of GRUB_CMDLINE_LINUX: it continues on the next line "
       "with a backslash"},
      {"parameter operator", "GRUB_CMDLINE_LINUX=\"${ARGS:-quiet}\"\n",
       "it uses ${...} with an operator"},
      {"special parameter", "GRUB_CMDLINE_LINUX=\"$1 quiet\"\n", "the special parameter $1"},
      {"mixed quoting", "GRUB_CMDLINE_LINUX=\"ro\"' quiet'\n",
       "its value mixes quoted and unquoted parts"},
      {"another command after", "GRUB_CMDLINE_LINUX=\"ro\"; GRUB_TIMEOUT=1\n",
       "there is more than a comment after its value"},
      {"inside an if", "if [ -e /etc/x ]; then\n  GRUB_CMDLINE_LINUX=\"ro\"\nfi\n",
       "line 2: GRUB_CMDLINE_LINUX is assigned inside an if"},
      {"after &&", "[ -e /etc/x ] && GRUB_CMDLINE_LINUX=\"ro\"\n",
       "line 1: GRUB_CMDLINE_LINUX is assigned after another command on its line"},
      {"+=", "GRUB_CMDLINE_LINUX+=\" quiet\"\n", "is assigned with +="},
      {"unset", "GRUB_CMDLINE_LINUX=\"ro\"\nunset GRUB_CMDLINE_LINUX\n",
       "line 2: GRUB_CMDLINE_LINUX is unset"},
      {"backslash in an unquoted value", "GRUB_CMDLINE_LINUX=a\\ b\n", "backslash escapes"},
      {"reference to a variable ptrec cannot read",
       "EXTRA=`cat /etc/extra`\nGRUB_CMDLINE_LINUX=\"$EXTRA ro\"\n",
       "line 2: GRUB_CMDLINE_LINUX refers to $EXTRA, whose value ptrec cannot read"},
  };
  for (const Bad& c : cases) {
    DYNAMIC_SECTION(c.name) {
      auto edit = EditGrubDefault(c.text, IommuOn());
      REQUIRE_FALSE(edit);
      CHECK(edit.error().code == Code::kInvalid);
      CHECK(edit.error().path == "etc/default/grub");
      INFO(edit.error().message);
      CHECK(edit.error().message.starts_with("etc/default/grub line "));
      CHECK(edit.error().message.find(c.message) != std::string::npos);
      CHECK_FALSE(ConfiguredArgs(c.text, GrubVar::kCmdlineLinux).has_value());
    }
  }
}

TEST_CASE("bootloader: GRUB edits that would go through a reference or -- are refused",
          "[bootloader]") {
  // Given an absent key that only a $REFERENCE brings in, a value holding "--", and a later
  // grub.d file that sets the variable again, then the edit is refused (kInvalid) because the
  // result could not satisfy the spec.
  auto through = EditGrubDefault(
      "GRUB_CMDLINE_LINUX=\"quiet\"\nGRUB_CMDLINE_LINUX=\"$GRUB_CMDLINE_LINUX audit=1\"\n",
      Want({}, {"quiet"}));
  REQUIRE_FALSE(through);
  CHECK(through.error().code == Code::kInvalid);
  CHECK(through.error().message ==
        "etc/default/grub line 2: quiet comes from $GRUB_CMDLINE_LINUX in GRUB_CMDLINE_LINUX; "
        "ptrec does not edit through a reference");

  auto dashes = EditGrubDefault("GRUB_CMDLINE_LINUX=\"ro -- single\"\n", IommuOn());
  REQUIRE_FALSE(dashes);
  CHECK(dashes.error().message.find("holds \"--\"") != std::string::npos);

  const std::vector<GrubFile> later{
      {"etc/default/grub.d/50-cloudimg-settings.cfg",
       "GRUB_CMDLINE_LINUX_DEFAULT=\"console=tty1 console=ttyS0 quiet\"\n"}};
  auto overridden =
      EditGrubDefault(ReadData("ubuntu2204.in"), IommuOnNoQuiet(), GrubVar::kCmdlineLinux, later);
  REQUIRE_FALSE(overridden);
  CHECK(overridden.error().code == Code::kInvalid);
  CHECK(overridden.error().message.find("quiet (unwanted)") != std::string::npos);
  CHECK(overridden.error().message.find("etc/default/grub.d") != std::string::npos);
  // Without the absent key the later file does not matter: it only sets LINUX_DEFAULT.
  auto fine = EditGrubDefault(ReadData("ubuntu2204.in"), IommuOn(), GrubVar::kCmdlineLinux, later);
  REQUIRE(fine);
  CHECK(fine->lines == std::vector<int>{11});
}

TEST_CASE("bootloader: grub.d files are sourced after /etc/default/grub", "[bootloader]") {
  // Given /etc/default/grub and a grub.d file that extends GRUB_CMDLINE_LINUX_DEFAULT through a
  // reference, then the normal boot arguments are the expansion in sourcing order.
  const std::vector<GrubFile> files{
      {"etc/default/grub", "GRUB_CMDLINE_LINUX=\"ro\"\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\n"},
      {"etc/default/grub.d/90-console.cfg",
       "GRUB_CMDLINE_LINUX_DEFAULT=\"${GRUB_CMDLINE_LINUX_DEFAULT} console=ttyS0\"\n"}};
  CHECK(NormalBootArgs(files).value() == Args{A("ro"), A("quiet"), A("console", "ttyS0")});
  CHECK(ConfiguredArgs(files, GrubVar::kCmdlineLinuxDefault).value() ==
        Args{A("quiet"), A("console", "ttyS0")});
  auto bad = ConfiguredArgs(
      std::vector<GrubFile>{{"etc/default/grub.d/x.cfg", "GRUB_CMDLINE_LINUX=`echo ro`\n"}},
      GrubVar::kCmdlineLinux);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.starts_with("etc/default/grub.d/x.cfg line 1: "));
  CHECK(bad.error().path == "etc/default/grub.d/x.cfg");
}

TEST_CASE("bootloader: other variables' quoting does not confuse the GRUB scanner",
          "[bootloader]") {
  // Given a multi-line quoted value of another variable holding a fake assignment, a comment
  // holding one, and an assignment after `export`, then only the real assignment counts.
  const std::string text =
      "GRUB_TERMINAL=\"console\n"
      "GRUB_CMDLINE_LINUX=fake\"\n"
      "# GRUB_CMDLINE_LINUX=\"commented out\"\n"
      "GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo \"GRUB_CMDLINE_LINUX=x\"`\n"
      "export GRUB_CMDLINE_LINUX=\"ro\" # the real one\n";
  CHECK(ConfiguredArgs(text, GrubVar::kCmdlineLinux).value() == Args{A("ro")});
  auto edit = EditGrubDefault(text, Want({A("iommu", "pt")}));
  REQUIRE(edit);
  CHECK(edit->lines == std::vector<int>{5});
  CHECK(edit->text.ends_with("export GRUB_CMDLINE_LINUX=\"ro iommu=pt\" # the real one\n"));
}

TEST_CASE("bootloader: grub.cfg is regenerated with the distribution's command", "[bootloader]") {
  // Given each combination of facts, then the argv is update-grub, grub2-mkconfig for the EFI
  // or BIOS path, or grub-mkconfig.
  using Argv = std::vector<std::string>;
  CHECK(RegenerateCommand({.update_grub = true, .grub2_mkconfig = true}) == Argv{"update-grub"});
  CHECK(RegenerateCommand({.grub2_mkconfig = true}) ==
        Argv{"grub2-mkconfig", "-o", "/boot/grub2/grub.cfg"});
  CHECK(
      RegenerateCommand({.grub2_mkconfig = true, .efi_grub_cfg = "boot/efi/EFI/redhat/grub.cfg"}) ==
      Argv{"grub2-mkconfig", "-o", "/boot/efi/EFI/redhat/grub.cfg"});
  CHECK(RegenerateCommand({.grub2_mkconfig = true,
                           .efi_grub_cfg = "boot/efi/EFI/redhat/grub.cfg",
                           .efi_grub_cfg_is_stub = true}) ==
        Argv{"grub2-mkconfig", "-o", "/boot/grub2/grub.cfg"});
  CHECK(RegenerateCommand({}) == Argv{"grub-mkconfig", "-o", "/boot/grub/grub.cfg"});
  CHECK(std::string(GrubVarName(GrubVar::kCmdlineLinuxDefault)) == "GRUB_CMDLINE_LINUX_DEFAULT");
}

TEST_CASE("bootloader: the RHEL 9 EFI grub.cfg stub is recognised", "[bootloader]") {
  // Given the stub RHEL 9 puts on the ESP and a full grub.cfg, then only the stub is one.
  CHECK(
      IsGrubEfiStub("search --no-floppy --fs-uuid --set=dev 3a1f5c2e-7d44-4b1e-9f0a-1c2d3e4f5a6b\n"
                    "set prefix=($dev)/grub2\n"
                    "\n"
                    "export $prefix\n"
                    "configfile $prefix/grub.cfg\n"));
  CHECK_FALSE(
      IsGrubEfiStub("set default=\"0\"\n"
                    "insmod blscfg\n"
                    "blscfg\n"));
  CHECK_FALSE(
      IsGrubEfiStub("menuentry 'Debian GNU/Linux' {\n  linux /vmlinuz root=/dev/sda2\n}\n"));
}

// ---------------------------------------------------------------------------------------------
// grubby.h
// ---------------------------------------------------------------------------------------------

TEST_CASE("bootloader: grubby --info=ALL output parses per kernel", "[bootloader]") {
  // Given RHEL 9 output (two kernels and a rescue entry, quoted values, $tuned_params), then
  // each entry has its index, kernel and parsed args.
  const std::string output =
      "index=0\n"
      "kernel=\"/boot/vmlinuz-5.14.0-362.8.1.el9_3.x86_64\"\n"
      "args=\"ro crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M resume=/dev/mapper/rhel-swap "
      "rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap rhgb quiet $tuned_params\"\n"
      "root=\"/dev/mapper/rhel-root\"\n"
      "initrd=\"/boot/initramfs-5.14.0-362.8.1.el9_3.x86_64.img $tuned_initrd\"\n"
      "title=\"Red Hat Enterprise Linux (5.14.0-362.8.1.el9_3.x86_64) 9.3 (Plow)\"\n"
      "id=\"f1d5e1a6c9b14c0f8d3c2b4a5e6f7a8b-5.14.0-362.8.1.el9_3.x86_64\"\n"
      "index=1\n"
      "kernel=\"/boot/vmlinuz-5.14.0-284.11.1.el9_2.x86_64\"\n"
      "args=\"ro intel_iommu=on iommu=pt rhgb\"\n"
      "root=\"/dev/mapper/rhel-root\"\n"
      "index=2\n"
      "non linux entry\n";
  auto entries = ParseGrubbyInfo(output);
  INFO((entries ? std::string() : entries.error().message));
  REQUIRE(entries);
  REQUIRE(entries->size() == 3);
  const GrubbyEntry& e0 = (*entries)[0];
  CHECK(e0.index == 0);
  CHECK(e0.kernel == "/boot/vmlinuz-5.14.0-362.8.1.el9_3.x86_64");
  CHECK(e0.root == "/dev/mapper/rhel-root");
  CHECK(e0.initrd == "/boot/initramfs-5.14.0-362.8.1.el9_3.x86_64.img $tuned_initrd");
  CHECK(e0.title == "Red Hat Enterprise Linux (5.14.0-362.8.1.el9_3.x86_64) 9.3 (Plow)");
  CHECK(e0.id == "f1d5e1a6c9b14c0f8d3c2b4a5e6f7a8b-5.14.0-362.8.1.el9_3.x86_64");
  CHECK(e0.args == Args{A("ro"), A("crashkernel", "1G-4G:192M,4G-64G:256M,64G-:512M"),
                        A("resume", "/dev/mapper/rhel-swap"), A("rd.lvm.lv", "rhel/root"),
                        A("rd.lvm.lv", "rhel/swap"), A("rhgb"), A("quiet"), A("$tuned_params")});
  CHECK_FALSE(Satisfies(e0.args, IommuOn()));
  const GrubbyEntry& e1 = (*entries)[1];
  CHECK(e1.index == 1);
  CHECK(e1.args_text == "ro intel_iommu=on iommu=pt rhgb");
  CHECK(Satisfies(e1.args, IommuOn()));
  CHECK((*entries)[2].index == 2);
  CHECK((*entries)[2].kernel.empty());
}

TEST_CASE("bootloader: RHEL 7 grubby output with bare values parses", "[bootloader]") {
  // Given RHEL 7's grubby, which prints kernel= and root= without quotes, then the values are
  // the same as with quotes; empty output has no entries.
  auto entries = ParseGrubbyInfo(
      "index=0\n"
      "kernel=/boot/vmlinuz-3.10.0-1160.el7.x86_64\n"
      "args=\"ro crashkernel=auto rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap rhgb quiet "
      "LANG=en_US.UTF-8\"\n"
      "root=/dev/mapper/rhel-root\n"
      "initrd=/boot/initramfs-3.10.0-1160.el7.x86_64.img\n"
      "title=Red Hat Enterprise Linux Server (3.10.0-1160.el7.x86_64) 7.9 (Maipo)\n");
  REQUIRE(entries);
  REQUIRE(entries->size() == 1);
  CHECK((*entries)[0].kernel == "/boot/vmlinuz-3.10.0-1160.el7.x86_64");
  CHECK((*entries)[0].root == "/dev/mapper/rhel-root");
  CHECK((*entries)[0].args.back() == A("LANG", "en_US.UTF-8"));
  CHECK(ParseGrubbyInfo("").value().empty());
}

TEST_CASE("bootloader: malformed grubby output is an error with the line", "[bootloader]") {
  // Given a value before any index= and a non-numeric index, then kInvalid names the line.
  auto orphan = ParseGrubbyInfo("kernel=\"/boot/vmlinuz\"\nindex=0\n");
  REQUIRE_FALSE(orphan);
  CHECK(orphan.error().code == Code::kInvalid);
  CHECK(orphan.error().message == "grubby output line 1: kernel= comes before any index= line");
  auto index = ParseGrubbyInfo("index=0\nindex=x\n");
  REQUIRE_FALSE(index);
  CHECK(index.error().message == "grubby output line 2: index \"x\" is not a non-negative integer");
}

TEST_CASE("bootloader: grubby argv carries --args and --remove-args as single elements",
          "[bootloader]") {
  // Given a spec, then the argv has one element per option, no shell quoting; parts without
  // arguments are left out, and a spec with nothing gives an empty argv.
  using Argv = std::vector<std::string>;
  CHECK(GrubbyUpdateCommand(IommuOnNoQuiet()).value() == Argv{"grubby", "--update-kernel=ALL",
                                                              "--args=intel_iommu=on iommu=pt",
                                                              "--remove-args=quiet"});
  CHECK(GrubbyUpdateCommand(IommuOn(), "DEFAULT").value() ==
        Argv{"grubby", "--update-kernel=DEFAULT", "--args=intel_iommu=on iommu=pt"});
  CHECK(GrubbyUpdateCommand(Want({}, {"rhgb", "quiet"})).value() ==
        Argv{"grubby", "--update-kernel=ALL", "--remove-args=rhgb quiet"});
  CHECK(GrubbyUpdateCommand(Want({})).value().empty());
  auto spaces = GrubbyUpdateCommand(Want({A("opt", "a b")}));
  REQUIRE_FALSE(spaces);
  CHECK(spaces.error().code == Code::kInvalid);
}

// ---------------------------------------------------------------------------------------------
// kernel_cmdline_file.h
// ---------------------------------------------------------------------------------------------

TEST_CASE("bootloader: /etc/kernel/cmdline is edited in place", "[bootloader]") {
  // Given kernel-install's one-line file, then changed arguments are replaced where they are,
  // absent ones removed, new ones appended before the trailing newline; spacing elsewhere and
  // the newline convention are kept.
  const std::string text = "root=UUID=4f1c0a2e-93b1 ro  quiet iommu=off rhgb\n";
  TextEdit edit = EditKernelCmdlineFile(text, IommuOnNoQuiet());
  CHECK(edit.changed);
  // The double space went with quiet: a kept word keeps the spacing before it.
  CHECK(edit.text == "root=UUID=4f1c0a2e-93b1 ro iommu=pt rhgb intel_iommu=on\n");
  CHECK(ReadKernelCmdlineFile(edit.text) == Args{A("root", "UUID=4f1c0a2e-93b1"), A("ro"),
                                                 A("iommu", "pt"), A("rhgb"),
                                                 A("intel_iommu", "on")});
  TextEdit again = EditKernelCmdlineFile(edit.text, IommuOnNoQuiet());
  CHECK_FALSE(again.changed);
  CHECK(again.text == edit.text);

  TextEdit no_newline = EditKernelCmdlineFile("ro quiet", Want({}, {"quiet"}));
  CHECK(no_newline.text == "ro");
  TextEdit fresh = EditKernelCmdlineFile("", IommuOn());
  CHECK(fresh.text == "intel_iommu=on iommu=pt\n");
  TextEdit blank_line = EditKernelCmdlineFile("\n", Want({A("iommu", "pt")}));
  CHECK(blank_line.text == "iommu=pt\n");
  TextEdit quoted = EditKernelCmdlineFile("ro\n", Want({A("opt", "a b")}));
  CHECK(quoted.text == "ro opt=\"a b\"\n");
}

TEST_CASE("bootloader: a new /etc/kernel/cmdline is seeded from /proc/cmdline", "[bootloader]") {
  // Given proc/cmdline, then the seed is what kernel-install would use: without BOOT_IMAGE=
  // and initrd=, single spaces, one final newline.
  CHECK(KernelCmdlineSeed("BOOT_IMAGE=/vmlinuz-6.1.0-28-amd64 root=/dev/sda2 ro  quiet "
                          "initrd=\\initramfs.img\n") == "root=/dev/sda2 ro quiet\n");
  CHECK(KernelCmdlineSeed("") == "\n");
}

}  // namespace
}  // namespace ptrec::bootloader
