#include "providers/sriov/sriov_provider.h"

#include <charconv>

#include "providers/host/sysfs_paths.h"
#include "providers/pci/discovery.h"

namespace ptrec::sriov {
namespace {

Result<int> ReadInt(const HostFs& fs, const std::string& path) {
  auto text = fs.ReadFile(path);
  if (!text) return std::unexpected(text.error());
  std::string_view v = TrimRight(*text);
  int n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size())
    return Fail(Code::kInvalid, path + " holds '" + std::string(v) + "', not a number", path);
  return n;
}

}  // namespace

Result<void> SriovProvider::SetCount(Bdf pf, int from, int to, bool autoprobe_off) {
  const std::string numvfs = paths::PciDeviceAttr(pf, "sriov_numvfs");
  const std::string autoprobe = paths::PciDeviceAttr(pf, "sriov_drivers_autoprobe");
  auto context = [&](Error e, const std::string& what) {
    e.message = what + " on " + pf.str() + ": " + e.message;
    return std::unexpected(e);
  };
  if (from != 0 && to != 0) {
    if (auto w = fs_.WriteAttribute(numvfs, "0"); !w) return context(w.error(), "write sriov_numvfs 0");
  }
  if (to == 0) {
    if (from == 0) return {};
    if (auto w = fs_.WriteAttribute(numvfs, "0"); !w) return context(w.error(), "write sriov_numvfs 0");
    return {};
  }
  bool turned_off = false;
  if (autoprobe_off) {
    auto on = ReadInt(fs_, autoprobe);
    if (on && *on != 0) {
      if (auto w = fs_.WriteAttribute(autoprobe, "0"); !w) return context(w.error(), "write sriov_drivers_autoprobe 0");
      turned_off = true;
    }
  }
  auto w = fs_.WriteAttribute(numvfs, std::to_string(to));
  if (turned_off) (void)fs_.WriteAttribute(autoprobe, "1");  // always restore the PF's setting
  if (!w) return context(w.error(), "write sriov_numvfs " + std::to_string(to));
  return {};
}

Result<std::vector<Action>> SriovProvider::Apply(const Action& action) {
  const Bdf pf = action.device;
  auto found = ReadInt(fs_, paths::PciDeviceAttr(pf, "sriov_numvfs"));
  if (!found) return std::unexpected(found.error());
  if (*found == action.num_vfs) return std::vector<Action>{};

  // Remember the VFs there now, and which ones someone (ptrec) pinned to a driver: rollback
  // recreates them pinned again.
  std::vector<Bdf> old_vfs;
  std::vector<std::pair<int, std::string>> pinned;
  for (int n = 0; n < *found; ++n) {
    auto link = fs_.ReadLink(paths::PciVirtfn(pf, n));
    if (!link) continue;
    auto vf = Bdf::Parse(paths::Basename(*link));
    if (!vf) continue;
    old_vfs.push_back(*vf);
    auto ov = pci::ReadDriverOverride(fs_, *vf);
    if (ov && !ov->empty()) pinned.emplace_back(n, *ov);
  }

  if (auto set = SetCount(pf, *found, action.num_vfs, action.autoprobe_off); !set) {
    auto now = ReadInt(fs_, paths::PciDeviceAttr(pf, "sriov_numvfs"));
    (void)SetCount(pf, now.value_or(0), *found, !pinned.empty());  // best effort: back to what was found
    return std::unexpected(set.error());
  }
  // Verify: the count and every virtfn link.
  auto now = ReadInt(fs_, paths::PciDeviceAttr(pf, "sriov_numvfs"));
  bool links_ok = true;
  for (int n = 0; now && n < *now && links_ok; ++n) links_ok = fs_.Exists(paths::PciVirtfn(pf, n));
  if (!now || *now != action.num_vfs || !links_ok) {
    (void)SetCount(pf, now.value_or(0), *found, !pinned.empty());
    return Fail(Code::kVerifyFailed,
                pf.str() + ": sriov_numvfs reads " + (now ? std::to_string(*now) : "nothing") + " after writing " +
                    std::to_string(action.num_vfs) + (links_ok ? "" : " (virtfn links missing)"),
                paths::PciDeviceAttr(pf, "sriov_numvfs"));
  }
  if (auto f = ledger_.ForgetBindings(old_vfs); !f) return std::unexpected(f.error());
  if (auto r = ledger_.RecordVfCount(pf, action.num_vfs, *found); !r) return std::unexpected(r.error());

  std::vector<Action> undo;
  Action back;
  back.kind = ActionKind::kSetNumVfs;
  back.phase = Phase::kVfCount;
  back.device = pf;
  back.from_num_vfs = action.num_vfs;
  back.num_vfs = *found;
  back.autoprobe_off = !pinned.empty();
  back.before = std::to_string(action.num_vfs);
  back.after = std::to_string(*found);
  back.reason = "rollback of sriov_numvfs on " + pf.str();
  undo.push_back(back);
  for (const auto& [n, driver] : pinned) {
    Action bind;
    bind.kind = ActionKind::kBind;
    bind.phase = Phase::kBind;
    bind.device = pf;
    bind.vf = VfRef{pf, n};
    bind.driver = driver;
    bind.after = driver;
    bind.reason = "rollback: VF " + std::to_string(n) + " of " + pf.str() + " back on " + driver;
    undo.push_back(bind);
  }
  return undo;
}

}  // namespace ptrec::sriov
