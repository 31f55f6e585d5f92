// The bootloader provider with real processes: stand-in update-grub executables on a test PATH
// record their argv; a failing one must leave /etc/default/grub as it was.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "providers/bootloader/boot_config.h"
#include "tests/support/temp_dir.h"

namespace ptrec {
namespace {

void Write(const std::string& path, const std::string& text, unsigned mode = 0644) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << text;
  ::chmod(path.c_str(), mode);
}

std::string Read(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Puts \a dir first on PATH for the scope.
struct ScopedPath {
  std::string old = std::getenv("PATH") ? std::getenv("PATH") : "";
  explicit ScopedPath(const std::string& dir) { ::setenv("PATH", (dir + ":" + old).c_str(), 1); }
  ~ScopedPath() { ::setenv("PATH", old.c_str(), 1); }
};

const char* kGrub = "# comment\nGRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"\"\n";

}  // namespace

TEST_CASE("bootloader: apply edits GRUB and runs update-grub with its argv", "[bootloader]") {
  // Given a root with /etc/default/grub and a recording update-grub on PATH, when the plan's
  // edit is applied, then the file holds the new args, a backup holds the old text, and the
  // stand-in was run once with no arguments. When it fails, the old text is back.
  testing::ScopedTempDir tmp("boot");
  std::string root = tmp.Sub("root"), bin = tmp.Sub("bin"), log = tmp.Sub("argv.log");
  Write(root + "/etc/default/grub", kGrub);
  Write(root + "/usr/sbin/update-grub", "");
  RealHostFs fs(root);
  HostState host;
  host.cmdline = "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet";
  KernelArgsSpec want;
  want.present = {{"intel_iommu", "on"}};
  bootloader::ObserveBoot(fs, Bootloader::kAuto, host);
  REQUIRE(host.boot.kind == BootConfig::Kind::kGrub);
  auto diff = bootloader::DiffBoot(want, host, fs);
  REQUIRE(diff.actions.size() == 1);
  CHECK(diff.actions[0].argvs == std::vector<std::vector<std::string>>{{"update-grub"}});
  SpawnRunner runner;
  bootloader::BootloaderProvider provider(fs, runner);

  SECTION("the command succeeds") {
    Write(bin + "/update-grub", "#!/bin/sh\necho \"update-grub $*\" >> " + log + "\n", 0755);
    ScopedPath path(bin);
    auto applied = provider.Apply(diff.actions[0]);
    REQUIRE(applied.has_value());
    CHECK(Read(root + "/etc/default/grub") ==
          "# comment\nGRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"intel_iommu=on\"\n");
    CHECK(Read(log) == "update-grub \n");
    CHECK(std::filesystem::exists(root + "/var/lib/ptrec/backup/etc/default"));
    SECTION("and its undo restores the file") {
      REQUIRE(applied->size() == 1);
      REQUIRE(provider.Apply((*applied)[0]).has_value());
      CHECK(Read(root + "/etc/default/grub") == kGrub);
    }
  }
  SECTION("the command fails: the file is rolled back") {
    Write(bin + "/update-grub", "#!/bin/sh\necho 'grub-mkconfig: error: out of space' >&2\nexit 3\n", 0755);
    ScopedPath path(bin);
    auto applied = provider.Apply(diff.actions[0]);
    REQUIRE_FALSE(applied.has_value());
    CHECK_THAT(applied.error().message, Catch::Contains("exited 3") && Catch::Contains("out of space"));
    CHECK(Read(root + "/etc/default/grub") == kGrub);
  }
  SECTION("the file changed since planning: refused") {
    Write(root + "/etc/default/grub", std::string(kGrub) + "GRUB_TIMEOUT=1\n");
    auto applied = provider.Apply(diff.actions[0]);
    REQUIRE_FALSE(applied.has_value());
    CHECK(applied.error().code == Code::kStale);
  }
}

}  // namespace ptrec

namespace ptrec {

TEST_CASE("bootloader: kernel-install regenerates the entry of every installed kernel", "[bootloader]") {
  // Given /etc/kernel/cmdline, usr/bin/kernel-install and two kernels (one image in
  // lib/modules/V/vmlinuz, one in boot/vmlinuz-V, one modules directory without an image),
  // when the file is edited, then the edit runs `kernel-install add V IMAGE` per kernel with
  // an image, in version order, and the recording stand-in sees exactly those argvs.
  testing::ScopedTempDir tmp("kinst");
  std::string root = tmp.Sub("root"), bin = tmp.Sub("bin"), log = tmp.Sub("argv.log");
  Write(root + "/etc/kernel/cmdline", "root=/dev/sda2 ro quiet\n");
  Write(root + "/usr/bin/kernel-install", "");
  Write(root + "/lib/modules/6.5.0-1/vmlinuz", "");
  Write(root + "/lib/modules/6.1.0-28-amd64/modules.dep", "");
  Write(root + "/boot/vmlinuz-6.1.0-28-amd64", "");
  Write(root + "/lib/modules/5.10.0-old/modules.dep", "");
  RealHostFs fs(root);
  HostState host;
  host.cmdline = "root=/dev/sda2 ro quiet";
  KernelArgsSpec want;
  want.present = {{"intel_iommu", "on"}};
  bootloader::ObserveBoot(fs, Bootloader::kAuto, host);
  REQUIRE(host.boot.kind == BootConfig::Kind::kKernelInstall);
  auto diff = bootloader::DiffBoot(want, host, fs);
  REQUIRE(diff.actions.size() == 1);
  const std::vector<std::vector<std::string>> expected = {
      {"kernel-install", "add", "6.1.0-28-amd64", "/boot/vmlinuz-6.1.0-28-amd64"},
      {"kernel-install", "add", "6.5.0-1", "/lib/modules/6.5.0-1/vmlinuz"}};
  CHECK(diff.actions[0].argvs == expected);

  Write(bin + "/kernel-install", "#!/bin/sh\necho \"$*\" >> " + log + "\n", 0755);
  ScopedPath path(bin);
  SpawnRunner runner;
  bootloader::BootloaderProvider provider(fs, runner);
  REQUIRE(provider.Apply(diff.actions[0]).has_value());
  CHECK(Read(root + "/etc/kernel/cmdline") == "root=/dev/sda2 ro quiet intel_iommu=on\n");
  CHECK(Read(log) == "add 6.1.0-28-amd64 /boot/vmlinuz-6.1.0-28-amd64\nadd 6.5.0-1 /lib/modules/6.5.0-1/vmlinuz\n");

  SECTION("without kernel-install, nothing runs (the file waits for the next kernel)") {
    std::filesystem::remove(root + "/usr/bin/kernel-install");
    HostState h2;
    h2.cmdline = host.cmdline;
    bootloader::ObserveBoot(fs, Bootloader::kAuto, h2);
    CHECK(h2.boot.regenerate.empty());
  }
}

}  // namespace ptrec
