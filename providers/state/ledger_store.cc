#include "providers/state/ledger_store.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "providers/host/sysfs_paths.h"

namespace ptrec::state {
namespace {
using nlohmann::json;
constexpr int kFormatVersion = 1;

Bdf BdfField(const json& j, const char* key) {
  auto bdf = Bdf::Parse(j.at(key).get<std::string>());
  if (!bdf) throw std::invalid_argument(std::string("bad BDF in ") + key);
  return *bdf;
}
}  // namespace

std::string LedgerToJson(const Ledger& ledger) {
  json j = {{"format_version", kFormatVersion}, {"bindings", json::array()}, {"vf_counts", json::array()}};
  for (const auto& b : ledger.bindings)
    j["bindings"].push_back({{"bdf", b.bdf.str()},
                             {"driver", b.driver},
                             {"original_driver", b.original_driver},
                             {"original_override", b.original_override},
                             {"interfaces", b.interfaces}});
  for (const auto& v : ledger.vf_counts)
    j["vf_counts"].push_back(
        {{"pf", v.pf.str()}, {"num_vfs", v.num_vfs}, {"original_num_vfs", v.original_num_vfs}});
  j["hostdevs"] = json::array();
  for (const auto& h : ledger.hostdevs)
    j["hostdevs"].push_back({{"vm", h.vm}, {"uri", h.uri}, {"qmp", h.qmp}, {"bdf", h.bdf.str()}, {"managed", h.managed}});
  return j.dump(2) + "\n";
}

Result<Ledger> LedgerFromJson(const std::string& text) {
  // nlohmann::json throws on malformed input; this is the boundary where that becomes a value.
  try {
    json j = json::parse(text);
    if (j.value("format_version", 0) != kFormatVersion)
      return Fail(Code::kInvalid, "unsupported format_version (want " + std::to_string(kFormatVersion) + ")");
    Ledger ledger;
    for (const auto& b : j.at("bindings"))
      ledger.bindings.push_back({BdfField(b, "bdf"), b.at("driver").get<std::string>(),
                                 b.at("original_driver").get<std::string>(),
                                 b.at("original_override").get<std::string>(),
                                 b.value("interfaces", std::vector<std::string>{})});
    for (const auto& v : j.at("vf_counts"))
      ledger.vf_counts.push_back(
          {BdfField(v, "pf"), v.at("num_vfs").get<int>(), v.at("original_num_vfs").get<int>()});
    if (j.contains("hostdevs"))  // absent in ledgers written before VMs were managed
      for (const auto& h : j.at("hostdevs"))
        ledger.hostdevs.push_back({h.at("vm").get<std::string>(), h.value("uri", ""), h.value("qmp", ""),
                                   BdfField(h, "bdf"), h.value("managed", false)});
    return ledger;
  } catch (const std::exception& e) {
    return Fail(Code::kInvalid, e.what());
  }
}

Result<Ledger> LoadLedger(const HostFs& fs) {
  auto text = fs.ReadFile(paths::LedgerFile());
  if (!text) {
    if (text.error().code == Code::kNotFound) return Ledger{};
    return std::unexpected(text.error());
  }
  auto ledger = LedgerFromJson(*text);
  if (!ledger) {
    return Fail(Code::kInvalid,
                fs.root() + "/" + paths::LedgerFile() + ": " + ledger.error().message +
                    ": ptrec's record of what it changed is damaged; restore it from backup or "
                    "move it away to let ptrec start afresh (it will forget what to give back)",
                paths::LedgerFile());
  }
  return ledger;
}

Result<void> SaveLedger(HostFs& fs, const Ledger& ledger) {
  return fs.WriteFileAtomic(paths::LedgerFile(), LedgerToJson(ledger));
}

}  // namespace ptrec::state

namespace ptrec::state {

Result<void> LedgerBook::RecordBinding(Bdf bdf, const std::string& driver,
                                       const std::string& found_driver,
                                       const std::string& found_override,
                                       const std::vector<std::string>& interfaces) {
  std::lock_guard lock(mu_);
  for (auto& b : ledger_.bindings) {
    if (b.bdf != bdf) continue;
    b.driver = driver;  // keep the first originals: they are what the host had before ptrec
    return Save();
  }
  ledger_.bindings.push_back({bdf, driver, found_driver, found_override, interfaces});
  return Save();
}

Result<void> LedgerBook::ForgetBinding(Bdf bdf) { return ForgetBindings({bdf}); }

Result<void> LedgerBook::ForgetBindings(const std::vector<Bdf>& bdfs) {
  std::lock_guard lock(mu_);
  auto& v = ledger_.bindings;
  size_t before = v.size();
  std::erase_if(v, [&](const Ledger::Binding& b) {
    return std::find(bdfs.begin(), bdfs.end(), b.bdf) != bdfs.end();
  });
  return v.size() == before ? Result<void>() : Save();
}

Result<void> LedgerBook::RecordVfCount(Bdf pf, int num_vfs, int found_num_vfs) {
  std::lock_guard lock(mu_);
  auto& v = ledger_.vf_counts;
  auto it = std::find_if(v.begin(), v.end(), [&](const Ledger::VfCount& c) { return c.pf == pf; });
  if (it == v.end()) {
    if (num_vfs != found_num_vfs) v.push_back({pf, num_vfs, found_num_vfs});
  } else if (num_vfs == it->original_num_vfs) {
    v.erase(it);
  } else {
    it->num_vfs = num_vfs;
  }
  return Save();
}

Result<void> LedgerBook::RecordHostdev(const Ledger::Hostdev& hostdev) {
  std::lock_guard lock(mu_);
  for (const auto& h : ledger_.hostdevs)
    if (h.vm == hostdev.vm && h.bdf == hostdev.bdf) return {};
  ledger_.hostdevs.push_back(hostdev);
  return Save();
}

Result<void> LedgerBook::ForgetHostdev(const std::string& vm, Bdf bdf) {
  std::lock_guard lock(mu_);
  size_t before = ledger_.hostdevs.size();
  std::erase_if(ledger_.hostdevs, [&](const Ledger::Hostdev& h) { return h.vm == vm && h.bdf == bdf; });
  return ledger_.hostdevs.size() == before ? Result<void>() : Save();
}

Ledger LedgerBook::ledger() const {
  std::lock_guard lock(mu_);
  return ledger_;
}

Result<void> LedgerBook::Save() { return SaveLedger(fs_, ledger_); }

}  // namespace ptrec::state
