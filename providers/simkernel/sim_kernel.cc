#include "providers/simkernel/sim_kernel.h"

#include <fnmatch.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <thread>

#include "providers/host/sysfs_paths.h"
#include "providers/pci/usage.h"
#include "reconciler/model.h"
#include "providers/simkernel/sim_tree.h"

namespace ptrec::sim {

using internal::Dirname;
using internal::ResolveLinkTarget;

namespace {

// DeviceAttr & co. return this instead of an errno for attributes the simulation does not
// model: the write fails with EACCES and says so.
constexpr int kNotModeled = -1;
constexpr uint32_t kPciAnyId = 0xffffffff;

// The state directory of the simulation under the root: what sysfs keeps in memory only.
constexpr std::string_view kStateDir = ".ptrec-sim";

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

std::string_view Basename(std::string_view path) { return paths::Basename(path); }

// "sys/bus/pci": the parent of sys/bus/pci/devices (spelt only in sysfs_paths).
const std::string& PciBusDir() {
  static const std::string dir(Dirname(paths::PciDevices()));
  return dir;
}

// Kernel-owned trees: writes there need a kernel.
bool IsKernelPath(std::string_view path) {
  return StartsWith(path, "sys/") || StartsWith(path, "proc/") || StartsWith(path, "dev/") ||
         path == "sys" || path == "proc" || path == "dev";
}

// The string a sysfs store() sees: the kernel NUL-terminates the buffer at count, so an
// embedded NUL ends it (python writes like to add one).
std::string_view AsCString(std::string_view data) {
  size_t nul = data.find('\0');
  return nul == std::string_view::npos ? data : data.substr(0, nul);
}

// lib/kstrtox.c kstrtoull(s, 0, ...): optional '+', radix from "0x"/"0" prefix, digits, one
// optional trailing '\n'. Returns 0, -EINVAL or -ERANGE.
int KstrToUll(std::string_view s, unsigned long long* out) {
  s = AsCString(s);
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  unsigned base = 10;
  if (!s.empty() && s[0] == '0') {
    if (s.size() > 2 && (s[1] == 'x' || s[1] == 'X') &&
        std::isxdigit(static_cast<unsigned char>(s[2]))) {
      base = 16;
      s.remove_prefix(2);
    } else {
      base = 8;
    }
  }
  unsigned long long value = 0;
  size_t i = 0;
  bool overflow = false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    unsigned digit;
    if (c >= '0' && c <= '9') {
      digit = static_cast<unsigned>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<unsigned>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      digit = static_cast<unsigned>(c - 'A' + 10);
    } else {
      break;
    }
    if (digit >= base) break;
    if (value > (~0ULL - digit) / base) overflow = true;
    value = value * base + digit;
  }
  if (overflow) return -ERANGE;
  if (i == 0) return -EINVAL;
  s.remove_prefix(i);
  if (!s.empty() && s[0] == '\n') s.remove_prefix(1);
  if (!s.empty()) return -EINVAL;
  *out = value;
  return 0;
}

// lib/kstrtox.c kstrtou16(s, 0, ...).
int KstrToU16(std::string_view s, uint16_t* out) {
  unsigned long long v = 0;
  if (int rc = KstrToUll(s, &v); rc < 0) return rc;
  if (v > 0xffff) return -ERANGE;
  *out = static_cast<uint16_t>(v);
  return 0;
}

// lib/kstrtox.c kstrtobool, as an errno for the write.
int KstrToBool(std::string_view s, bool* out) {
  auto value = KernelStrToBool(AsCString(s));
  if (!value) return -EINVAL;
  *out = *value;
  return 0;
}

// sscanf(buf, "%x %x ...") as pci-driver.c new_id_store/remove_id_store use it: fields parsed
// until one fails.
int ScanHexFields(std::string_view s, uint32_t* fields, int max) {
  s = AsCString(s);
  int n = 0;
  size_t i = 0;
  while (n < max) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (i + 1 < s.size() && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X') &&
        i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 2])))
      i += 2;
    size_t start = i;
    uint64_t value = 0;
    while (i < s.size() && std::isxdigit(static_cast<unsigned char>(s[i]))) {
      char c = static_cast<char>(std::tolower(static_cast<unsigned char>(s[i])));
      value = value * 16 + static_cast<uint64_t>(c <= '9' ? c - '0' : c - 'a' + 10);
      ++i;
    }
    if (i == start) break;
    fields[n++] = static_cast<uint32_t>(value);
  }
  return n;
}

// sysfs_streq(dev_name, buf) for a BDF (drivers/base/core.c device_match_name): the exact
// name, optionally followed by one newline.
std::optional<Bdf> DeviceName(std::string_view data) {
  data = AsCString(data);
  if (!data.empty() && data.back() == '\n') data.remove_suffix(1);
  auto bdf = Bdf::Parse(data);
  if (!bdf || bdf->str() != data) return std::nullopt;
  return bdf;
}

bool PathMatchesSuffix(std::string_view path, std::string_view key) {
  if (key.empty()) return false;
  if (path == key) return true;
  return path.size() > key.size() && path.compare(path.size() - key.size(), key.size(), key) == 0 &&
         path[path.size() - key.size() - 1] == '/';
}

std::optional<int> ParseInt(std::string_view text) {
  text = TrimRight(text);
  if (text.empty()) return std::nullopt;
  try {
    size_t used = 0;
    int v = std::stoi(std::string(text), &used, 10);
    if (used != text.size()) return std::nullopt;
    return v;
  } catch (...) {
    return std::nullopt;
  }
}

Error WriteError(const std::string& abs, const std::string& path, int err) {
  return Error{CodeFromErrno(err), "write " + abs + ": " + std::strerror(err), path, err};
}

}  // namespace

struct SimKernelFs::Ctx {
  int sleep_ms = 0;
};

// ---------------------------------------------------------------------------------------------
// Construction, HostFs pass-through
// ---------------------------------------------------------------------------------------------

Result<std::unique_ptr<SimKernelFs>> SimKernelFs::Open(const std::string& root) {
  if (IsLiveSysfs(root))
    return Fail(Code::kRefused, "refusing to simulate a kernel over the live sysfs of " + root,
                root);
  RealHostFs probe(root);
  if (!probe.Exists("sys"))
    return Fail(Code::kNotFound, "no simulated host at " + root + " (missing sys/)", root);
  SimOptions options;
  if (probe.Exists(kSimOptionsFile)) {
    auto text = probe.ReadFile(kSimOptionsFile);
    if (!text) return std::unexpected(text.error());
    auto parsed = ParseSimOptions(*text, (root == "/" ? "" : root) + "/" + kSimOptionsFile);
    if (!parsed) return std::unexpected(parsed.error());
    options = std::move(*parsed);
  }
  return std::make_unique<SimKernelFs>(root, std::move(options));
}

SimKernelFs::SimKernelFs(std::string root, SimOptions options)
    : real_(root),
      tree_(std::make_unique<internal::TreeWriter>(root)),
      options_(std::move(options)) {
  char buf[PATH_MAX];
  if (::realpath(root.c_str(), buf)) canonical_root_ = buf;
  // Never model writes over the running kernel: the root "/" or any mounted sysfs.
  struct stat st {};
  bool sys_is_dir = ::lstat((canonical_root_ + "/sys").c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  // A sys/ that is a symlink could lead writes out of the root: refuse it like a live one.
  live_ = canonical_root_.empty() || canonical_root_ == "/" || IsLiveSysfs(root) ||
          (::lstat((canonical_root_ + "/sys").c_str(), &st) == 0 && !sys_is_dir);
  for (auto& f : options_.faults) faults_.push_back(Fault{f});
  LoadDynIds();
}

SimKernelFs::~SimKernelFs() = default;

Result<std::string> SimKernelFs::ReadFile(const std::string& path) const {
  return real_.ReadFile(path);
}
Result<std::string> SimKernelFs::ReadAttribute(const std::string& path) const {
  return real_.ReadAttribute(path);
}
Result<std::string> SimKernelFs::ReadLink(const std::string& path) const {
  return real_.ReadLink(path);
}
Result<std::vector<std::string>> SimKernelFs::ListDir(const std::string& path) const {
  return real_.ListDir(path);
}
bool SimKernelFs::Exists(const std::string& path) const { return real_.Exists(path); }

void SimKernelFs::InjectFault(std::string path_suffix_or_driver, int err, int after_n_ok,
                              int times) {
  std::lock_guard lock(mu_);
  faults_.push_back(Fault{FaultSpec{std::move(path_suffix_or_driver), err, after_n_ok, times}});
}

void SimKernelFs::ClearFaults() {
  std::lock_guard lock(mu_);
  faults_.clear();
}

void SimKernelFs::Log(std::string line) { log_.push_back(std::move(line)); }

int SimKernelFs::PathFault(const std::vector<std::string>& key_paths) {
  for (auto& f : faults_) {
    bool hit = std::any_of(key_paths.begin(), key_paths.end(), [&](const std::string& p) {
      return PathMatchesSuffix(p, f.spec.match);
    });
    if (!hit) continue;
    if (++f.seen <= f.spec.after_n_ok) continue;
    if (f.spec.times >= 0 && f.fired >= f.spec.times) continue;
    ++f.fired;
    return f.spec.err;
  }
  return 0;
}

int SimKernelFs::DriverFault(const std::string& driver) {
  for (auto& f : faults_) {
    if (f.spec.match != driver) continue;
    if (++f.seen <= f.spec.after_n_ok) continue;
    if (f.spec.times >= 0 && f.fired >= f.spec.times) continue;
    ++f.fired;
    return f.spec.err;
  }
  return 0;
}

Result<void> SimKernelFs::WriteAttribute(const std::string& path, std::string_view data) {
  Ctx ctx;
  Result<void> result;
  {
    std::lock_guard lock(mu_);
    result = Dispatch(path, data, ctx);
    writes_.push_back(WriteRecord{path, std::string(data), result ? 0 : result.error().sys_errno});
  }
  // Outside the lock, so that slow kernel work on one PF does not hold up another.
  if (ctx.sleep_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ctx.sleep_ms));
  return result;
}

