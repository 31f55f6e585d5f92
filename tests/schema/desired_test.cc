// Tests of schema/desired.h: YAML desired-state documents -> DesiredState or Diagnostics.
//
// Every expected value below is written from the format's specification (schema/fields.md),
// with positions counted by hand: line and column are 1-based, so in
// "  - device: 03:00.0" the value starts at column 13.
#include "schema/desired.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>

namespace ptrec::schema {
namespace {

constexpr std::string_view kHead = "apiVersion: ptrec/v1\nkind: HostConfig\n";  // lines 1-2

std::string Doc(std::string_view body) { return std::string(kHead) + std::string(body); }

std::string Dump(const Diagnostics& diagnostics) {
  std::string out;
  for (const Diagnostic& d : diagnostics) out += d.str() + "\n";
  return out;
}

// True when a diagnostic sits at line:column and its message contains \a text.
bool Has(const Diagnostics& diagnostics, int line, int column, std::string_view text) {
  for (const Diagnostic& d : diagnostics) {
    if (d.pos.line == line && d.pos.column == column && d.message.find(text) != std::string::npos) {
      return true;
    }
  }
  return false;
}

void CheckPos(const SourcePos& pos, int line, int column) {
  CHECK(pos.file == "host.yaml");
  CHECK(pos.line == line);
  CHECK(pos.column == column);
}

std::filesystem::path SourceDir() {
  if (const char* env = std::getenv("PTREC_SOURCE_DIR")) return env;
  return PTREC_SOURCE_DIR;
}

TEST_CASE("schema: a document using every field parses to the exact DesiredState", "[schema]") {
  // Given a document that sets every field of the format, then each value, default and
  // position lands in the DesiredState.
  const std::string yaml =
      Doc("metadata:\n"                 // 3
          "  name: compute-17\n"        // 4
          "  description: test host\n"  // 5
          "  labels: {rack: r4}\n"      // 6
          "sriov:\n"                    // 7
          "  - device: 0000:03:00.0\n"  // 8
          "    numVfs: 7\n"             // 9
          "    vfDriver: vfio-pci\n"    // 10
          "    method: module-param\n"  // 11
          "    force: true\n"           // 12
          "  - interface: enp3s0f1\n"   // 13
          "    numVfs: 0\n"             // 14
          "  - id: 14e4:168e\n"         // 15
          "    index: 0\n"              // 16
          "    numVfs: 4\n"             // 17
          "    vfDriver: pci-stub\n"    // 18
          "hide:\n"                     // 19
          "  - device: 02:00.0\n"       // 20
          "    driver: pci-stub\n"      // 21
          "    group: include\n"        // 22
          "    force: false\n"          // 23
          "  - id: 10de:1b80\n");       // 24
  auto state = ParseDesired(yaml, "host.yaml");
  INFO((state ? std::string() : Dump(state.error())));
  REQUIRE(state);
  CHECK(state->source == "host.yaml");
  REQUIRE(state->sriov.size() == 3);
  REQUIRE(state->hide.size() == 2);

  const SriovSpec& pf0 = state->sriov[0];
  CHECK(pf0.select.kind == Selector::Kind::kBdf);
  CHECK(pf0.select.bdf == Bdf{0x0000, 0x03, 0x00, 0});
  CheckPos(pf0.select.pos, 8, 13);
  CheckPos(pf0.pos, 8, 5);
  CHECK(pf0.num_vfs == 7);
  CHECK(pf0.vf_driver == "vfio-pci");
  CHECK(pf0.method == SriovMethod::kModuleParam);
  CHECK(pf0.force == Force::kYes);

  const SriovSpec& pf1 = state->sriov[1];
  CHECK(pf1.select.kind == Selector::Kind::kInterface);
  CHECK(pf1.select.interface == "enp3s0f1");
  CheckPos(pf1.select.pos, 13, 16);
  CheckPos(pf1.pos, 13, 5);
  CHECK(pf1.num_vfs == 0);
  CHECK(pf1.vf_driver == "");
  CHECK(pf1.method == SriovMethod::kSysfs);
  CHECK(pf1.force == Force::kNo);

  const SriovSpec& pf2 = state->sriov[2];
  CHECK(pf2.select.kind == Selector::Kind::kId);
  CHECK(pf2.select.id == PciId{0x14e4, 0x168e});
  CHECK(pf2.select.index == 0);
  CheckPos(pf2.select.pos, 15, 9);
  CheckPos(pf2.pos, 15, 5);
  CHECK(pf2.num_vfs == 4);
  CHECK(pf2.vf_driver == "pci-stub");

  const HideSpec& h0 = state->hide[0];
  CHECK(h0.select.kind == Selector::Kind::kBdf);
  CHECK(h0.select.bdf == Bdf{0x0000, 0x02, 0x00, 0});
  CheckPos(h0.select.pos, 20, 13);
  CheckPos(h0.pos, 20, 5);
  CHECK(h0.driver == "pci-stub");
  CHECK(h0.group == GroupPolicy::kInclude);
  CHECK(h0.force == Force::kNo);

  const HideSpec& h1 = state->hide[1];
  CHECK(h1.select.kind == Selector::Kind::kId);
  CHECK(h1.select.id == PciId{0x10de, 0x1b80});
  CHECK(h1.select.index == -1);
  CheckPos(h1.select.pos, 24, 9);
  CHECK(h1.driver == "vfio-pci");
  CHECK(h1.group == GroupPolicy::kStrict);
  CHECK(h1.force == Force::kNo);
}

TEST_CASE("schema: short BDF is normalised", "[schema]") {
  // Given "03:00.0" and the upper-case "0000:0A:1F.7", then both become canonical BDFs with
  // domain 0000 and lower-case hex.
  auto state =
      ParseDesired(Doc("hide:\n  - device: 03:00.0\n  - device: 0000:0A:1F.7\n"), "host.yaml");
  INFO((state ? std::string() : Dump(state.error())));
  REQUIRE(state);
  REQUIRE(state->hide.size() == 2);
  CHECK(state->hide[0].select.bdf == Bdf{0x0000, 0x03, 0x00, 0});
  CHECK(state->hide[0].select.str() == "0000:03:00.0");
  CHECK(state->hide[1].select.bdf == Bdf{0x0000, 0x0a, 0x1f, 7});
  CHECK(state->hide[1].select.str() == "0000:0a:1f.7");
}

TEST_CASE("schema: quoted and unquoted BDFs and ids read the same", "[schema]") {
  // Given the same device and id written plain, single- and double-quoted, then all three
  // entries select the same thing (a plain 0000:03:00.0 is a string in YAML 1.2).
  for (std::string_view device : {"0000:03:00.0", "'0000:03:00.0'", "\"0000:03:00.0\""}) {
    auto state = ParseDesired(Doc("hide:\n  - device: " + std::string(device) + "\n"), "host.yaml");
    INFO(device);
    REQUIRE(state);
    CHECK(state->hide.at(0).select.bdf == Bdf{0x0000, 0x03, 0x00, 0});
  }
  for (std::string_view id : {"8086:10c9", "\"8086:10c9\"", "0x8086:0x10C9"}) {
    auto state = ParseDesired(Doc("hide:\n  - id: " + std::string(id) + "\n"), "host.yaml");
    INFO(id);
    REQUIRE(state);
    CHECK(state->hide.at(0).select.id == PciId{0x8086, 0x10c9});
  }
}

TEST_CASE("schema: a minimal document has no entries", "[schema]") {
  // Given only apiVersion and kind (and a document start marker), then both lists are empty;
  // `sriov: []` and `hide: []` mean the same.
  for (std::string text :
       {std::string("---\n") + std::string(kHead), Doc("sriov: []\nhide: []\n")}) {
    auto state = ParseDesired(text, "host.yaml");
    INFO(text);
    REQUIRE(state);
    CHECK(state->source == "host.yaml");
    CHECK(state->sriov.empty());
    CHECK(state->hide.empty());
  }
}

TEST_CASE("schema: YAML 1.2 booleans and integer forms are accepted", "[schema]") {
  // Given force: True / FALSE, numVfs in hex (0x10) and with a + sign, then they read as the
  // booleans and integers of the YAML 1.2 core schema.
  auto state = ParseDesired(Doc("sriov:\n"
                                "  - {device: 03:00.0, numVfs: 0x10, force: True}\n"
                                "  - {device: 03:00.1, numVfs: +3, force: FALSE}\n"),
                            "host.yaml");
  INFO((state ? std::string() : Dump(state.error())));
  REQUIRE(state);
  REQUIRE(state->sriov.size() == 2);
  CHECK(state->sriov[0].num_vfs == 16);
  CHECK(state->sriov[0].force == Force::kYes);
  CHECK(state->sriov[1].num_vfs == 3);
  CHECK(state->sriov[1].force == Force::kNo);
}

TEST_CASE("schema: numVfs limits 0 and 65535 are accepted", "[schema]") {
  // Given numVfs at both ends of its range, then both parse.
  auto state = ParseDesired(Doc("sriov:\n  - {device: 03:00.0, numVfs: 0}\n"
                                "  - {device: 03:00.1, numVfs: 65535}\n"),
                            "host.yaml");
  REQUIRE(state);
  CHECK(state->sriov.at(0).num_vfs == 0);
  CHECK(state->sriov.at(1).num_vfs == 65535);
}

TEST_CASE("schema: kernelArgs and modules parse to their specs", "[schema]") {
  // Given a document using every kernelArgs and modules field, then each value is normalised
  // (module names to '_', a quoted argument value unquoted) and positions point at the entries.
  const std::string yaml =
      Doc("kernelArgs:\n"                                                   // 3
          "  bootloader: grubby\n"                                          // 4
          "  present: [intel_iommu=on, iommu=pt, 'opt=\"a b\"', quiet=]\n"  // 5
          "  absent: [nomodeset, splash]\n"                                 // 6
          "modules:\n"                                                      // 7
          "  - name: igb\n"                                                 // 8
          "    parameters:\n"                                               // 9
          "      max_vfs: \"7,7\"\n"                                        // 10
          "    softdep:\n"                                                  // 11
          "      pre: [vfio-pci]\n"                                         // 12
          "  - name: vfio-pci\n"                                            // 13
          "    parameters: {enable-sriov: true, disable_idle_d3: false, nointxmask: 0x1}\n"
          "    load: true\n"                    // 15
          "    softdep: {post: [kvm-intel]}\n"  // 16
          "    allowReload: true\n");           // 17
  auto state = ParseDesired(yaml, "host.yaml");
  INFO((state ? std::string() : Dump(state.error())));
  REQUIRE(state);
  REQUIRE(state->kernel_args.has_value());
  const KernelArgsSpec& k = *state->kernel_args;
  CHECK(k.bootloader == Bootloader::kGrubby);
  CHECK(k.present == std::vector<KernelArg>{
                         {"intel_iommu", "on"}, {"iommu", "pt"}, {"opt", "a b"}, {"quiet", ""}});
  CHECK(k.absent == std::vector<std::string>{"nomodeset", "splash"});
  CheckPos(k.pos, 4, 3);

  REQUIRE(state->modules.size() == 2);
  const ModuleConfigSpec& igb = state->modules[0];
  CHECK(igb.name == "igb");
  CHECK(igb.parameters == std::map<std::string, std::string>{{"max_vfs", "7,7"}});
  CHECK(igb.load == ModuleLoad::kUnchanged);
  CHECK(igb.softdep_pre == std::vector<std::string>{"vfio_pci"});
  CHECK(igb.softdep_post.empty());
  CHECK_FALSE(igb.allow_reload);
  CheckPos(igb.pos, 8, 5);

  const ModuleConfigSpec& vfio = state->modules[1];
  CHECK(vfio.name == "vfio_pci");
  CHECK(vfio.parameters == std::map<std::string, std::string>{{"enable_sriov", "1"},
                                                              {"disable_idle_d3", "0"},
                                                              {"nointxmask", "1"}});
  CHECK(vfio.load == ModuleLoad::kLoaded);
  CHECK(vfio.softdep_pre.empty());
  CHECK(vfio.softdep_post == std::vector<std::string>{"kvm_intel"});
  CHECK(vfio.allow_reload);
  CheckPos(vfio.pos, 13, 5);
}

TEST_CASE("schema: kernelArgs absent, empty, and each bootloader value", "[schema]") {
  // Given no kernelArgs, then kernel_args is nullopt (leave the command line alone); given
  // kernelArgs: {}, then it is set with bootloader auto and no arguments; each bootloader word
  // maps to its enum value.
  auto none = ParseDesired(Doc("hide: []\n"), "host.yaml");
  REQUIRE(none);
  CHECK_FALSE(none->kernel_args.has_value());
  CHECK(none->modules.empty());

  auto empty = ParseDesired(Doc("kernelArgs: {}\nmodules: []\n"), "host.yaml");
  INFO((empty ? std::string() : Dump(empty.error())));
  REQUIRE(empty);
  REQUIRE(empty->kernel_args.has_value());
  CHECK(empty->kernel_args->bootloader == Bootloader::kAuto);
  CHECK(empty->kernel_args->present.empty());
  CHECK(empty->kernel_args->absent.empty());
  CHECK(empty->modules.empty());

  const std::pair<const char*, Bootloader> words[] = {
      {"auto", Bootloader::kAuto},
      {"grub", Bootloader::kGrub},
      {"grubby", Bootloader::kGrubby},
      {"kernel-install", Bootloader::kKernelInstall}};
  for (const auto& [word, bootloader] : words) {
    auto state =
        ParseDesired(Doc("kernelArgs:\n  bootloader: " + std::string(word) + "\n"), "host.yaml");
    INFO(word);
    REQUIRE(state);
    CHECK(state->kernel_args->bootloader == bootloader);
  }
}

TEST_CASE("schema: module parameter values become the text modprobe takes", "[schema]") {
  // Given parameters written as YAML integers (decimal, hex, octal, signed), booleans and
  // strings, then each is stored as modprobe.d text: integers in decimal, booleans as 1/0,
  // strings verbatim (spaces and the empty string included).
  auto state = ParseDesired(Doc("modules:\n"
                                "  - name: m\n"
                                "    parameters:\n"
                                "      a: 7\n"
                                "      b: 0x10\n"
                                "      c: 0o17\n"
                                "      d: -3\n"
                                "      e: True\n"
                                "      f: false\n"
                                "      g: \"7\"\n"
                                "      h: two words\n"
                                "      i: \"\"\n"
                                "      j: yes\n"),
                            "host.yaml");
  INFO((state ? std::string() : Dump(state.error())));
  REQUIRE(state);
  CHECK(state->modules.at(0).parameters == std::map<std::string, std::string>{{"a", "7"},
                                                                              {"b", "16"},
                                                                              {"c", "15"},
                                                                              {"d", "-3"},
                                                                              {"e", "1"},
                                                                              {"f", "0"},
                                                                              {"g", "7"},
                                                                              {"h", "two words"},
                                                                              {"i", ""},
                                                                              {"j", "yes"}});
}

TEST_CASE("schema: sriov method module-param is still accepted next to modules", "[schema]") {
  // Given an sriov entry with method: module-param and a modules entry for its driver, then
  // both parse; combining them into one options line is the planner's job.
  auto state = ParseDesired(Doc("sriov:\n"
                                "  - {device: 03:00.0, numVfs: 7, method: module-param}\n"
                                "modules:\n"
                                "  - {name: igb, softdep: {pre: [vfio-pci]}}\n"),
                            "host.yaml");
  INFO((state ? std::string() : Dump(state.error())));
  REQUIRE(state);
  CHECK(state->sriov.at(0).method == SriovMethod::kModuleParam);
  CHECK(state->modules.at(0).parameters.empty());
}

// One malformed document: the diagnostics it must produce (exactly `count`, one of them at
// line:column with a message containing `message` and, if set, a hint containing `hint`).
struct BadCase {
  const char* name;
  std::string yaml;
  int line;
  int column;
  const char* message;
  const char* hint = "";
  size_t count = 1;
};

TEST_CASE("schema: malformed documents are reported at the right line and column", "[schema]") {
  // Given each malformed document below, then parsing fails with the expected diagnostics.
  const BadCase cases[] = {
      // YAML itself.
      {"unclosed flow list", Doc("hide: [device\n"), 4, 1, "YAML syntax error"},
      {"tab indentation", Doc("metadata:\n\tname: x\n"), 4, 6, "YAML syntax error", "tabs"},
      {"empty document", "", 1, 1, "the document is empty"},
      {"only comments", "# nothing here\n", 1, 1, "the document is empty"},
      {"two documents", Doc("---\n") + std::string(kHead), 4, 1, "holds 2 YAML documents"},
      {"top level is a list", "- apiVersion: ptrec/v1\n", 1, 1, "must be a mapping", "", 1},
      {"top level is a scalar", "hello\n", 1, 1, "must be a mapping"},
      {"non-scalar key", Doc("? [a, b]\n: 1\n"), 3, 3, "keys must be plain names"},
      // apiVersion and kind.
      {"missing apiVersion", "kind: HostConfig\nhide: []\n", 1, 1, "apiVersion is missing"},
      {"wrong apiVersion", "apiVersion: ptrec/v2\nkind: HostConfig\n", 1, 13,
       "apiVersion must be ptrec/v1", "apiVersion: ptrec/v1"},
      {"missing kind after a comment", "# host\napiVersion: ptrec/v1\n", 2, 1, "kind is missing"},
      {"wrong kind", "apiVersion: ptrec/v1\nkind: hostconfig\n", 2, 7, "kind must be HostConfig"},
      // Keys.
      {"unknown top-level key", Doc("sriovs: []\n"), 3, 1, "unknown key sriovs at the top level",
       "did you mean sriov?"},
      {"kernelArgs as a list", Doc("kernelArgs:\n  - intel_iommu=on\n"), 4, 3,
       "kernelArgs must be a mapping, got a list", "present: [intel_iommu=on, iommu=pt]"},
      // vms.
      {"vms as a mapping", Doc("vms: {name: a}\n"), 3, 6, "vms must be a list of entries"},
      {"vm without name", Doc("vms:\n  - devices: []\n"), 4, 5, "vms[0] has no name", "virsh list --all"},
      {"vm name with a slash", Doc("vms:\n  - name: a/b\n"), 4, 11, "vms[0].name \"a/b\" is not a domain name: it contains '/'"},
      {"vm name twice", Doc("vms:\n  - name: a\n  - name: a\n"), 5, 11, "vm a is listed twice in vms (first at host.yaml:4:11)"},
      {"vm uri and qmp", Doc("vms:\n  - name: a\n    uri: qemu:///system\n    qmp: /run/a.qmp\n"), 6, 5,
       "vms[0] has both uri and qmp", "not both"},
      {"vm uri without scheme", Doc("vms:\n  - name: a\n    uri: system\n"), 5, 10,
       "vms[0].uri \"system\" is not a libvirt connection URI", "qemu:///system"},
      {"vm qmp relative", Doc("vms:\n  - name: a\n    qmp: run/a.qmp\n"), 5, 10,
       "vms[0].qmp \"run/a.qmp\" is not an absolute path"},
      {"vm hotplug yes", Doc("vms:\n  - name: a\n    hotplug: yes\n"), 5, 14,
       "vms[0].hotplug must be true or false", "yes/no/on/off are not booleans"},
      {"vm missing unknown", Doc("vms:\n  - name: a\n    missing: ignore\n"), 5, 14,
       "vms[0].missing must be refuse or skip"},
      {"vm misspelt hotplug", Doc("vms:\n  - name: a\n    hotplg: true\n"), 5, 5,
       "unknown key hotplg in vms[0]", "did you mean hotplug?"},
      {"vm devices a scalar", Doc("vms:\n  - name: a\n    devices: 0000:03:00.0\n"), 5, 14,
       "vms[0].devices must be a list of entries"},
      {"vm device a scalar", Doc("vms:\n  - name: a\n    devices:\n      - 0000:03:00.0\n"), 6, 9,
       "vms[0].devices[0] must be a mapping", "{device: 0000:03:00.0}"},
      {"vm device without selector", Doc("vms:\n  - name: a\n    devices:\n      - managed: true\n"), 6, 9,
       "vms[0].devices[0] has no selector"},
      {"vm device two selectors", Doc("vms:\n  - name: a\n    devices:\n      - device: 03:00.0\n        interface: eno1\n"),
       7, 9, "vms[0].devices[0] has more than one selector: device and interface"},
      {"vm device negative vf", Doc("vms:\n  - name: a\n    devices:\n      - interface: eno1\n        vf: -1\n"), 7, 13,
       "vms[0].devices[0].vf must be an integer from 0 to 65535, got -1", "virtfnN"},
      {"vm device managed yes", Doc("vms:\n  - name: a\n    devices:\n      - device: 03:00.0\n        managed: \"yes\"\n"),
       7, 18, "vms[0].devices[0].managed must be true or false"},
      {"vm device bad address", Doc("vms:\n  - name: a\n    devices:\n      - device: 03:00.0\n        address: 07:00\n"),
       7, 18, "vms[0].devices[0].address \"07:00\" is not a PCI address", "leave address out"},
      {"vm device unknown key", Doc("vms:\n  - name: a\n    devices:\n      - device: 03:00.0\n        bus: 7\n"), 7, 9,
       "unknown key bus in vms[0].devices[0]"},
      {"vm device in two vms", Doc("vms:\n  - name: a\n    devices: [{device: 03:00.0}]\n  - name: b\n    devices: [{device: 0000:03:00.0}]\n"),
       7, 24, "0000:03:00.0 is listed twice in vms (vms[0].devices[0], host.yaml:5:24, and vms[1].devices[0])",
       "one VM at a time"},
      {"vm same vf twice", Doc("vms:\n  - name: a\n    devices:\n      - {interface: eno1, vf: 1}\n      - {interface: eno1, vf: 1}\n"),
       7, 21, "VF 1 of interface eno1 is listed twice in vms"},
      {"vm guest address twice", Doc("vms:\n  - name: a\n    devices:\n      - {device: 03:00.0, address: 07:00.0}\n      - {device: 03:00.1, address: 07:00.0}\n"),
       7, 9, "vms[0].devices[1].address 0000:07:00.0 is given to two devices (first at host.yaml:6:9)"},
      {"duplicate top-level key", Doc("hide: []\nhide: []\n"), 4, 1,
       "duplicate key hide at the top level (first at host.yaml:3:1)"},
      {"duplicate entry key", Doc("sriov:\n  - device: 03:00.0\n    numVfs: 1\n    numVfs: 2\n"), 6,
       5, "duplicate key numVfs in sriov[0]"},
      {"misspelt numVfs", Doc("sriov:\n  - device: 03:00.0\n    numvfs: 4\n"), 5, 5,
       "unknown key numvfs in sriov[0]", "did you mean numVfs?", 2},
      {"bdf instead of device", Doc("hide:\n  - bdf: 03:00.0\n"), 4, 5,
       "unknown key bdf in hide[0]", "did you mean device?", 2},
      {"no close key", Doc("hide:\n  - device: 03:00.0\n    colour: red\n"), 5, 5,
       "unknown key colour in hide[0]", "known keys here: device, interface, id"},
      {"unknown metadata key", Doc("metadata:\n  nmae: x\n"), 4, 3, "unknown key nmae in metadata",
       "did you mean name?"},
      // Shapes.
      {"sriov is a mapping", Doc("sriov:\n  device: 03:00.0\n  numVfs: 4\n"), 4, 3,
       "sriov must be a list of entries, got a mapping"},
      {"entry is a string", Doc("hide:\n  - 0000:03:00.0\n"), 4, 5,
       "hide[0] must be a mapping, got the string \"0000:03:00.0\""},
      {"empty entry", Doc("hide:\n  -\n  - device: 03:00.0\n"), 4, 3, "hide[0] is empty"},
      {"metadata is a string", Doc("metadata: compute-17\n"), 3, 11, "metadata must be a mapping"},
      {"label value is a number", Doc("metadata:\n  labels:\n    rack: 4\n"), 5, 11,
       "metadata.labels.rack must be a string, got the integer 4"},
      // numVfs.
      {"numVfs word", Doc("sriov:\n  - device: 03:00.0\n    numVfs: four\n"), 5, 13,
       "sriov[0].numVfs must be an integer from 0 to 65535, got the string \"four\""},
      {"numVfs fraction", Doc("sriov:\n  - device: 03:00.0\n    numVfs: 1.5\n"), 5, 13,
       "numVfs must be an integer from 0 to 65535, got the number 1.5"},
      {"numVfs negative", Doc("sriov:\n  - device: 03:00.0\n    numVfs: -1\n"), 5, 13,
       "numVfs must be an integer from 0 to 65535, got -1"},
      {"numVfs boolean", Doc("sriov:\n  - device: 03:00.0\n    numVfs: true\n"), 5, 13,
       "numVfs must be an integer from 0 to 65535, got the boolean true"},
      {"numVfs quoted", Doc("sriov:\n  - device: 03:00.0\n    numVfs: \"7\"\n"), 5, 13,
       "got the string \"7\""},
      {"numVfs too big", Doc("sriov:\n  - device: 03:00.0\n    numVfs: 65536\n"), 5, 13,
       "got 65536"},
      {"numVfs empty", Doc("sriov:\n  - device: 03:00.0\n    numVfs:\n"), 5, 5,
       "got an empty value"},
      {"numVfs missing", Doc("sriov:\n  - device: 03:00.0\n"), 4, 5, "sriov[0] has no numVfs"},
      // force and the enumerations.
      {"force yes", Doc("hide:\n  - device: 03:00.0\n    force: yes\n"), 5, 12,
       "hide[0].force must be true or false, got the string \"yes\"", "yes/no"},
      {"unknown hide driver", Doc("hide:\n  - device: 03:00.0\n    driver: vfio_pci\n"), 5, 13,
       "hide[0].driver must be vfio-pci or pci-stub", "did you mean vfio-pci?"},
      {"unknown vfDriver", Doc("sriov:\n  - device: 03:00.0\n    numVfs: 1\n    vfDriver: igbvf\n"),
       6, 15, "sriov[0].vfDriver must be vfio-pci or pci-stub, got the string \"igbvf\""},
      {"unknown group", Doc("hide:\n  - device: 03:00.0\n    group: loose\n"), 5, 12,
       "hide[0].group must be strict or include"},
      {"unknown method", Doc("sriov:\n  - device: 03:00.0\n    numVfs: 1\n    method: grub\n"), 6,
       13, "sriov[0].method must be sysfs or module-param"},
      // Selectors.
      {"short domainless BDF", Doc("hide:\n  - device: 3:00.0\n"), 4, 13,
       "hide[0].device \"3:00.0\" is not a PCI address", "0000:03:00.0"},
      {"BDF function 8", Doc("hide:\n  - device: 0000:03:00.8\n"), 4, 13, "is not a PCI address"},
      {"BDF device 20", Doc("hide:\n  - device: 0000:03:20.0\n"), 4, 13, "is not a PCI address"},
      {"BDF as an integer", Doc("hide:\n  - device: 3\n"), 4, 13,
       "hide[0].device must be a string, got the integer 3"},
      {"malformed id", Doc("hide:\n  - id: 8086-10c9\n"), 4, 9,
       "hide[0].id \"8086-10c9\" is not a vendor:device id"},
      {"index without id", Doc("hide:\n  - device: 03:00.0\n    index: 0\n"), 5, 5,
       "hide[0].index is only allowed together with id"},
      {"negative index", Doc("hide:\n  - id: 8086:10c9\n    index: -1\n"), 5, 12,
       "hide[0].index must be an integer from 0"},
      {"two selectors", Doc("hide:\n  - device: 03:00.0\n    interface: eno1\n"), 5, 5,
       "hide[0] has more than one selector: device and interface"},
      {"no selector", Doc("hide:\n  - driver: vfio-pci\n"), 4, 5, "hide[0] has no selector"},
      {"interface too long", Doc("hide:\n  - interface: abcdefghijklmnop\n"), 4, 16,
       "is not a network interface name: it is longer than 15 characters"},
      {"interface with colon", Doc("hide:\n  - interface: eth0:1\n"), 4, 16,
       "it contains '/' or ':'"},
      {"interface dot-dot", Doc("hide:\n  - interface: \"..\"\n"), 4, 16, "it is . or .."},
      {"interface with space", Doc("hide:\n  - interface: \"eth 0\"\n"), 4, 16,
       "it contains whitespace"},
      // Across entries.
      {"same device twice in hide", Doc("hide:\n  - device: 0000:03:00.0\n  - device: 03:00.0\n"),
       5, 13, "0000:03:00.0 is listed twice in hide (hide[0], host.yaml:4:13, and hide[1])"},
      {"same id and index twice in sriov",
       Doc("sriov:\n  - {id: 8086:10c9, index: 1, numVfs: 2}\n"
           "  - {id: 8086:10c9, index: 1, numVfs: 3}\n"),
       5, 10, "8086:10c9 #1 is listed twice in sriov (sriov[0], host.yaml:4:10, and sriov[1])"},
      {"device hidden and given VFs",
       Doc("hide:\n"
           "  - device: 0000:03:00.0\n"  // 4
           "sriov:\n"
           "  - device: 0000:03:00.1\n"  // 6
           "    numVfs: 1\n"
           "  - device: 03:00.0\n"  // 8
           "    numVfs: 2\n"),
       8, 13,
       "0000:03:00.0 is hidden from the host (hide[0], host.yaml:4:13) and given VFs for the "
       "host (sriov[1])"},
      // kernelArgs.
      {"unknown kernelArgs key", Doc("kernelArgs:\n  add: [intel_iommu=on]\n"), 4, 3,
       "unknown key add in kernelArgs", "did you mean present?"},
      {"unknown bootloader", Doc("kernelArgs:\n  bootloader: grub2\n"), 4, 15,
       "kernelArgs.bootloader must be auto or grub or grubby or kernel-install, got the string "
       "\"grub2\"",
       "did you mean grub?"},
      {"present is a string", Doc("kernelArgs:\n  present: intel_iommu=on\n"), 4, 12,
       "kernelArgs.present must be a list, got the string \"intel_iommu=on\""},
      {"present item is an integer", Doc("kernelArgs:\n  present: [3]\n"), 4, 13,
       "kernelArgs.present[0] must be a string, got the integer 3", "quote it"},
      {"two arguments in one item", Doc("kernelArgs:\n  present: [\"intel_iommu=on iommu=pt\"]\n"),
       4, 13, "kernelArgs.present[0] \"intel_iommu=on iommu=pt\" holds more than one argument",
       "one argument per list item"},
      {"unquoted value with a space", Doc("kernelArgs:\n  present: [\"opt=a b\"]\n"), 4, 13,
       "\"opt=a b\" holds more than one argument", "'opt=\"a b\"'"},
      {"empty key", Doc("kernelArgs:\n  present: [\"=on\"]\n"), 4, 13,
       "kernelArgs.present[0] \"=on\" has an empty key"},
      {"quote in a key", Doc("kernelArgs:\n  present: ['\"opt=a b\"']\n"), 4, 13,
       "has a double quote in its key"},
      {"unbalanced quoted value", Doc("kernelArgs:\n  present: ['opt=\"a b']\n"), 4, 13,
       "has a quoted value that does not end in its one closing double quote"},
      {"double dash", Doc("kernelArgs:\n  present: [\"--\"]\n"), 4, 13,
       "is --, which ends the kernel's arguments"},
      {"one key, two values", Doc("kernelArgs:\n  present: [iommu=pt, iommu=off]\n"), 4, 23,
       "kernelArgs.present[1] \"iommu=off\" sets iommu again, to another value "
       "(kernelArgs.present[0], host.yaml:4:13: \"iommu=pt\")"},
      {"same argument twice", Doc("kernelArgs:\n  present: [quiet, quiet]\n"), 4, 20,
       "kernelArgs.present[1] \"quiet\" repeats quiet (kernelArgs.present[0], host.yaml:4:13"},
      {"present and absent", Doc("kernelArgs:\n  present: [iommu=pt]\n  absent: [iommu]\n"), 5, 12,
       "kernelArgs.absent[0] \"iommu\" is also in present (kernelArgs.present[0], "
       "host.yaml:4:13)"},
      {"absent with a value", Doc("kernelArgs:\n  absent: [quiet=1]\n"), 4, 12,
       "kernelArgs.absent[0] \"quiet=1\" has a value; absent takes keys only",
       "it removes quiet with any value"},
      {"absent twice", Doc("kernelArgs:\n  absent: [quiet, quiet]\n"), 4, 19,
       "\"quiet\" is listed twice in absent (first at host.yaml:4:12)"},
      // modules.
      {"modules is a mapping", Doc("modules:\n  name: igb\n"), 4, 3,
       "modules must be a list of entries, got a mapping"},
      {"module without name", Doc("modules:\n  - load: true\n"), 4, 5, "modules[0] has no name",
       "name: igb"},
      {"module name with a dot", Doc("modules:\n  - name: vfio.pci\n"), 4, 11,
       "modules[0].name \"vfio.pci\" is not a module name: only letters, digits, '_' and '-'"},
      {"module name too long", Doc("modules:\n  - name: " + std::string(56, 'm') + "\n"), 4, 11,
       "is not a module name: it is too long", "at most 55"},
      {"same module with - and _", Doc("modules:\n  - name: vfio-pci\n  - name: vfio_pci\n"), 5, 11,
       "module vfio_pci is listed twice in modules (modules[0], host.yaml:4:11, and modules[1])",
       "'-' and '_' name the same module"},
      {"misspelt parameters", Doc("modules:\n  - name: igb\n    params: {max_vfs: 7}\n"), 5, 5,
       "unknown key params in modules[0]", "did you mean parameters?"},
      {"parameters is a list", Doc("modules:\n  - name: igb\n    parameters: [max_vfs=7]\n"), 5, 17,
       "modules[0].parameters must be a mapping, got a list"},
      {"parameter fraction", Doc("modules:\n  - name: igb\n    parameters: {max_vfs: 1.5}\n"), 5,
       27,
       "modules[0].parameters.max_vfs must be a string, an integer or a boolean, got the number "
       "1.5"},
      {"parameter list", Doc("modules:\n  - name: igb\n    parameters: {max_vfs: [7, 7]}\n"), 5, 27,
       "modules[0].parameters.max_vfs must be a string, an integer or a boolean, got a list",
       "max_vfs: \"7,7\""},
      {"parameter with a quote", Doc("modules:\n  - name: igb\n    parameters: {x: 'a\"b'}\n"), 5,
       21, "modules[0].parameters.x contains a double quote"},
      {"parameter name with a space",
       Doc("modules:\n  - name: igb\n    parameters: {\"max vfs\": 7}\n"), 5, 18,
       "modules[0].parameters.max vfs is not a module parameter name"},
      {"one parameter spelt twice",
       Doc("modules:\n  - name: igb\n    parameters: {max_vfs: 7, max-vfs: 7}\n"), 5, 30,
       "modules[0].parameters.max-vfs is the same parameter as max_vfs"},
      {"load yes", Doc("modules:\n  - name: igb\n    load: yes\n"), 5, 11,
       "modules[0].load must be true or false, got the string \"yes\"", "load: true"},
      {"allowReload quoted", Doc("modules:\n  - name: igb\n    allowReload: \"true\"\n"), 5, 18,
       "modules[0].allowReload must be true or false, got the string \"true\""},
      {"softdep unknown key", Doc("modules:\n  - name: igb\n    softdep: {before: [vfio-pci]}\n"),
       5, 15, "unknown key before in modules[0].softdep"},
      {"softdep on itself", Doc("modules:\n  - name: igb\n    softdep: {pre: [igb]}\n"), 5, 21,
       "modules[0].softdep.pre[0] names the module itself"},
      {"softdep bad name", Doc("modules:\n  - name: igb\n    softdep: {pre: [\"vfio pci\"]}\n"), 5,
       21, "modules[0].softdep.pre[0] \"vfio pci\" is not a module name"},
      {"softdep twice in pre",
       Doc("modules:\n  - name: igb\n    softdep: {pre: [vfio-pci, vfio_pci]}\n"), 5, 31,
       "modules[0].softdep.pre[1] \"vfio_pci\" is listed twice"},
      {"softdep pre and post", Doc("modules:\n  - name: igb\n    softdep: {pre: [a], post: [a]}\n"),
       5, 31, "modules[0].softdep has a both in pre and in post"},
  };
  STATIC_REQUIRE(std::size(cases) >= 25);
  for (const BadCase& c : cases) {
    DYNAMIC_SECTION(c.name) {
      auto state = ParseDesired(c.yaml, "host.yaml");
      REQUIRE_FALSE(state);
      const Diagnostics& diagnostics = state.error();
      INFO(Dump(diagnostics));
      CHECK(diagnostics.size() == c.count);
      CHECK(Has(diagnostics, c.line, c.column, c.message));
      bool hint_found = false;
      for (const Diagnostic& d : diagnostics) {
        if (d.pos.line == c.line && d.pos.column == c.column && !d.hint.empty() &&
            d.hint.find(c.hint) != std::string::npos) {
          hint_found = true;
        }
      }
      CHECK(hint_found);  // every diagnostic has a hint; with c.hint set, the expected one
    }
  }
}

TEST_CASE("schema: several problems are reported at once, sorted by position", "[schema]") {
  // Given a document with five independent mistakes, then all five are reported, in document
  // order, not just the first.
  const std::string yaml =
      Doc("kernelArgs: []\n"            // 3: not a mapping
          "sriov:\n"                    // 4
          "  - device: 0000:03:00.0\n"  // 5
          "    numVfs: four\n"          // 6: not an integer
          "    force: yes\n"            // 7: not a boolean
          "hide:\n"                     // 8
          "  - device: 3:0.0\n"         // 9: malformed BDF
          "    grup: include\n");       // 10: unknown key
  auto state = ParseDesired(yaml, "host.yaml");
  REQUIRE_FALSE(state);
  const Diagnostics& d = state.error();
  INFO(Dump(d));
  REQUIRE(d.size() == 5);
  CHECK((d[0].pos.line == 3 && d[0].pos.column == 13));
  CHECK(d[0].message.find("kernelArgs must be a mapping, got a list") != std::string::npos);
  CHECK((d[1].pos.line == 6 && d[1].pos.column == 13));
  CHECK(d[1].message.find("numVfs must be") != std::string::npos);
  CHECK((d[2].pos.line == 7 && d[2].pos.column == 12));
  CHECK(d[2].message.find("force must be true or false") != std::string::npos);
  CHECK((d[3].pos.line == 9 && d[3].pos.column == 13));
  CHECK(d[3].message.find("is not a PCI address") != std::string::npos);
  CHECK((d[4].pos.line == 10 && d[4].pos.column == 5));
  CHECK(d[4].message.find("unknown key grup") != std::string::npos);
  CHECK(d[4].hint == "did you mean group?");
  for (const Diagnostic& one : d) CHECK(one.pos.file == "host.yaml");
}

TEST_CASE("schema: hostile input gives diagnostics, never exceptions", "[schema]") {
  // Given inputs that make yaml-cpp throw or produce odd nodes, then ParseDesired returns
  // diagnostics instead of throwing.
  for (std::string text :
       {std::string("a: *undefined_alias\n"), std::string("{{{{"),
        std::string("\xff\xfe\x00garbage", 10), std::string("key: \"open\n  x: [")}) {
    INFO(text);
    std::expected<DesiredState, Diagnostics> state;
    REQUIRE_NOTHROW(state = ParseDesired(text, "host.yaml"));
    REQUIRE_FALSE(state);
    REQUIRE_FALSE(state.error().empty());
    CHECK_FALSE(state.error()[0].message.empty());
  }
}

TEST_CASE("schema: Diagnostic::str has the compiler form", "[schema]") {
  // Given diagnostics with and without a line and a hint, then str() renders
  // "file:line:column: message (hint: hint)" and leaves out the missing parts.
  Diagnostic full{{"host.yaml", 12, 7}, "numVfs must be an integer", "write numVfs: 7"};
  CHECK(full.str() == "host.yaml:12:7: numVfs must be an integer (hint: write numVfs: 7)");
  Diagnostic no_hint{{"host.yaml", 3, 1}, "kind is missing", ""};
  CHECK(no_hint.str() == "host.yaml:3:1: kind is missing");
  Diagnostic no_line{{"host.yaml"}, "cannot read the file: No such file or directory", "check"};
  CHECK(no_line.str() ==
        "host.yaml: cannot read the file: No such file or directory (hint: check)");
}

TEST_CASE("schema: a missing file is one diagnostic naming it", "[schema]") {
  // Given a path that does not exist, then LoadDesired reports exactly one diagnostic with the
  // path as its file and the system's reason in the message.
  const std::string path = "/nonexistent-ptrec-dir/host.yaml";
  auto state = LoadDesired(path);
  REQUIRE_FALSE(state);
  REQUIRE(state.error().size() == 1);
  const Diagnostic& d = state.error()[0];
  CHECK(d.pos.file == path);
  CHECK(d.pos.line == 0);
  CHECK(d.message.find("No such file or directory") != std::string::npos);
  CHECK(d.str().starts_with(path + ": "));
}

TEST_CASE("schema: every example parses", "[schema]") {
  // Given every examples/*.yaml, then each loads without diagnostics and its source is its path.
  std::filesystem::path dir = SourceDir() / "examples";
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml") continue;
    names.insert(entry.path().filename().string());
    auto state = LoadDesired(entry.path().string());
    INFO(entry.path().string() << "\n" << (state ? std::string() : Dump(state.error())));
    CHECK(state);
    if (state) CHECK(state->source == entry.path().string());
  }
  for (const char* expected : {"82576-vfs.yaml", "82576-hide-port.yaml", "bcm5720-hide-group.yaml",
                               "bcm57810-vfs.yaml", "iommu-on.yaml"}) {
    CHECK(names.count(expected) == 1);
  }
}

TEST_CASE("schema: the examples say what examples/README.md says", "[schema]") {
  // Given each example, then its entries are the ones its host description asks for.
  auto load = [](const char* name) {
    auto state = LoadDesired((SourceDir() / "examples" / name).string());
    INFO(name << "\n" << (state ? std::string() : Dump(state.error())));
    REQUIRE(state);
    return *state;
  };
  SECTION("82576-vfs: 7 VFs on port 0 for vfio-pci, 4 on port 1 for the host") {
    DesiredState s = load("82576-vfs.yaml");
    CHECK(s.hide.empty());
    REQUIRE(s.sriov.size() == 2);
    CHECK(s.sriov[0].select.kind == Selector::Kind::kBdf);
    CHECK(s.sriov[0].select.bdf == Bdf{0x0000, 0x03, 0x00, 0});
    CHECK(s.sriov[0].num_vfs == 7);
    CHECK(s.sriov[0].vf_driver == "vfio-pci");
    CHECK(s.sriov[1].select.bdf == Bdf{0x0000, 0x03, 0x00, 1});
    CHECK(s.sriov[1].num_vfs == 4);
    CHECK(s.sriov[1].vf_driver == "");
    CHECK(s.sriov[1].method == SriovMethod::kSysfs);
  }
  SECTION("82576-hide-port: enp3s0f1 hidden on vfio-pci") {
    DesiredState s = load("82576-hide-port.yaml");
    CHECK(s.sriov.empty());
    REQUIRE(s.hide.size() == 1);
    CHECK(s.hide[0].select.kind == Selector::Kind::kInterface);
    CHECK(s.hide[0].select.interface == "enp3s0f1");
    CHECK(s.hide[0].driver == "vfio-pci");
    CHECK(s.hide[0].group == GroupPolicy::kStrict);
  }
  SECTION("bcm5720-hide-group: 0000:02:00.0 hidden with its group") {
    DesiredState s = load("bcm5720-hide-group.yaml");
    CHECK(s.sriov.empty());
    REQUIRE(s.hide.size() == 1);
    CHECK(s.hide[0].select.bdf == Bdf{0x0000, 0x02, 0x00, 0});
    CHECK(s.hide[0].driver == "vfio-pci");
    CHECK(s.hide[0].group == GroupPolicy::kInclude);
    CHECK(s.hide[0].force == Force::kNo);
  }
  SECTION("iommu-on: IOMMU on at boot, igb max_vfs 7,7 after vfio-pci, port 1 hidden") {
    DesiredState s = load("iommu-on.yaml");
    REQUIRE(s.kernel_args.has_value());
    CHECK(s.kernel_args->bootloader == Bootloader::kAuto);
    CHECK(s.kernel_args->present == std::vector<KernelArg>{{"intel_iommu", "on"}, {"iommu", "pt"}});
    CHECK(s.kernel_args->absent.empty());
    REQUIRE(s.modules.size() == 1);
    CHECK(s.modules[0].name == "igb");
    CHECK(s.modules[0].parameters == std::map<std::string, std::string>{{"max_vfs", "7,7"}});
    CHECK(s.modules[0].softdep_pre == std::vector<std::string>{"vfio_pci"});
    CHECK(s.modules[0].load == ModuleLoad::kUnchanged);
    CHECK(s.sriov.empty());
    REQUIRE(s.hide.size() == 1);
    CHECK(s.hide[0].select.bdf == Bdf{0x0000, 0x03, 0x00, 1});
    CHECK(s.hide[0].driver == "vfio-pci");
    CHECK(s.hide[0].force == Force::kYes);
  }
  SECTION("bcm57810-vfs: 4 VFs on the first 14e4:168e, on vfio-pci") {
    DesiredState s = load("bcm57810-vfs.yaml");
    CHECK(s.hide.empty());
    REQUIRE(s.sriov.size() == 1);
    CHECK(s.sriov[0].select.kind == Selector::Kind::kId);
    CHECK(s.sriov[0].select.id == PciId{0x14e4, 0x168e});
    CHECK(s.sriov[0].select.index == 0);
    CHECK(s.sriov[0].num_vfs == 4);
    CHECK(s.sriov[0].vf_driver == "vfio-pci");
  }
}

}  // namespace
}  // namespace ptrec::schema
