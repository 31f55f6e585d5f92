// modprobe.d, pure: rendering ptrec's own file and reading any modprobe.d text into facts
// (providers/modules/modprobe_conf.h). Expected values follow man modprobe.d and kmod's
// libkmod-config.c, written by hand.
#include "providers/modules/modprobe_conf.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace ptrec::modules {
namespace {

const std::string kHeader = std::string(kPtrecModprobeMarker) + "\n";

// The lines of \a text after ptrec's header comment (which starts every rendered file).
std::string Body(const std::string& text) {
  size_t at = 0;
  while (at < text.size() && text[at] == '#') at = text.find('\n', at) + 1;
  return text.substr(at);
}

TEST_CASE("modprobe: ptrec's file is rendered from the modules specs", "[modprobe]") {
  // Given the iommu-on example's igb entry and a vfio-pci entry, then the file has the header,
  // then per module in name order its options (parameters in name order) and softdep lines.
  ModuleConfigSpec igb;
  igb.name = "igb";
  igb.parameters = {{"max_vfs", "7,7"}};
  igb.softdep_pre = {"vfio_pci"};
  ModuleConfigSpec vfio;
  vfio.name = "vfio_pci";
  vfio.parameters = {{"ids", "10de:1b80,10de:10f0"}, {"disable_idle_d3", "1"}};
  vfio.softdep_post = {"kvm"};
  ModuleConfigSpec loaded_only;  // no options, no softdep: no line
  loaded_only.name = "vfio";
  loaded_only.load = ModuleLoad::kLoaded;

  ModprobeConf conf = ModprobeConfFromSpecs({vfio, igb, loaded_only});
  const std::string text = RenderModprobeConf(conf);
  CHECK(text.starts_with(kHeader));
  CHECK(text.find("ptrec owns this file") != std::string::npos);
  CHECK(Body(text) ==
        "options igb max_vfs=7,7\n"
        "softdep igb pre: vfio_pci\n"
        "options vfio_pci disable_idle_d3=1 ids=10de:1b80,10de:10f0\n"
        "softdep vfio_pci post: kvm\n");
  // Deterministic: the same conf built in another order gives the same bytes.
  CHECK(RenderModprobeConf(ModprobeConfFromSpecs({igb, loaded_only, vfio})) == text);
}

TEST_CASE("modprobe: values with spaces are quoted, empty confs are the header alone",
          "[modprobe]") {
  // Given a value holding a space, an empty value, a softdep with both parts, and an empty
  // conf, then each is written the way modprobe.d reads it back.
  ModprobeConf conf;
  REQUIRE(AddOption(conf, "my-mod", "opt-a", "a b"));
  REQUIRE(AddOption(conf, "my_mod", "opt_b", ""));
  conf.softdeps["my_mod"] = {{"a", "b"}, {"c"}};
  CHECK(Body(RenderModprobeConf(conf)) ==
        "options my_mod opt_a=\"a b\" opt_b=\n"
        "softdep my_mod pre: a b post: c\n");
  const std::string empty = RenderModprobeConf(ModprobeConf{});
  CHECK(empty.starts_with(kHeader));
  CHECK(Body(empty).empty());
  CHECK(ModprobeConf{}.empty());
}

TEST_CASE("modprobe: AddOption merges sources and reports a conflicting value", "[modprobe]") {
  // Given igb max_vfs from a modules entry and from an sriov module-param entry, then the same
  // value merges (true) and another value is refused (false) without changing the first.
  ModprobeConf conf;
  CHECK(AddOption(conf, "igb", "max_vfs", "7,7"));
  CHECK(AddOption(conf, "igb", "max-vfs", "7,7"));
  CHECK_FALSE(AddOption(conf, "igb", "max_vfs", "4,4"));
  CHECK(conf.options.at("igb").at("max_vfs") == "7,7");
  CHECK(conf.options.at("igb").size() == 1);
}

TEST_CASE("modprobe: running parameter values compare as the kernel reads them", "[modprobe]") {
  // Given configured text and what sys/module/.../parameters shows, then equal text, bool
  // spellings against Y/N, and one integer in two bases match; anything else does not.
  CHECK(SameParameterValue("7,7", "7,7"));
  CHECK(SameParameterValue("1", "Y"));
  CHECK(SameParameterValue("on", "Y"));
  CHECK(SameParameterValue("false", "N"));
  CHECK_FALSE(SameParameterValue("1", "N"));
  CHECK_FALSE(SameParameterValue("maybe", "Y"));
  CHECK(SameParameterValue("0x10", "16"));
  CHECK(SameParameterValue("010", "8"));
  CHECK_FALSE(SameParameterValue("7", "4"));
  CHECK_FALSE(SameParameterValue("7,7", "7"));
  CHECK_FALSE(SameParameterValue("", "0"));
}

TEST_CASE("modprobe: MaxVfsList joins one count per PF", "[modprobe]") {
  // Given per-port VF counts, then igb's comma-separated max_vfs text.
  CHECK(MaxVfsList({7, 7}) == "7,7");
  CHECK(MaxVfsList({4}) == "4");
  CHECK(MaxVfsList({0, 7, 2}) == "0,7,2");
  CHECK(MaxVfsList({}) == "");
}

TEST_CASE("modprobe: modprobe.d text parses into the options modprobe will apply", "[modprobe]") {
  // Given files in kmod's order with comments, a continued line, tabs, '-' spellings and the
  // same parameter set twice, then each parameter has its last value and where it was set.
  const std::vector<ModprobeFile> files{
      {"lib/modprobe.d/aliases.conf",
       "# Aliases and options shipped by the distribution\n"
       "alias pci:v00008086d000010C9sv*sd*bc*sc*i* igb\n"
       "options igb max_vfs=2\n"},
      {"etc/modprobe.d/igb.conf",
       "options igb max_vfs=7,7 \\\n"
       "\tdebug=16\n"
       "\n"
       "options vfio-pci ids=10de:1b80,10de:10f0 disable-idle-d3\n"},
      {"etc/modprobe.d/zz-local.conf", "options igb max-vfs=4,4  opt=\"a b\"\n"},
  };
  ModprobeFacts facts = ParseModprobeD(files);
  CHECK(facts.ignored.empty());
  const ConfiguredOption* max_vfs = facts.Option("igb", "max_vfs");
  REQUIRE(max_vfs != nullptr);
  CHECK(max_vfs->value == "4,4");
  CHECK(max_vfs->source == ConfSource{"etc/modprobe.d/zz-local.conf", 1});
  const ConfiguredOption* debug = facts.Option("igb", "debug");
  REQUIRE(debug != nullptr);
  CHECK(debug->value == "16");
  CHECK(debug->source == ConfSource{"etc/modprobe.d/igb.conf", 1});  // the joined line's first
  CHECK(facts.Option("igb", "opt")->value == "a b");
  const ConfiguredOption* ids = facts.Option("vfio_pci", "ids");
  REQUIRE(ids != nullptr);
  CHECK(ids->value == "10de:1b80,10de:10f0");
  CHECK(ids->source.line == 4);
  const ConfiguredOption* flag = facts.Option("vfio-pci", "disable_idle_d3");
  REQUIRE(flag != nullptr);
  CHECK_FALSE(flag->value.has_value());
  CHECK(facts.Option("igb", "nonexistent") == nullptr);
  CHECK(facts.Option("e1000e", "debug") == nullptr);
}

TEST_CASE("modprobe: softdep and install take the first match, blacklist any", "[modprobe]") {
  // Given two softdep lines and two install lines for one module, then the first of each counts
  // (kmod stops at the first match); blacklists are collected; bad lines are listed as ignored.
  ModprobeFacts facts = ParseModprobeD({
      {"etc/modprobe.d/a.conf",
       "softdep igb pre: vfio-pci post: igbvf\n"
       "install nouveau /bin/false\n"
       "blacklist nouveau\n"},
      {"etc/modprobe.d/b.conf",
       "softdep igb pre: pci-stub\n"
       "install nouveau /bin/true\n"
       "options igb\n"
       "  # indented comment\n"
       "frobnicate igb\n"},
  });
  REQUIRE(facts.softdeps.count("igb") == 1);
  CHECK(facts.softdeps.at("igb").dep.pre == std::vector<std::string>{"vfio_pci"});
  CHECK(facts.softdeps.at("igb").dep.post == std::vector<std::string>{"igbvf"});
  CHECK(facts.softdeps.at("igb").source == ConfSource{"etc/modprobe.d/a.conf", 1});
  CHECK(facts.install.at("nouveau") == "/bin/false");
  CHECK(facts.blacklist.count("nouveau") == 1);
  CHECK(facts.ignored ==
        std::vector<std::string>{"etc/modprobe.d/b.conf:3: options needs a module and more",
                                 "etc/modprobe.d/b.conf:4: unknown command #",
                                 "etc/modprobe.d/b.conf:5: unknown command frobnicate"});
}

TEST_CASE("modprobe: ptrec's rendered file reads back as its own options", "[modprobe]") {
  // Given a rendered conf, then parsing it yields the same options and softdeps.
  ModprobeConf conf;
  AddOption(conf, "igb", "max_vfs", "7,7");
  AddOption(conf, "vfio_pci", "opt", "a b");
  conf.softdeps["igb"] = {{"vfio_pci"}, {}};
  ModprobeFacts facts =
      ParseModprobeD({{std::string(kPtrecModprobePath), RenderModprobeConf(conf)}});
  CHECK(facts.ignored.empty());
  CHECK(facts.Option("igb", "max_vfs")->value == "7,7");
  CHECK(facts.Option("vfio_pci", "opt")->value == "a b");
  CHECK(facts.softdeps.at("igb").dep == conf.softdeps.at("igb"));
}

TEST_CASE("modprobe: files are ordered as kmod reads them", "[modprobe]") {
  // Given files from several directories, then only *.conf (and *.alias) files not starting
  // with '.' stay, /etc hides a same-named file in /lib, and all sort by file name.
  std::vector<ModprobeFile> ordered = OrderModprobeFiles({
      {"lib/modprobe.d/50-b.conf", "lib b"},
      {"etc/modprobe.d/50-b.conf", "etc b"},
      {"lib/modprobe.d/10-a.conf", "lib a"},
      {"usr/lib/modprobe.d/systemd.conf", "usr lib"},
      {"run/modprobe.d/90-z.conf", "run z"},
      {"etc/modprobe.d/README", "not a conf"},
      {"etc/modprobe.d/.hidden.conf", "hidden"},
      {"usr/lib/modprobe.d/50-b.conf", "usr lib b"},
  });
  std::vector<std::string> paths;
  for (const ModprobeFile& f : ordered) paths.push_back(f.path);
  CHECK(paths == std::vector<std::string>{"lib/modprobe.d/10-a.conf", "etc/modprobe.d/50-b.conf",
                                          "run/modprobe.d/90-z.conf",
                                          "usr/lib/modprobe.d/systemd.conf"});
  CHECK(ordered[1].text == "etc b");
}

TEST_CASE("modprobe: module options on the kernel command line count last", "[modprobe]") {
  // Given a file setting igb max_vfs and a command line with igb.max_vfs= and
  // modprobe.blacklist=, then the command line wins and blacklists; other arguments (no '.',
  // or '=' before the '.') are not module options.
  ModprobeFacts facts = ParseModprobeD({{"etc/modprobe.d/igb.conf", "options igb max_vfs=2\n"}});
  AddKernelCmdlineOptions(facts,
                          "BOOT_IMAGE=/vmlinuz-6.1 root=/dev/sda2 ro igb.max_vfs=7,7 "
                          "vfio-pci.ids=8086:10ca modprobe.blacklist=nouveau,radeon "
                          "rd.lvm.lv=vg/root quiet\n");
  CHECK(facts.Option("igb", "max_vfs")->value == "7,7");
  CHECK(facts.Option("igb", "max_vfs")->source == ConfSource{"proc/cmdline", 0});
  CHECK(facts.Option("vfio_pci", "ids")->value == "8086:10ca");
  CHECK(facts.blacklist.count("nouveau") == 1);
  CHECK(facts.blacklist.count("radeon") == 1);
  CHECK(facts.options.count("root") == 0);
  CHECK(facts.options.count("BOOT_IMAGE=/vmlinuz-6") == 0);
  // "rd.lvm.lv=vg/root" has its '.' before '=': kmod reads it as options for module "rd".
  CHECK(facts.Option("rd", "lvm.lv") != nullptr);
}

}  // namespace
}  // namespace ptrec::modules