Result<void> SimKernelFs::WriteFileAtomic(const std::string& path, std::string_view data,
                                          unsigned mode) {
  std::lock_guard lock(mu_);
  Result<void> result;
  if (live_) {
    result = Fail(Code::kRefused, "refusing writes: " + root() + " is a live sysfs", path);
  } else if (IsKernelPath(path)) {
    result =
        Fail(Code::kPermission, "simulated kernel does not model writes to " + path, path, EACCES);
  } else if (int err = PathFault({path}); err) {
    result = std::unexpected(WriteError(path, path, err));
  } else {
    result = real_.WriteFileAtomic(path, data, mode);
  }
  writes_.push_back(WriteRecord{path, std::string(data), result ? 0 : result.error().sys_errno});
  return result;
}

Result<void> SimKernelFs::AppendFile(const std::string& path, std::string_view data) {
  std::lock_guard lock(mu_);
  Result<void> result;
  if (live_) {
    result = Fail(Code::kRefused, "refusing writes: " + root() + " is a live sysfs", path);
  } else if (IsKernelPath(path)) {
    result = Fail(Code::kPermission, "simulated kernel does not model appending to " + path, path, EACCES);
  } else if (int err = PathFault({path}); err) {
    result = std::unexpected(WriteError(path, path, err));
  } else {
    result = real_.AppendFile(path, data);
  }
  writes_.push_back(WriteRecord{path, std::string(data), result ? 0 : result.error().sys_errno});
  return result;
}

Result<void> SimKernelFs::RemoveFile(const std::string& path) {
  std::lock_guard lock(mu_);
  Result<void> result;
  if (live_) {
    result = Fail(Code::kRefused, "refusing writes: " + root() + " is a live sysfs", path);
  } else if (IsKernelPath(path)) {
    result =
        Fail(Code::kPermission, "simulated kernel does not model removing " + path, path, EACCES);
  } else if (int err = PathFault({path}); err) {
    result = std::unexpected(WriteError(path, path, err));
  } else {
    result = real_.RemoveFile(path);
  }
  writes_.push_back(WriteRecord{path, "", result ? 0 : result.error().sys_errno});
  return result;
}

// ---------------------------------------------------------------------------------------------
// Dispatch of a sysfs write to the attribute's store() function
// ---------------------------------------------------------------------------------------------

Result<void> SimKernelFs::Dispatch(const std::string& path, std::string_view data, Ctx& ctx) {
  if (live_) return Fail(Code::kRefused, "refusing writes: " + root() + " is a live sysfs", path);
  auto abs = real_.Resolve(path);
  if (!abs) return std::unexpected(abs.error());
  if (!IsKernelPath(path)) {
    if (int err = PathFault({path}); err) return std::unexpected(WriteError(*abs, path, err));
    return real_.WriteAttribute(path, data);
  }
  auto not_modeled = [&] {
    return Fail(Code::kPermission, "simulated kernel does not model writes to " + path, path,
                EACCES);
  };
  if (!StartsWith(path, "sys/")) return not_modeled();

  // Resolve the directory through every link (devices/BDF, driver, ...) to its canonical path.
  std::string_view attr = Basename(path);
  std::string abs_dir(Dirname(*abs));
  char buf[PATH_MAX];
  if (!::realpath(abs_dir.c_str(), buf)) {
    int err = errno;
    return std::unexpected(
        Error{CodeFromErrno(err), "open " + *abs + ": " + std::strerror(err), path, err});
  }
  std::string canon = buf;
  if (!StartsWith(canon, canonical_root_ + "/")) return not_modeled();
  std::string dir = canon.substr(canonical_root_.size() + 1);
  struct stat st {};
  std::string canon_attr = dir + "/" + std::string(attr);
  if (::lstat(tree_->Abs(canon_attr).c_str(), &st) != 0) {
    int err = errno;
    return std::unexpected(
        Error{CodeFromErrno(err), "open " + *abs + ": " + std::strerror(err), path, err});
  }
  // fs/sysfs/file.c sysfs_kf_write(): "if (!count) return 0;" -- an empty write never reaches
  // the attribute's store(). `echo > attr` writes "\n"; a bare open+truncate writes nothing.
  if (data.empty()) return {};
  if (int err = PathFault({path, canon_attr}); err)
    return std::unexpected(WriteError(*abs, path, err));

  int err = kNotModeled;
  const std::string drivers_prefix = paths::PciDrivers() + "/";
  if (dir == PciBusDir()) {
    err = BusAttr(attr, data, ctx);
  } else if (StartsWith(dir, drivers_prefix) &&
             dir.find('/', drivers_prefix.size()) == std::string::npos) {
    err = DriverAttr(dir.substr(drivers_prefix.size()), attr, data, ctx);
  } else if (StartsWith(dir, "sys/devices/")) {
    auto bdf = Bdf::Parse(Basename(dir));
    if (bdf && bdf->str() == Basename(dir) && DeviceDir(*bdf) == dir)
      err = DeviceAttr(*bdf, dir, attr, data, ctx);
  }
  if (err == kNotModeled) return not_modeled();
  if (err != 0) return std::unexpected(WriteError(*abs, path, err));
  return {};
}

int SimKernelFs::DeviceAttr(Bdf bdf, const std::string& dir, std::string_view attr,
                            std::string_view data, Ctx& ctx) {
  if (attr == "driver_override") return WriteDriverOverride(dir, data);
  if (attr == "sriov_numvfs") return WriteNumVfs(bdf, dir, data, ctx);
  if (attr == "sriov_drivers_autoprobe") return WriteAutoprobe(dir, data);
  return kNotModeled;
}

int SimKernelFs::DriverAttr(const std::string& driver, std::string_view attr, std::string_view data,
                            Ctx& ctx) {
  if (attr == "bind" || attr == "unbind") {
    // drivers/base/bus.c bind_store / unbind_store: bus_find_device_by_name, then for bind
    // driver_match_device -> device_driver_attach; for unbind dev->driver == drv.
    auto bdf = DeviceName(data);
    std::string dir = bdf ? DeviceDir(*bdf) : std::string();
    if (dir.empty()) return ENODEV;
    if (attr == "unbind") {
      if (CurrentDriver(dir) != driver) return ENODEV;
      Unbind(*bdf, dir, driver, ctx);
      return 0;
    }
    if (!Matches(dir, driver)) return ENODEV;
    return Probe(*bdf, dir, driver, ctx);
  }
  if (attr == "new_id") return NewId(driver, data, ctx);
  if (attr == "remove_id") return RemoveId(driver, data);
  return kNotModeled;
}

int SimKernelFs::BusAttr(std::string_view attr, std::string_view data, Ctx& ctx) {
  if (attr == "drivers_probe") {
    // drivers/base/bus.c drivers_probe_store: -ENODEV without the device; otherwise
    // bus_rescan_devices_helper(), whose probe failures do not fail the write.
    auto bdf = DeviceName(data);
    std::string dir = bdf ? DeviceDir(*bdf) : std::string();
    if (dir.empty()) return ENODEV;
    return Attach(*bdf, dir, ctx);
  }
  if (attr == "drivers_autoprobe") {
    // bus.c drivers_autoprobe_store: '0' disables, anything else enables.
    std::string_view s = AsCString(data);
    bool on = s.empty() || s[0] != '0';
    return tree_->WriteFile(PciBusDir() + "/drivers_autoprobe", on ? "1\n" : "0\n", 0644) ? 0 : EIO;
  }
  if (attr == "rescan") {
    // drivers/pci/pci-sysfs.c rescan_store: kstrtoul; a rescan finds nothing new here because
    // the simulation never hides devices.
    unsigned long long v = 0;
    if (KstrToUll(data, &v) < 0) return EINVAL;
    return 0;
  }
  return kNotModeled;
}

