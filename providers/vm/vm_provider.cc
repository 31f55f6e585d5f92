#include "providers/vm/vm_provider.h"

#include <algorithm>
#include <cstdio>

#include "providers/binding/binding_provider.h"
#include "providers/vm/sim_domains.h"

namespace ptrec::vm {
namespace {

bool Holds(const std::vector<VmHostdev>& list, Bdf bdf) {
  return std::any_of(list.begin(), list.end(), [&](const VmHostdev& h) { return h.source == bdf; });
}

// The opposite action, for rollback: same domain, device and definitions.
Action Inverse(const Action& done, Bdf bdf) {
  Action undo = done;
  undo.vf.reset();
  undo.device = bdf;
  undo.deps.clear();
  undo.disrupts.clear();
  bool attach = done.kind == ActionKind::kAttach;
  undo.kind = attach ? ActionKind::kDetach : ActionKind::kAttach;
  undo.phase = attach ? Phase::kDetach : Phase::kAttach;
  std::swap(undo.before, undo.after);
  undo.reason = "undo: " + done.reason;
  return undo;
}

}  // namespace

Backends::~Backends() = default;

Result<Backend*> Backends::For(const std::string& uri, const std::string& qmp) {
  std::string key = !qmp.empty() ? "qmp:" + qmp : !uri.empty() ? "uri:" + uri
                    : default_ == DefaultConnection::kSimulated ? "sim" : "uri:" + LibvirtUri(uri);
  if (auto it = open_.find(key); it != open_.end()) return it->second.get();
  std::unique_ptr<Backend> made;
  if (key == "sim") {
    made = std::make_unique<SimBackend>(fs_);
  } else {
    auto opened = !qmp.empty() ? OpenQmpBackend(qmp) : OpenLibvirtBackend(LibvirtUri(uri));
    if (!opened) return std::unexpected(opened.error());
    made = std::move(*opened);
  }
  Backend* out = made.get();
  open_.emplace(key, std::move(made));
  return out;
}

std::vector<ObservedVm> ObserveVms(const std::vector<VmSpec>& vms, const Ledger& ledger, Backends& backends) {
  std::vector<ObservedVm> out;
  auto observe = [&](const std::string& name, const std::string& uri, const std::string& qmp) {
    if (std::any_of(out.begin(), out.end(), [&](const ObservedVm& v) { return v.name == name; })) return;
    ObservedVm vm;
    std::lock_guard lock(backends.lock());
    auto backend = backends.For(uri, qmp);
    if (!backend) {
      vm.problem = backend.error().message;
    } else if (auto described = (*backend)->Describe(name)) {
      vm = std::move(*described);
    } else if (described.error().code != Code::kNotFound || !qmp.empty()) {
      vm.problem = described.error().message;  // a QMP socket that is not there is a problem, not "undefined"
    }
    vm.name = name;
    vm.uri = uri;
    vm.qmp = qmp;
    out.push_back(std::move(vm));
  };
  for (const auto& v : vms) observe(v.name, v.uri, v.qmp);
  for (const auto& h : ledger.hostdevs) observe(h.vm, h.uri, h.qmp);
  return out;
}

std::vector<VmSpec> ListDefaultDomains(Backends& backends) {
  std::lock_guard lock(backends.lock());
  auto backend = backends.For("", "");
  std::vector<VmSpec> out;
  if (!backend) return out;
  for (auto& name : (*backend)->List()) out.push_back(VmSpec{.name = std::move(name)});
  return out;
}

std::string QmpDeviceId(Bdf bdf) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "ptrec-%04x_%02x_%02x_%x", bdf.domain, bdf.bus, bdf.device, bdf.function);
  return buf;
}

Result<std::vector<Action>> VmProvider::Apply(const Action& action) {
  Bdf bdf = action.device;
  if (action.vf) {
    auto vf = binding::ResolveVf(fs_, action.vf->pf, action.vf->index);
    if (!vf) return std::unexpected(vf.error());
    bdf = *vf;
  }
  std::lock_guard lock(backends_.lock());
  auto backend = backends_.For(action.vm_uri, action.vm_qmp);
  if (!backend) return std::unexpected(backend.error());
  VmHostdev hostdev{bdf, action.managed, action.guest_address, ""};
  const bool attach = action.kind == ActionKind::kAttach;
  auto changed = attach ? (*backend)->Attach(action.vm, hostdev, action.config, action.live)
                        : (*backend)->Detach(action.vm, hostdev, action.config, action.live);
  if (!changed && !(!attach && changed.error().code == Code::kNotFound)) return std::unexpected(changed.error());

  // Verify: the domain shows the device where it was asked for, or no longer shows it.
  auto seen = (*backend)->Describe(action.vm);
  std::string wrong;
  if (!seen) {
    wrong = seen.error().message;
  } else {
    if (action.config && Holds(seen->config, bdf) != attach) wrong = "the persistent definition";
    if (action.live && Holds(seen->live, bdf) != attach) wrong += (wrong.empty() ? "" : " and ") + std::string("the live domain");
  }
  if (!wrong.empty()) {
    if (attach && changed) (void)(*backend)->Detach(action.vm, hostdev, action.config, action.live);
    return Fail(Code::kVerifyFailed, "vm " + action.vm + ": after " + (attach ? "attaching " : "detaching ") + bdf.str() +
                                         ", " + wrong + (seen ? (attach ? " does not list it" : " still lists it") : ""));
  }
  Result<void> recorded = attach ? ledger_.RecordHostdev({action.vm, action.vm_uri, action.vm_qmp, bdf, action.managed})
                                 : ledger_.ForgetHostdev(action.vm, bdf);
  if (!recorded) return std::unexpected(recorded.error());
  if (!changed) return std::vector<Action>{};  // already detached: nothing to undo
  return std::vector<Action>{Inverse(action, bdf)};
}

}  // namespace ptrec::vm