// ---------------------------------------------------------------------------------------------
// Device attributes
// ---------------------------------------------------------------------------------------------

int SimKernelFs::WriteDriverOverride(const std::string& dir, std::string_view data) {
  // drivers/base/driver.c driver_set_override(): len >= PAGE_SIZE - 1 -> EINVAL; strlen() of the
  // buffer; empty clears; cut at the first '\n'; a leading '\n' clears. Shown as "%s\n", so
  // NULL reads "(null)\n". Setting it does not rebind anything.
  if (data.size() >= 4096 - 1) return EINVAL;
  std::string_view s = AsCString(data);
  size_t nl = s.find('\n');
  if (nl != std::string_view::npos) s = s.substr(0, nl);
  std::string shown = s.empty() ? std::string("(null)\n") : std::string(s) + "\n";
  if (!tree_->WriteFile(dir + "/driver_override", shown, 0644)) return EIO;
  return 0;
}

int SimKernelFs::WriteAutoprobe(const std::string& dir, std::string_view data) {
  // drivers/pci/iov.c sriov_drivers_autoprobe_store: kstrtobool() < 0 -> EINVAL.
  bool on = false;
  if (KstrToBool(data, &on) < 0) return EINVAL;
  if (!tree_->WriteFile(dir + "/sriov_drivers_autoprobe", on ? "1\n" : "0\n", 0644)) return EIO;
  return 0;
}

int SimKernelFs::WriteNumVfs(Bdf pf, const std::string& dir, std::string_view data, Ctx& ctx) {
  // drivers/pci/iov.c sriov_numvfs_store(), in its order: parse, range, no-op, driver checks,
  // disable, busy, enable.
  uint16_t num_vfs = 0;
  if (KstrToU16(data, &num_vfs) < 0) return EINVAL;
  int total = ParseInt(ReadAttr(dir + "/sriov_totalvfs")).value_or(0);
  if (num_vfs > total) return ERANGE;
  int current = ParseInt(ReadAttr(dir + "/sriov_numvfs")).value_or(0);
  if (num_vfs == current) return 0;
  std::string driver = CurrentDriver(dir);
  if (driver.empty()) {
    Log("pci " + pf.str() + ": no driver bound to device; cannot configure SR-IOV");
    return ENOENT;
  }
  if (!DriverHasSriovConfigure(driver)) {
    Log("pci " + pf.str() + ": driver does not support SR-IOV configuration via sysfs");
    return ENOENT;
  }
  if (num_vfs == 0) {
    RemoveVfs(pf, dir, ctx);
    return 0;
  }
  if (current != 0) {
    // pci_warn() names the bound driver: "nvme 0000:03:00.0: 2 VFs already enabled. ..."
    Log(driver + " " + pf.str() + ": " + std::to_string(current) +
        " VFs already enabled. Disable before enabling " + std::to_string(num_vfs) + " VFs");
    return EBUSY;
  }
  return CreateVfs(pf, dir, num_vfs, ctx);
}

// ---------------------------------------------------------------------------------------------
// Driver attributes: new_id / remove_id
// ---------------------------------------------------------------------------------------------

int SimKernelFs::NewId(const std::string& driver, std::string_view data, Ctx& ctx) {
  // drivers/pci/pci-driver.c new_id_store().
  uint32_t f[7] = {0, 0, kPciAnyId, kPciAnyId, 0, 0, 0};
  int fields = ScanHexFields(data, f, 7);
  if (fields < 2) return EINVAL;
  DynId id{driver, f[0], f[1], f[2], f[3], f[4], f[5]};
  if (fields != 7) {
    // A device with these ids that the driver already matches -> EEXIST. The fake pci_dev has
    // 16-bit subsystem ids, so PCI_ANY_ID becomes 0xffff there.
    DeviceIds ids{id.vendor,     id.device, id.subvendor & 0xffff, id.subdevice & 0xffff,
                  id.class_code, {}};
    ids.modalias = internal::Modalias(
        PciId{static_cast<uint16_t>(ids.vendor), static_cast<uint16_t>(ids.device)},
        PciId{static_cast<uint16_t>(ids.subvendor), static_cast<uint16_t>(ids.subdevice)},
        ids.class_code);
    if (MatchesIds(ids, driver)) return EEXIST;
  } else if (f[6] != 0) {
    return EINVAL;  // driver_data must match an id_table entry; the simulation has none
  }
  dynids_.push_back(id);
  SaveDynIds();
  Log(driver + ": new_id " +
      PciId{static_cast<uint16_t>(id.vendor), static_cast<uint16_t>(id.device)}.str());
  // pci_add_dynid() -> driver_attach(): every unbound device the driver now matches is probed;
  // probe failures are ignored.
  auto names = real_.ListDir(paths::PciDevices());
  if (names) {
    for (const auto& name : *names) {
      auto bdf = Bdf::Parse(name);
      if (!bdf) continue;
      std::string dir = DeviceDir(*bdf);
      if (dir.empty() || !CurrentDriver(dir).empty()) continue;
      if (!Matches(dir, driver)) continue;
      Probe(*bdf, dir, driver, ctx);
    }
  }
  return 0;
}

int SimKernelFs::RemoveId(const std::string& driver, std::string_view data) {
  // drivers/pci/pci-driver.c remove_id_store(): fields < 2 -> EINVAL; no such dynid -> ENODEV.
  uint32_t f[6] = {0, 0, kPciAnyId, kPciAnyId, 0, 0};
  if (ScanHexFields(data, f, 6) < 2) return EINVAL;
  for (auto it = dynids_.begin(); it != dynids_.end(); ++it) {
    if (it->driver == driver && it->vendor == f[0] && it->device == f[1] &&
        (f[2] == kPciAnyId || it->subvendor == f[2]) &&
        (f[3] == kPciAnyId || it->subdevice == f[3]) && !((it->class_code ^ f[4]) & f[5])) {
      dynids_.erase(it);
      SaveDynIds();
      return 0;
    }
  }
  return ENODEV;
}

void SimKernelFs::LoadDynIds() {
  auto text = real_.ReadFile(std::string(kStateDir) + "/dynids");
  if (!text) return;
  size_t start = 0;
  while (start < text->size()) {
    size_t end = text->find('\n', start);
    if (end == std::string::npos) end = text->size();
    std::string line = text->substr(start, end - start);
    start = end + 1;
    char name[256];
    DynId d;
    if (std::sscanf(line.c_str(), "%255s %x %x %x %x %x %x", name, &d.vendor, &d.device,
                    &d.subvendor, &d.subdevice, &d.class_code, &d.class_mask) == 7) {
      d.driver = name;
      dynids_.push_back(d);
    }
  }
}

void SimKernelFs::SaveDynIds() {
  std::string text;
  for (const auto& d : dynids_) {
    char buf[320];
    std::snprintf(buf, sizeof buf, "%s %x %x %x %x %x %x\n", d.driver.c_str(), d.vendor, d.device,
                  d.subvendor, d.subdevice, d.class_code, d.class_mask);
    text += buf;
  }
  (void)tree_->MakeDirs(kStateDir);
  (void)tree_->WriteFile(std::string(kStateDir) + "/dynids", text, 0644);
}

// ---------------------------------------------------------------------------------------------
// Matching and probing
// ---------------------------------------------------------------------------------------------

void SimKernelFs::LoadAliases() {
  if (aliases_loaded_) return;
  aliases_loaded_ = true;
  std::string release(TrimRight(ReadAttr(paths::ProcOsRelease())));
  if (release.empty()) return;
  for (const char* file : {"modules.alias", "modules.builtin.alias"}) {
    auto text = real_.ReadFile(paths::LibModulesFile(release, file));
    if (!text) continue;
    size_t start = 0;
    while (start < text->size()) {
      size_t end = text->find('\n', start);
      if (end == std::string::npos) end = text->size();
      std::string_view line(text->data() + start, end - start);
      start = end + 1;
      // "alias PATTERN MODULE"
      if (!StartsWith(line, "alias ")) continue;
      line.remove_prefix(6);
      size_t space = line.find(' ');
      if (space == std::string_view::npos) continue;
      std::string_view pattern = line.substr(0, space);
      if (!StartsWith(pattern, "pci:")) continue;  // vfio_pci:..., acpi*: never a PCI modalias
      aliases_.push_back(
          Alias{std::string(pattern), std::string(TrimRight(line.substr(space + 1)))});
    }
  }
}

SimKernelFs::DeviceIds SimKernelFs::ReadIds(const std::string& dir) const {
  DeviceIds ids;
  ids.vendor = internal::ParseHexAttr(ReadAttr(dir + "/vendor")).value_or(0xffff);
  ids.device = internal::ParseHexAttr(ReadAttr(dir + "/device")).value_or(0xffff);
  ids.subvendor = internal::ParseHexAttr(ReadAttr(dir + "/subsystem_vendor")).value_or(0);
  ids.subdevice = internal::ParseHexAttr(ReadAttr(dir + "/subsystem_device")).value_or(0);
  ids.class_code = internal::ParseHexAttr(ReadAttr(dir + "/class")).value_or(0);
  ids.modalias = std::string(TrimRight(ReadAttr(dir + "/modalias")));
  if (ids.modalias.empty())
    ids.modalias = internal::Modalias(
        PciId{static_cast<uint16_t>(ids.vendor), static_cast<uint16_t>(ids.device)},
        PciId{static_cast<uint16_t>(ids.subvendor), static_cast<uint16_t>(ids.subdevice)},
        ids.class_code);
  return ids;
}

namespace {
// drivers/pci/pci.h pci_match_one_device().
template <class Id, class Ids>
bool MatchOne(const Id& id, const Ids& dev) {
  return (id.vendor == kPciAnyId || id.vendor == dev.vendor) &&
         (id.device == kPciAnyId || id.device == dev.device) &&
         (id.subvendor == kPciAnyId || id.subvendor == dev.subvendor) &&
         (id.subdevice == kPciAnyId || id.subdevice == dev.subdevice) &&
         !((id.class_code ^ dev.class_code) & id.class_mask);
}
}  // namespace

std::vector<std::string> SimKernelFs::AliasDrivers(const DeviceIds& ids) {
  LoadAliases();
  std::vector<std::string> out;
  for (const auto& a : aliases_) {
    if (::fnmatch(a.pattern.c_str(), ids.modalias.c_str(), 0) != 0) continue;
    auto entries = real_.ListDir(paths::Modules() + "/" + a.module + "/drivers");
    if (entries) {
      for (const auto& e : *entries)
        if (StartsWith(e, "pci:")) out.push_back(e.substr(4));
      continue;
    }
    // No sys/module/M/drivers (module not loaded, or a hand-made root): the PCI driver is
    // usually named after the module, with '-' or '_'.
    std::string dashed = a.module;
    std::replace(dashed.begin(), dashed.end(), '_', '-');
    out.push_back(a.module);
    if (dashed != a.module) out.push_back(dashed);
  }
  return out;
}

bool SimKernelFs::MatchesIds(const DeviceIds& ids, const std::string& driver) {
  // pci_match_device(): dynamic ids first, then the static id table (the module's aliases).
  for (const auto& d : dynids_)
    if (d.driver == driver && MatchOne(d, ids)) return true;
  auto drivers = AliasDrivers(ids);
  return std::find(drivers.begin(), drivers.end(), driver) != drivers.end();
}

bool SimKernelFs::Matches(const std::string& dir, const std::string& driver) {
  // With driver_override set only that driver matches, and it always does.
  std::string override_name = Override(dir);
  if (!override_name.empty()) return override_name == driver;
  return MatchesIds(ReadIds(dir), driver);
}

std::vector<std::string> SimKernelFs::CandidateDrivers(const DeviceIds& ids) {
  std::vector<std::string> out;
  auto add = [&](const std::string& d) {
    if (std::find(out.begin(), out.end(), d) == out.end() && real_.Exists(paths::PciDriver(d)))
      out.push_back(d);
  };
  for (const auto& d : dynids_)
    if (MatchOne(d, ids)) add(d.driver);
  for (const auto& d : AliasDrivers(ids)) add(d);
  return out;
}

int SimKernelFs::Attach(Bdf bdf, const std::string& dir, Ctx& ctx) {
  // bus_rescan_devices_helper(): a bound device is left alone. __device_attach() walks the
  // drivers; a failed ->probe lets the next one try, and is not an error of the write. A
  // negative really_probe() result (before ->probe) ends the walk, and drivers_probe_store
  // turns any non-zero helper result into -EINVAL.
  if (!CurrentDriver(dir).empty()) return 0;
  std::string override_name = Override(dir);
  std::vector<std::string> drivers;
  if (!override_name.empty()) {
    if (real_.Exists(paths::PciDriver(override_name))) drivers.push_back(override_name);
  } else {
    drivers = CandidateDrivers(ReadIds(dir));
  }
  for (const auto& d : drivers) {
    bool before_probe = false;
    if (Probe(bdf, dir, d, ctx, &before_probe) == 0) return 0;
    if (before_probe) return EINVAL;
  }
  return 0;
}

int SimKernelFs::Probe(Bdf bdf, const std::string& dir, const std::string& driver, Ctx& ctx,
                       bool* before_probe) {
  // drivers/base/dd.c __driver_probe_device(): -EBUSY when a driver is bound.
  if (!CurrentDriver(dir).empty()) return EBUSY;
  if (!real_.Exists(paths::PciDriver(driver))) return ENODEV;
  ctx.sleep_ms += options_.bind_latency_ms;
  auto failed = [&](int err) {
    if (err != ENODEV)  // really_probe() reports ENODEV/ENXIO only at debug level
      Log(driver + ": probe of " + bdf.str() + " failed with error -" + std::to_string(err));
    return err;
  };
  // drivers/pci/pci-driver.c pci_dma_configure() -> drivers/iommu/iommu.c
  // iommu_device_use_default_domain(): -EBUSY while a user owns the group's DMA (a VFIO
  // container holds it), unless the driver manages DMA itself. really_probe() runs it before
  // the bus probe below and returns its error as is, without a log line (the e2e bed's
  // rollback scenario: bind gives EBUSY, drivers_probe EINVAL, dmesg nothing).
  if (!DriverManagesDma(driver)) {
    const auto& owned = options_.user_owned_iommu_groups;
    if (int group = IommuGroupOf(dir);
        group >= 0 && std::find(owned.begin(), owned.end(), group) != owned.end()) {
      if (before_probe) *before_probe = true;
      return EBUSY;
    }
  }
  // drivers/pci/pci-driver.c pci_device_can_probe(): a VF whose PF has
  // sriov_drivers_autoprobe 0 binds only through driver_override.
  if (auto link = real_.ReadLink(dir + "/physfn"); link) {
    std::string pf_dir = ResolveLinkTarget(dir, *link);
    if (TrimRight(ReadAttr(pf_dir + "/sriov_drivers_autoprobe")) == "0" && Override(dir).empty())
      return failed(ENODEV);
  }
  if (int err = DriverFault(driver); err) return failed(err);
  if (driver == "vfio-pci") {
    // drivers/vfio/pci/vfio_pci_core.c vfio_pci_core_register_device(): only normal headers,
    // not a PF with VFs enabled; vfio_group_find_or_alloc(): no IOMMU group -> -EINVAL.
    auto cfg = real_.ReadFile(dir + "/config");
    if (cfg && cfg->size() > 0x0e && (static_cast<uint8_t>((*cfg)[0x0e]) & 0x7f) != 0)
      return failed(EINVAL);
    if (IommuGroupOf(dir) < 0) {
      Log("vfio-pci " + bdf.str() + ": No IOMMU group");  // not the kernel's wording
      return failed(EINVAL);
    }
    if (ParseInt(ReadAttr(dir + "/sriov_numvfs")).value_or(0) > 0) {
      Log("vfio-pci " + bdf.str() + ": Cannot bind to PF with SR-IOV enabled");
      return failed(EBUSY);
    }
  }
  if (!internal::LinkDriver(*tree_, bdf, dir, driver)) return failed(EIO);
  // pci_enable_device() in the host drivers' probe; vfio-pci enables on open, pci-stub never.
  bool enables = !IsVfioDriver(driver) && driver != "pci-stub";
  if (enables) (void)tree_->WriteFile(dir + "/enable", "1\n", 0644);
  if (IsVfioDriver(driver)) (void)internal::AddVfioGroup(*tree_, IommuGroupOf(dir));
  bool restored = RestoreChildren(bdf, dir, driver);
  if (!restored && IsNetDriverFor(dir, driver) && !real_.Exists(dir + "/net"))
    CreateNetInterface(bdf, dir, driver);
  Log(driver + " " + bdf.str() + ": bound");
  return 0;
}

void SimKernelFs::Unbind(Bdf bdf, const std::string& dir, const std::string& driver, Ctx& ctx) {
  // device_release_driver(): the driver's ->remove runs first. Most PF drivers disable SR-IOV
  // there (igb_remove -> igb_disable_sriov, ixgbe_remove, bnx2x_remove_one, i40e_remove); nvme
  // does not, and pci_device_remove() -> pci_iov_remove() only warns. The net/block devices the
  // driver registered go away.
  if (ParseInt(ReadAttr(dir + "/sriov_numvfs")).value_or(0) > 0) {
    if (DriverLeavesSriovEnabled(driver))
      Log(driver + " " + bdf.str() + ": driver left SR-IOV enabled after remove");
    else
      RemoveVfs(bdf, dir, ctx);
  }
  StashChildren(bdf, dir, driver);
  (void)internal::UnlinkDriver(*tree_, bdf, dir, driver);
  (void)tree_->WriteFile(dir + "/enable", "0\n", 0644);
  if (IsVfioDriver(driver)) {
    // The VFIO group device lives while any device of the group is bound to a vfio driver.
    int group = IommuGroupOf(dir);
    bool still_used = false;
    if (auto members = real_.ListDir(paths::IommuGroupDevices(group)); members) {
      for (const auto& m : *members) {
        auto other = Bdf::Parse(m);
        if (!other || *other == bdf) continue;
        std::string other_dir = DeviceDir(*other);
        if (!other_dir.empty() && IsVfioDriver(CurrentDriver(other_dir))) still_used = true;
      }
    }
    if (!still_used && group >= 0) internal::RemoveVfioGroup(*tree_, group);
  }
  Log(driver + " " + bdf.str() + ": unbound");
}

// ---------------------------------------------------------------------------------------------
// SR-IOV
// ---------------------------------------------------------------------------------------------

Result<void> SimKernelFs::LoadModule(const std::string& module) { return LoadModule(module, {}); }

Result<void> SimKernelFs::UnloadModule(const std::string& module) {
  Ctx ctx;
  {
    std::lock_guard lock(mu_);
    if (live_) return Fail(Code::kRefused, "refusing to simulate modprobe -r over a live sysfs", root());
    const std::string dir = paths::Modules() + "/" + module;
    if (!real_.Exists(dir + "/initstate")) {
      if (real_.Exists(dir)) return Fail(Code::kRefused, "modprobe: FATAL: Module " + module + " is builtin.");
      return Fail(Code::kNotFound, "modprobe: FATAL: Module " + module + " is not currently loaded");
    }
    bool holders = !real_.ListDir(dir + "/holders").value_or(std::vector<std::string>{}).empty();
    if (holders || std::string(TrimRight(ReadAttr(dir + "/refcnt"))) != "0")
      return Fail(Code::kBusy, "modprobe: FATAL: Module " + module + " is in use.", dir, EBUSY);
    auto& saved = unloaded_params_[module];
    saved.clear();
    for (const auto& p : real_.ListDir(dir + "/parameters").value_or(std::vector<std::string>{}))
      if (auto v = real_.ReadFile(dir + "/parameters/" + p)) saved[p] = std::string(TrimRight(*v));
    for (const auto& entry : real_.ListDir(dir + "/drivers").value_or(std::vector<std::string>{})) {
      if (!entry.starts_with("pci:")) continue;
      const std::string driver = entry.substr(4);
      for (const auto& name : real_.ListDir(paths::PciDriver(driver)).value_or(std::vector<std::string>{})) {
        auto bdf = Bdf::Parse(name);
        if (!bdf) continue;
        std::string ddir = DeviceDir(*bdf);
        if (!ddir.empty() && CurrentDriver(ddir) == driver) Unbind(*bdf, ddir, driver, ctx);
      }
      (void)tree_->RemoveTree(paths::PciDriver(driver));
      Log("modprobe -r " + module + ": unregistered PCI driver " + driver);
    }
    (void)tree_->RemoveTree(dir);
  }
  if (ctx.sleep_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ctx.sleep_ms));
  return {};
}

Result<void> SimKernelFs::LoadModule(const std::string& module, const std::map<std::string, std::string>& given) {
  Ctx ctx;
  {
    std::lock_guard lock(mu_);
    if (live_) return Fail(Code::kRefused, "refusing to simulate modprobe over a live sysfs", root());
    const std::string dir = paths::Modules() + "/" + module;
    if (real_.Exists(dir + "/initstate")) return {};
    std::string release(TrimRight(ReadAttr(paths::ProcOsRelease())));
    // modules.dep lines are "kernel/drivers/vfio/pci/vfio-pci.ko.xz: deps"; modules.builtin
    // lines are the path alone. Module names compare with '-' read as '_' (kmod does the same).
    auto find = [&](const char* file) -> std::string {
      std::string text = ReadAttr(paths::LibModulesFile(release, file));
      for (std::string_view line : SplitLines(text)) {
        std::string_view base = ModuleFileName(line);
        if (ModuleName(base) == module) return std::string(base);
      }
      return {};
    };
    if (!find("modules.builtin").empty()) return {};
    std::string driver = find("modules.dep");
    if (driver.empty())
      return Fail(Code::kNotFound, "modprobe: FATAL: Module " + module + " not found in directory /lib/modules/" + release);
    auto& w = *tree_;
    if (auto ok = w.MakeDirs(dir + "/drivers"); !ok) return ok;
    (void)w.WriteFile(dir + "/initstate", "live\n");
    (void)w.WriteFile(dir + "/refcnt", "0\n");
    std::map<std::string, std::string> params = unloaded_params_[module];
    for (const auto& [p, v] : given) params[p] = v;
    if (!params.empty()) (void)w.MakeDirs(dir + "/parameters");
    for (const auto& [p, v] : params) (void)w.WriteFile(dir + "/parameters/" + p, v + "\n");
    std::string words;
    for (const auto& [p, v] : given) words += " " + p + "=" + v;
    if (!real_.Exists(paths::PciDriver(driver))) {
      if (auto ok = w.MakeDirs(paths::PciDriver(driver)); !ok) return ok;
      for (const char* attr : {"bind", "unbind", "new_id", "remove_id", "uevent"})
        (void)w.WriteFile(paths::PciDriverAttr(driver, attr), "", 0200);
      (void)w.Link(paths::PciDriverAttr(driver, "module"), dir);
      (void)w.Link(dir + "/drivers/pci:" + driver, paths::PciDriver(driver));
    }
    Log("modprobe " + module + words + ": registered PCI driver " + driver);
    for (const auto& name : real_.ListDir(paths::PciDevices()).value_or(std::vector<std::string>{})) {
      auto bdf = Bdf::Parse(name);
      if (!bdf) continue;
      std::string ddir = DeviceDir(*bdf);
      if (!ddir.empty() && CurrentDriver(ddir).empty() && Matches(ddir, driver)) (void)Probe(*bdf, ddir, driver, ctx);
    }
  }
  if (ctx.sleep_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ctx.sleep_ms));
  return {};
}

Result<void> SimKernelFs::EnableSriov(Bdf pf, int num_vfs) {
  Ctx ctx;
  int err = 0;
  {
    std::lock_guard lock(mu_);
    if (live_) return Fail(Code::kRefused, "refusing writes: " + root() + " is a live sysfs");
    std::string dir = DeviceDir(pf);
    if (dir.empty() || !real_.Exists(dir + "/sriov_totalvfs"))
      return Fail(Code::kNotFound, pf.str() + " is not an SR-IOV PF", paths::PciDevice(pf));
    int total = ParseInt(ReadAttr(dir + "/sriov_totalvfs")).value_or(0);
    if (num_vfs < 0 || num_vfs > total)
      return Fail(Code::kInvalid,
                  pf.str() + ": " + std::to_string(num_vfs) + " VFs asked, sriov_totalvfs is " +
                      std::to_string(total),
                  paths::PciDeviceAttr(pf, "sriov_numvfs"), ERANGE);
    if (ParseInt(ReadAttr(dir + "/sriov_numvfs")).value_or(0) != 0)
      return Fail(Code::kBusy, pf.str() + ": VFs already enabled",
                  paths::PciDeviceAttr(pf, "sriov_numvfs"), EBUSY);
    if (num_vfs > 0) err = CreateVfs(pf, dir, num_vfs, ctx);
  }
  if (ctx.sleep_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ctx.sleep_ms));
  if (err)
    return Fail(CodeFromErrno(err),
                pf.str() + ": enabling " + std::to_string(num_vfs) + " VFs: " + std::strerror(err),
                paths::PciDeviceAttr(pf, "sriov_numvfs"), err);
  return {};
}

int SimKernelFs::CreateVfs(Bdf pf, const std::string& dir, int num_vfs, Ctx& ctx) {
  // drivers/pci/iov.c sriov_enable() -> sriov_add_vfs() -> pci_iov_add_virtfn() for each VF.
  int offset = ParseInt(ReadAttr(dir + "/sriov_offset")).value_or(0);
  int stride = ParseInt(ReadAttr(dir + "/sriov_stride")).value_or(1);
  auto vf_device = internal::ParseHexAttr(ReadAttr(dir + "/sriov_vf_device"));
  auto vendor = internal::ParseHexAttr(ReadAttr(dir + "/vendor"));
  if (!vf_device || !vendor) return EIO;

  std::vector<Bdf> vfs;
  for (int i = 0; i < num_vfs; ++i) {
    // pci_iov_virtfn_bus/devfn: PF routing id + offset + i * stride (SR-IOV 1.1 §3.3.10-11).
    uint32_t rid = pf.routing_id() + static_cast<uint32_t>(offset + i * stride);
    if (rid > 0xffff) {
      Log("pci " + pf.str() + ": can't enable " + std::to_string(num_vfs) +
          " VFs (bus out of range)");
      return ENOMEM;
    }
    Bdf vf = Bdf::FromRoutingId(pf.domain, rid);
    if (!DeviceDir(vf).empty()) return EEXIST;  // sysfs_create_dir_ns: duplicate name
    vfs.push_back(vf);
  }

  internal::FunctionAttrs base;
  base.id = PciId{static_cast<uint16_t>(*vendor), static_cast<uint16_t>(*vf_device)};
  base.subsystem =
      PciId{static_cast<uint16_t>(
                internal::ParseHexAttr(ReadAttr(dir + "/subsystem_vendor")).value_or(0)),
            static_cast<uint16_t>(
                internal::ParseHexAttr(ReadAttr(dir + "/subsystem_device")).value_or(0))};
  base.class_code = internal::ParseHexAttr(ReadAttr(dir + "/class")).value_or(0);
  base.revision =
      static_cast<uint8_t>(internal::ParseHexAttr(ReadAttr(dir + "/revision")).value_or(1));
  base.numa_node = ParseInt(ReadAttr(dir + "/numa_node")).value_or(-1);
  base.local_cpus = std::string(TrimRight(ReadAttr(dir + "/local_cpus")));
  base.local_cpulist = std::string(TrimRight(ReadAttr(dir + "/local_cpulist")));
  base.vf = true;
  base.msi = false;
  // VFs keep the PF's MSI-X and PCIe capabilities (82576, I350, 57810 VFs have no MSI).
  if (auto cfg = real_.ReadFile(dir + "/config"); cfg && cfg->size() >= 256) {
    uint8_t at = static_cast<uint8_t>((*cfg)[0x34]);
    bool pcie = false, msix = false;
    for (int guard = 0; at >= 0x40 && guard < 48; ++guard) {
      uint8_t id = static_cast<uint8_t>((*cfg)[at]);
      if (id == 0x11) msix = true;
      if (id == 0x10) pcie = true;
      at = static_cast<uint8_t>((*cfg)[at + 1]);
    }
    base.msix = msix;
    base.pcie = pcie;
  }
  int pf_group = IommuGroupOf(dir);
  std::string group_type = "DMA", iommu_unit;
  int next_group = -1;
  if (pf_group >= 0) {
    group_type = std::string(TrimRight(ReadAttr(internal::IommuGroupDir(pf_group) + "/type")));
    if (auto unit = real_.ReadLink(dir + "/iommu"); unit) iommu_unit = std::string(Basename(*unit));
    // A fresh group per VF (ACS-capable root ports), numbered after the highest existing one.
    // The highest is scanned once and then tracked (creating thousands of VFs stays linear);
    // groups made behind our back are skipped by the existence check below.
    if (max_group_ < -1) {
      max_group_ = -1;
      if (auto groups = real_.ListDir(paths::IommuGroups()); groups)
        for (const auto& g : *groups) max_group_ = std::max(max_group_, ParseInt(g).value_or(-1));
    }
    next_group = max_group_ + 1;
  }

  // sriov_enable() sets num_VFs before the VFs are added and probed.
  if (!tree_->WriteFile(dir + "/sriov_numvfs", std::to_string(num_vfs) + "\n", 0644)) return EIO;
  std::string parent(Dirname(dir));
  std::vector<int> groups(vfs.size(), -1);
  for (size_t i = 0; i < vfs.size() && next_group >= 0; ++i) {
    while (real_.Exists(internal::IommuGroupDir(next_group))) ++next_group;
    groups[i] = next_group;
    max_group_ = std::max(max_group_, next_group++);
  }
  // The VFs' directories and links in parallel (each VF has its own files and group); the
  // probes after them run in order.
  std::vector<char> ok(vfs.size(), 0);
  internal::ParallelFor(vfs.size(), [&](size_t i) {
    internal::FunctionAttrs f = base;
    f.bdf = vfs[i];
    f.dir = parent + "/" + vfs[i].str();
    // virtfnN is made in the PF's canonical directory: links are relative to where they live.
    std::string virtfn(Basename(paths::PciVirtfn(pf, static_cast<int>(i))));
    ok[i] = internal::WriteFunction(*tree_, f) && tree_->Link(dir + "/" + virtfn, f.dir) &&
            tree_->Link(f.dir + "/physfn", dir) &&
            (groups[i] < 0 ||
             internal::AddToIommuGroup(*tree_, vfs[i], f.dir, groups[i], group_type, iommu_unit));
  });
  char hdr[96];
  for (size_t i = 0; i < vfs.size(); ++i) {
    if (!ok[i]) return EIO;
    std::snprintf(hdr, sizeof hdr, "pci %s: [%04x:%04x] type 00 class 0x%06x", vfs[i].str().c_str(),
                  base.id.vendor, base.id.device, base.class_code);
    Log(hdr);
    if (groups[i] >= 0)
      Log("pci " + vfs[i].str() + ": Adding to iommu group " + std::to_string(groups[i]));
    ctx.sleep_ms += options_.vf_create_latency_ms;
  }
  Log("pci " + pf.str() + ": enabled " + std::to_string(num_vfs) + " VFs");

  // pci_bus_add_device() -> device_attach() for each VF when the bus autoprobes; VFs of a PF
  // with sriov_drivers_autoprobe 0 would fail pci_device_can_probe() anyway.
  bool bus_autoprobe = TrimRight(ReadAttr(PciBusDir() + "/drivers_autoprobe")) != "0";
  bool pf_autoprobe = TrimRight(ReadAttr(dir + "/sriov_drivers_autoprobe")) != "0";
  if (bus_autoprobe && pf_autoprobe && !vfs.empty()) {
    // What Attach() does for each VF, with the candidate drivers worked out once: the VFs share
    // their ids and have no driver_override yet.
    auto drivers = CandidateDrivers(ReadIds(parent + "/" + vfs.front().str()));
    for (const auto& vf : vfs)
      for (const auto& d : drivers)
        if (Probe(vf, parent + "/" + vf.str(), d, ctx) == 0) break;
  }
  return 0;
}

void SimKernelFs::RemoveVfs(Bdf pf, const std::string& dir, Ctx& ctx) {
  // drivers/pci/iov.c sriov_disable() -> pci_iov_remove_virtfn(): each VF is released from its
  // driver, its links and directory go, and its IOMMU group with it when empty.
  std::vector<std::pair<int, std::string>> links;
  if (auto names = real_.ListDir(dir); names) {
    for (const auto& n : *names) {
      if (!StartsWith(n, "virtfn")) continue;
      if (auto idx = ParseInt(std::string_view(n).substr(6)); idx) links.emplace_back(*idx, n);
    }
  }
  std::sort(links.begin(), links.end());
  for (const auto& [index, name] : links) {
    auto target = real_.ReadLink(dir + "/" + name);
    if (target) {
      std::string vf_dir = ResolveLinkTarget(dir, *target);
      auto vf = Bdf::Parse(Basename(vf_dir));
      if (vf) {
        std::string driver = CurrentDriver(vf_dir);
        if (!driver.empty()) Unbind(*vf, vf_dir, driver, ctx);
        int group = IommuGroupOf(vf_dir);
        if (group >= 0) {
          (void)tree_->Remove(paths::IommuGroupDevices(group) + "/" + vf->str());
          auto left = real_.ListDir(paths::IommuGroupDevices(group));
          if (left && left->empty()) {
            max_group_ = -2;  // the highest group may be gone: rescan next time
            (void)tree_->RemoveTree(internal::IommuGroupDir(group));
            internal::RemoveVfioGroup(*tree_, group);
            Log("pci " + vf->str() + ": Removing from iommu group " + std::to_string(group));
          }
        }
        (void)tree_->Remove(paths::PciDevice(*vf));
        (void)tree_->RemoveTree(vf_dir);
      }
    }
    (void)tree_->Remove(dir + "/" + name);
    ctx.sleep_ms += options_.vf_create_latency_ms;
  }
  (void)tree_->WriteFile(dir + "/sriov_numvfs", "0\n", 0644);
  Log("pci " + pf.str() + ": disabled " + std::to_string(links.size()) + " VFs");
}

// ---------------------------------------------------------------------------------------------
// Children a driver registers (net, nvme, ata): gone while unbound, back when it rebinds
// ---------------------------------------------------------------------------------------------

namespace {

bool IsDriverChild(std::string_view name) {
  return name == "net" || name == "nvme" || StartsWith(name, "ata");
}

// The class directories whose links point into driver-made children.
constexpr std::string_view kClassDirs[] = {"sys/class/net", "sys/block", "sys/class/block",
                                           "sys/class/nvme", "sys/class/nvme-subsystem"};
constexpr std::string_view kNvmeSubsystems = "sys/devices/virtual/nvme-subsystem";

// The header line of proc/net/route (net/ipv4/fib_trie.c fib_route_seq_show).
std::string RouteHeader() {
  char header[160];
  std::snprintf(
      header, sizeof header, "%-127s\n",
      "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT");
  return header;
}

// Files with one line per interface route/address, and the column holding the name. The last
// one is ptrec's record of IPv4 addresses in a snapshot (pci::kIpv4AddressesFile): procfs has
// no per-address file, but an address goes with its interface all the same.
struct ProcNetFile {
  std::string path;
  bool name_first;  ///< proc/net/route, ipv4-addresses: first column; ipv6_route, if_inet6: last
  bool header;      ///< proc/net/route starts with a header line
};

std::vector<ProcNetFile> ProcNetFiles() {
  return {{paths::ProcNetRoute(), true, true},
          {paths::ProcNetIpv6Route(), false, false},
          {paths::ProcNetIfInet6(), false, false},
          {pci::kIpv4AddressesFile, true, false}};
}

std::string_view LineIface(std::string_view line, bool name_first) {
  line = TrimRight(line);
  if (name_first) {
    size_t end = line.find_first_of(" \t");
    return line.substr(0, end);
  }
  size_t start = line.find_last_of(" \t");
  return start == std::string_view::npos ? line : line.substr(start + 1);
}

// \a line with its interface column renamed per \a renames (unchanged when not listed).
std::string RenameLineIface(std::string_view line, bool name_first,
                            const std::map<std::string, std::string>& renames) {
  std::string_view name = LineIface(line, name_first);
  auto it = renames.find(std::string(name));
  if (it == renames.end()) return std::string(line);
  size_t at = static_cast<size_t>(name.data() - line.data());
  return std::string(line.substr(0, at)) + it->second + std::string(line.substr(at + name.size()));
}

// "eth0", "eth12": a name the kernel chose (dev_alloc_name "eth%d"), not udev.
bool IsKernelEthName(std::string_view name) {
  if (!StartsWith(name, "eth") || name.size() == 3) return false;
  return std::all_of(name.begin() + 3, name.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

// dev_alloc_name("eth%d"): the lowest N (from \a from) whose ethN is not taken.
std::string LowestFreeEth(const std::set<std::string>& taken, int* from = nullptr) {
  for (int n = from ? *from : 0;; ++n) {
    std::string name = "eth" + std::to_string(n);
    if (taken.count(name)) continue;
    if (from) *from = n + 1;
    return name;
  }
}


}  // namespace

void SimKernelFs::StashChildren(Bdf bdf, const std::string& dir, const std::string& driver) {
  auto names = real_.ListDir(dir);
  if (!names) return;
  // What the driver registered: its children in the device directory, and NVMe multipath
  // subsystems (sys/devices/virtual/nvme-subsystem/S) that link to one of its controllers.
  std::vector<std::string> owned;
  for (const auto& n : *names)
    if (IsDriverChild(n)) owned.push_back(dir + "/" + n);
  if (owned.empty()) return;
  const std::string inside = dir + "/";
  if (auto subsystems = real_.ListDir(std::string(kNvmeSubsystems)); subsystems) {
    for (const auto& sub : *subsystems) {
      std::string sub_dir = std::string(kNvmeSubsystems) + "/" + sub;
      auto entries = real_.ListDir(sub_dir);
      if (!entries) continue;
      for (const auto& e : *entries) {
        auto target = real_.ReadLink(sub_dir + "/" + e);
        if (target && StartsWith(ResolveLinkTarget(sub_dir, *target), inside)) {
          owned.push_back(sub_dir);
          break;
        }
      }
    }
  }
  auto in_owned = [&](const std::string& path) {
    return std::any_of(owned.begin(), owned.end(), [&](const std::string& o) {
      return path == o || StartsWith(path, o + "/");
    });
  };

  std::string stash = std::string(kStateDir) + "/unbound/" + bdf.str();
  (void)tree_->RemoveTree(stash);
  (void)tree_->MakeDirs(stash + "/children");
  net_scanned_ = false;
  (void)tree_->WriteFile(stash + "/driver", driver + "\n", 0644);

  // Interfaces that disappear take their routes and addresses with them.
  std::vector<std::string> ifaces;
  if (auto nets = real_.ListDir(dir + "/net"); nets) ifaces = *nets;

  std::string links;
  for (auto class_dir : kClassDirs) {
    auto entries = real_.ListDir(std::string(class_dir));
    if (!entries) continue;
    for (const auto& e : *entries) {
      std::string link = std::string(class_dir) + "/" + e;
      auto target = real_.ReadLink(link);
      if (!target) continue;
      std::string resolved = ResolveLinkTarget(class_dir, *target);
      if (!in_owned(resolved)) continue;
      links += link + "\t" + resolved + "\n";
      (void)tree_->Remove(link);
    }
  }
  (void)tree_->WriteFile(stash + "/links", links, 0644);

  for (const auto& pf : ProcNetFiles()) {
    auto text = real_.ReadFile(pf.path);
    if (!text || ifaces.empty()) continue;
    std::string kept, removed;
    size_t start = 0;
    bool header = pf.header;
    while (start < text->size()) {
      size_t end = text->find('\n', start);
      if (end == std::string::npos) end = text->size() - 1;
      std::string_view line(text->data() + start, end - start + 1);
      start = end + 1;
      bool drop = !header && std::find(ifaces.begin(), ifaces.end(),
                                       LineIface(line, pf.name_first)) != ifaces.end();
      header = false;
      (drop ? removed : kept).append(line);
    }
    if (removed.empty()) continue;
    // fib_route_seq_start(): without any route the main table is empty and even the header goes.
    if (pf.header && kept.find('\n') + 1 == kept.size()) kept.clear();
    (void)tree_->WriteFile(pf.path, kept, IsKernelPath(pf.path) ? 0444 : 0644);
    (void)tree_->WriteFile(stash + "/" + std::string(Basename(pf.path)), removed, 0644);
  }

  std::string dirs;
  for (size_t i = 0; i < owned.size(); ++i) {
    std::string slot = stash + "/children/" + std::to_string(i);
    if (tree_->Rename(owned[i], slot)) dirs += owned[i] + "\t" + slot + "\n";
  }
  (void)tree_->WriteFile(stash + "/dirs", dirs, 0644);
}

bool SimKernelFs::RestoreChildren(Bdf bdf, const std::string& /*dir*/, const std::string& driver) {
  std::string stash = std::string(kStateDir) + "/unbound/" + bdf.str();
  if (TrimRight(ReadAttr(stash + "/driver")) != driver) return false;
  auto each_line = [&](const std::string& file, auto fn) {
    auto text = real_.ReadFile(stash + "/" + file);
    if (!text) return;
    size_t start = 0;
    while (start < text->size()) {
      size_t end = text->find('\n', start);
      if (end == std::string::npos) end = text->size();
      std::string line = text->substr(start, end - start);
      start = end + 1;
      size_t tab = line.find('\t');
      if (tab != std::string::npos) fn(line.substr(0, tab), line.substr(tab + 1));
    }
  };
  // register_netdev() names the interface anew: a kernel-chosen "ethN" becomes the lowest free
  // ethN now (another NIC may have taken it meanwhile, or a lower one be free).
  std::map<std::string, std::string> renames;
  each_line("dirs", [&](const std::string& orig, const std::string& slot) {
    if (Basename(orig) != "net") return;
    auto names = real_.ListDir(slot);
    if (!names) return;
    std::sort(names->begin(), names->end());
    std::set<std::string> taken = NetInterfaceNames();
    for (const auto& name : *names) {
      if (!IsKernelEthName(name)) continue;
      std::string fresh = LowestFreeEth(taken);
      taken.insert(fresh);
      if (fresh == name) continue;
      if (!tree_->Rename(slot + "/" + name, slot + "/" + fresh)) continue;
      renames[name] = fresh;
      std::string uevent = ReadAttr(slot + "/" + fresh + "/uevent");
      if (size_t at = uevent.find("INTERFACE=" + name + "\n"); at != std::string::npos) {
        uevent.replace(at, 10 + name.size(), "INTERFACE=" + fresh);
        (void)tree_->WriteFile(slot + "/" + fresh + "/uevent", uevent, 0644);
      }
      Log(driver + " " + bdf.str() + " " + fresh + ": renamed from " + name + " (lowest free ethN)");
    }
  });
  // "sys/class/net/eth1" and ".../net/eth1" (the links file) -> the new name.
  auto renamed_path = [&](const std::string& path) {
    std::string_view name = Basename(path);
    std::string_view parent = Basename(Dirname(path));
    auto it = renames.find(std::string(name));
    if (it == renames.end() || parent != "net") return path;
    return std::string(Dirname(path)) + "/" + it->second;
  };
  each_line("dirs", [&](const std::string& orig, const std::string& slot) {
    (void)tree_->Rename(slot, orig);
  });
  each_line("links", [&](const std::string& link, const std::string& target) {
    (void)tree_->Link(renamed_path(link), renamed_path(target));
  });
  for (const auto& pf : ProcNetFiles()) {
    auto saved = real_.ReadFile(stash + "/" + std::string(Basename(pf.path)));
    if (!saved) continue;
    std::string lines;
    size_t start = 0;
    while (start < saved->size()) {
      size_t end = saved->find('\n', start);
      end = end == std::string::npos ? saved->size() : end + 1;
      lines += RenameLineIface(std::string_view(*saved).substr(start, end - start), pf.name_first,
                               renames);
      start = end;
    }
    std::string text = ReadAttr(pf.path);
    if (pf.header && text.empty()) text = RouteHeader();
    (void)tree_->MakeDirs(Dirname(pf.path));
    (void)tree_->WriteFile(pf.path, text + lines, IsKernelPath(pf.path) ? 0444 : 0644);
  }
  (void)tree_->RemoveTree(stash);
  net_scanned_ = false;
  return true;
}

const std::set<std::string>& SimKernelFs::NetInterfaceNames() {
  if (!net_scanned_) {
    net_scanned_ = true;
    net_names_.clear();
    max_ifindex_ = 1;  // lo
    next_eth_ = 0;
    for (auto& n : real_.ListDir(paths::ClassNet()).value_or(std::vector<std::string>{})) {
      max_ifindex_ =
          std::max(max_ifindex_, ParseInt(ReadAttr(paths::NetAttr(n, "ifindex"))).value_or(0));
      net_names_.insert(std::move(n));
    }
  }
  return net_names_;
}

void SimKernelFs::CreateNetInterface(Bdf bdf, const std::string& dir, const std::string& driver) {
  const std::set<std::string>& taken = NetInterfaceNames();
  // udev's predictable names (systemd net_id, path policy) where the host uses them, unless
  // net.ifnames=0; else the kernel's own ethN.
  std::string cmdline = ReadAttr(paths::ProcCmdline());
  auto first_en = taken.lower_bound("en");  // the set is sorted: any "en..." name starts here
  bool predictable = cmdline.find("net.ifnames=0") == std::string::npos &&
                     first_en != taken.end() && StartsWith(*first_en, "en");
  std::string name;
  if (predictable) {
    // "en" + ["P<domain>"] + "p<bus>s<slot>" + ["f<function>"] (function > 0 or a multi-function
    // device: header type bit 7), all decimal.
    auto cfg = real_.ReadFile(dir + "/config");
    bool multifunction = cfg && cfg->size() > 0x0e && (static_cast<uint8_t>((*cfg)[0x0e]) & 0x80);
    name = "en";
    if (bdf.domain) name += "P" + std::to_string(bdf.domain);
    name += "p" + std::to_string(bdf.bus) + "s" + std::to_string(bdf.device);
    if (bdf.function > 0 || multifunction) name += "f" + std::to_string(bdf.function);
    if (taken.count(name)) name.clear();
  }
  if (name.empty()) name = LowestFreeEth(taken, &next_eth_);
  // dev_new_index(): after the highest index in use (lo is 1).
  int ifindex = ++max_ifindex_;
  net_names_.insert(name);
  char mac[32];  // the NIC's own address is in its NVM; a stable one from the BDF stands in
  std::snprintf(mac, sizeof mac, "00:1b:21:%02x:%02x:%02x", bdf.bus,
                (bdf.device << 3 | bdf.function) & 0xff, bdf.domain & 0xff);
  internal::NetInterfaceAttrs n;
  n.dir = dir + "/net/" + name;
  n.name = name;
  n.ifindex = ifindex;
  n.mac = mac;
  n.device_dir = dir;
  if (internal::WriteNetInterface(*tree_, n))
    Log(driver + " " + bdf.str() + " " + name + ": registered (down)");
}

// ---------------------------------------------------------------------------------------------
// Reading state from the tree
// ---------------------------------------------------------------------------------------------

std::string SimKernelFs::DeviceDir(Bdf bdf) const {
  auto target = real_.ReadLink(paths::PciDevice(bdf));
  if (!target) return "";
  return ResolveLinkTarget(paths::PciDevices(), *target);
}

std::string SimKernelFs::CurrentDriver(const std::string& dir) const {
  auto target = real_.ReadLink(dir + "/driver");
  return target ? std::string(Basename(*target)) : std::string();
}

std::string SimKernelFs::Override(const std::string& dir) const {
  std::string value(TrimRight(ReadAttr(dir + "/driver_override")));
  return value == "(null)" ? std::string() : value;
}

int SimKernelFs::IommuGroupOf(const std::string& dir) const {
  auto target = real_.ReadLink(dir + "/iommu_group");
  if (!target) return -1;
  return ParseInt(Basename(*target)).value_or(-1);
}

std::string SimKernelFs::ReadAttr(const std::string& path) const {
  auto text = real_.ReadFile(path);
  return text ? *text : std::string();
}

bool SimKernelFs::IsVfioDriver(const std::string& driver) const {
  return driver.find("vfio") != std::string::npos;
}

bool SimKernelFs::DriverManagesDma(const std::string& driver) const {
  // .driver_managed_dma = true in 6.1: vfio_pci_core drivers, pci-stub, pcieport.
  return IsVfioDriver(driver) || driver == "pci-stub" || driver == "pcieport";
}

bool SimKernelFs::IsNetDriverFor(const std::string& dir, const std::string& driver) const {
  if (IsVfioDriver(driver) || driver == "pci-stub") return false;
  auto class_code = internal::ParseHexAttr(ReadAttr(dir + "/class"));
  return class_code && (*class_code >> 16) == 0x02;
}

bool SimKernelFs::DriverLeavesSriovEnabled(const std::string& driver) const {
  // nvme: .sriov_configure = pci_sriov_configure_simple and nothing in nvme_remove() disables
  // SR-IOV (measured on the e2e test bed: "driver left SR-IOV enabled after remove").
  static constexpr std::string_view kLeaving[] = {"nvme"};
  for (auto d : kLeaving)
    if (driver == d) return true;
  const auto& extra = options_.drivers_leaving_sriov_enabled;
  return std::find(extra.begin(), extra.end(), driver) != extra.end();
}

bool SimKernelFs::DriverHasSriovConfigure(const std::string& driver) const {
  // Drivers known to have no .sriov_configure (VF drivers, non-SR-IOV hardware, stubs).
  static constexpr std::string_view kWithout[] = {
      "pci-stub", "pcieport", "igbvf", "ixgbevf",  "iavf",     "e1000e",
      "e1000",    "tg3",      "ahci",  "xhci_hcd", "ehci-pci", "snd_hda_intel"};
  for (auto d : kWithout)
    if (driver == d) return false;
  for (const auto& d : options_.drivers_without_sriov_configure)
    if (driver == d) return false;
  if (driver == "vfio-pci") {
    // drivers/vfio/pci/vfio_pci.c vfio_pci_sriov_configure(): -ENOENT unless enable_sriov=Y.
    return TrimRight(ReadAttr(paths::ModuleParam("vfio_pci", "enable_sriov"))) == "Y";
  }
  return true;
}

}  // namespace ptrec::sim
