// The simulated kernel: a HostFs over a host-root directory (one made by BuildHost, or a copied
// snapshot) whose sysfs writes get the reactions and errno values of the Linux kernel (6.1),
// so `ptrec apply --simulate` and the apply tests exercise the same write sequences as a real
// host. Reads pass straight through to the tree; the tree is the whole state (plus
// <root>/.ptrec-sim/ for what sysfs does not show), so separate processes see one host.
//
// Modelled writes (anything else under sys/ fails with EACCES, never silently succeeds):
//
//   devices/BDF/driver_override   drivers/pci/pci-sysfs.c driver_override_store ->
//                                 drivers/base/driver.c driver_set_override
//   devices/BDF/sriov_numvfs      drivers/pci/iov.c sriov_numvfs_store, sriov_enable/disable
//   devices/BDF/sriov_drivers_autoprobe   iov.c sriov_drivers_autoprobe_store (kstrtobool)
//   drivers/D/bind, drivers/D/unbind      drivers/base/bus.c bind_store / unbind_store
//   drivers/D/new_id, remove_id   drivers/pci/pci-driver.c new_id_store / remove_id_store
//   drivers_probe                 bus.c drivers_probe_store -> bus_rescan_devices_helper
//   drivers_autoprobe, rescan     bus.c drivers_autoprobe_store; pci-sysfs.c rescan_store
//
// A write reaches these through any path that resolves to the attribute: the
// sys/bus/pci/devices/BDF link, the canonical sys/devices/... directory, or the `driver` link
// (devices/BDF/driver/unbind is drivers/D/unbind).
//
// Probing a driver D for device X (bind, drivers_probe, VF autoprobe), as drivers/base/dd.c
// really_probe() and drivers/pci/pci-driver.c pci_device_probe() do:
//   - match (pci_match_device): driver_override set -> only D == override matches; unset ->
//     D's dynamic ids (new_id) or its module's aliases in lib/modules/RELEASE/modules.alias
//     (and modules.builtin.alias) match X's modalias, by fnmatch as modprobe does;
//   - a VF of a PF with sriov_drivers_autoprobe 0 and no override -> ENODEV
//     (pci_device_can_probe);
//   - a driver that lets the kernel manage DMA (all but vfio-*, pci-stub, pcieport: their
//     driver_managed_dma) on a device whose IOMMU group a user owns
//     (SimOptions::user_owned_iommu_groups) -> EBUSY (pci_dma_configure ->
//     iommu_device_use_default_domain);
//   - vfio-pci: EINVAL for a bridge (vfio_pci_core_register_device: hdr_type) or a device without
//     iommu_group (vfio_group_find_or_alloc, no IOMMU), EBUSY for a PF with VFs enabled;
//   - an injected fault for D -> that errno;
//   - success: DIR/driver and drivers/D/BDF links, `enable`, dev/vfio/N for vfio drivers, and the
//     net/block children the driver had made before it was unbound come back. A network driver
//     (class 0x02xxxx, not vfio-*/pci-stub) with nothing to bring back registers a new
//     interface, down: "ethN" with the lowest free N (the kernel's dev_alloc_name("eth%d"), as
//     on a host without udev renaming or with net.ifnames=0), or the udev path name
//     "enpBsS[fF]" when the host's other interfaces have predictable names. A restored "ethN"
//     takes the lowest free ethN again, so NICs given back in another order swap names as
//     they do on the real kernel; other names (udev's) are kept.
//
// Unbinding a PF with VFs enabled (device_release_driver -> the driver's remove()): the VFs go
// with it unless the driver leaves SR-IOV enabled (nvme, SimOptions::drivers_leaving_sriov_enabled);
// then they stay and the kernel warns "driver left SR-IOV enabled after remove".
// A driver is present only while sys/bus/pci/drivers/D exists: nothing modprobes.
//
// Thread-safe: one mutex serialises kernel state; latencies are slept after it is released so
// writes to different PFs overlap. Refuses every write when the root is a live sysfs.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "providers/host/host_fs.h"
#include "providers/simkernel/sim_options.h"
#include "reconciler/pci_address.h"

namespace ptrec::sim {

namespace internal {
class TreeWriter;
}

/// One write that reached SimKernelFs, with its outcome.
struct WriteRecord {
  std::string path;   ///< as given, relative to the root
  std::string data;   ///< bytes written (empty for RemoveFile)
  int sys_errno = 0;  ///< 0 = success, else the errno returned
  bool operator==(const WriteRecord&) const = default;
};

/// HostFs whose sysfs writes behave as the kernel's (see the file comment).
class SimKernelFs : public HostFs {
 public:
  /// Opens the simulated host at \a root: reads <root>/.ptrec-sim.yaml when present.
  /// Errors: kNotFound (no root/sys), kRefused (root is a live sysfs), kInvalid (bad options).
  static Result<std::unique_ptr<SimKernelFs>> Open(const std::string& root);

  /// Without reading .ptrec-sim.yaml. Every write is refused (kRefused) if \a root is a live sysfs.
  SimKernelFs(std::string root, SimOptions options);
  ~SimKernelFs() override;

  // HostFs. Reads pass through to the tree.
  const std::string& root() const override { return real_.root(); }
  Result<std::string> ReadFile(const std::string& path) const override;
  Result<std::string> ReadAttribute(const std::string& path) const override;
  Result<std::string> ReadLink(const std::string& path) const override;
  Result<std::vector<std::string>> ListDir(const std::string& path) const override;
  bool Exists(const std::string& path) const override;
  /// sys/...: the kernel's reaction or errno (file comment); other sys/, proc/, dev/ paths:
  /// EACCES "simulated kernel does not model writes to PATH"; a missing attribute: ENOENT
  /// (open(2) without O_CREAT). Elsewhere (etc/, var/lib/ptrec/): written to the tree.
  /// Errors carry Error::sys_errno and a message as RealHostFs writes it ("write PATH: ...").
  Result<void> WriteAttribute(const std::string& path, std::string_view data) override;
  /// Passes through, except under sys/, proc/, dev/: EACCES.
  Result<void> WriteFileAtomic(const std::string& path, std::string_view data,
                               unsigned mode = 0644) override;
  /// Passes through, except under sys/, proc/, dev/: EACCES.
  Result<void> RemoveFile(const std::string& path) override;
  /// Passes through, except under sys/, proc/, dev/: EACCES.
  Result<void> AppendFile(const std::string& path, std::string_view data) override;

  /// Makes matching events fail with \a err: a driver name fails that driver's probes, a path
  /// suffix (whole components) fails writes to it (see FaultSpec). The first \a after_n_ok
  /// matching events succeed; then it fires \a times times (-1 = always).
  void InjectFault(std::string path_suffix_or_driver, int err, int after_n_ok = 0, int times = -1);
  /// Drops every fault, including those from .ptrec-sim.yaml.
  void ClearFaults();

  /// Creates \a num_vfs VFs of \a pf as a PF driver's pci_enable_sriov() does at probe time
  /// (igb max_vfs=N), skipping sriov_numvfs_store's checks on the bound driver; VFs are probed
  /// when sriov_drivers_autoprobe is 1. Used by BuildHost for boot-time VFs.
  /// Errors: kNotFound (no such PF or no SR-IOV), kInvalid (> sriov_totalvfs), kBusy (VFs
  /// already enabled), kIo (EEXIST when a VF address is taken, ENOMEM beyond bus 255).
  Result<void> EnableSriov(Bdf pf, int num_vfs);

  /// What `modprobe MODULE` does to sysfs: finds MODULE (names use '_') in
  /// lib/modules/RELEASE/modules.dep, registers its PCI driver (named after the .ko file,
  /// "vfio-pci.ko" -> vfio-pci) with sys/module/MODULE and sys/bus/pci/drivers/DRIVER, then
  /// probes every unbound device the driver matches (drivers/base/dd.c driver_attach).
  /// Loaded or built-in already: success, no change. Dependencies are not modelled.
  /// Errors: kNotFound ("Module M not found in directory /lib/modules/R", as modprobe says),
  /// kRefused on a live sysfs.
  Result<void> LoadModule(const std::string& module);
  /// `modprobe MODULE P=V...`: as LoadModule, and before the driver probes anything, writes
  /// sys/module/MODULE/parameters/P for each given parameter and for each file the module
  /// showed before it was last unloaded here, as load_module() creates them from the module's
  /// parameter list. Approximation: a parameter not given keeps its value from before the
  /// unload; the kernel would give it its default or modprobe.d's value (ptrec's reloads pass
  /// every parameter they change on the command line, so the two agree on those).
  Result<void> LoadModule(const std::string& module, const std::map<std::string, std::string>& params);
  /// What `modprobe -r MODULE` does (kernel/module/main.c delete_module, then
  /// driver_unregister): refuses a built-in module ("Module M is builtin"), one not loaded
  /// ("Module M is not currently loaded") and one in use (refcnt > 0 or holders: "Module M is
  /// in use", kBusy); else unbinds every device from each PCI driver the module registered
  /// (device_release_driver, as Unbind), removes sys/bus/pci/drivers/DRIVER and
  /// sys/module/MODULE, and keeps the parameter values for the next LoadModule.
  Result<void> UnloadModule(const std::string& module);

  /// Every write so far, in order. Not synchronised: read it when no write is in flight.
  const std::vector<WriteRecord>& writes() const { return writes_; }
  /// What the kernel would have logged (dmesg-like lines: "pci 0000:03:00.0: ..."), in order.
  /// Not synchronised either.
  const std::vector<std::string>& kernel_log() const { return log_; }
  const SimOptions& options() const { return options_; }

 private:
  struct Ctx;  // per-write effects: sleep to do after unlocking

  /// A dynamic id added through new_id (drivers/pci/pci-driver.c struct pci_dynid).
  struct DynId {
    std::string driver;
    uint32_t vendor = 0, device = 0, subvendor = 0, subdevice = 0, class_code = 0, class_mask = 0;
  };
  struct Fault {
    FaultSpec spec;
    int seen = 0;   ///< matching events so far
    int fired = 0;  ///< failures returned so far
  };

  Result<void> Dispatch(const std::string& path, std::string_view data, Ctx& ctx);
  int DeviceAttr(Bdf bdf, const std::string& dir, std::string_view attr, std::string_view data,
                 Ctx& ctx);
  int DriverAttr(const std::string& driver, std::string_view attr, std::string_view data, Ctx& ctx);
  int BusAttr(std::string_view attr, std::string_view data, Ctx& ctx);

  int WriteDriverOverride(const std::string& dir, std::string_view data);
  int WriteNumVfs(Bdf pf, const std::string& dir, std::string_view data, Ctx& ctx);
  int WriteAutoprobe(const std::string& dir, std::string_view data);
  int NewId(const std::string& driver, std::string_view data, Ctx& ctx);
  int RemoveId(const std::string& driver, std::string_view data);

  // The methods below run with mu_ held and return 0 or a positive errno.

  /// bus_rescan_devices_helper(): nothing when bound; else the override driver alone, or every
  /// matching loaded driver in turn until one probes. Failures of the drivers' probe() are
  /// swallowed (really_probe returns them positive and the next driver tries); a failure before
  /// probe() (the DMA-ownership check) stops the walk and drivers_probe_store answers EINVAL,
  /// as the e2e bed measured. Returns 0 or EINVAL.
  int Attach(Bdf bdf, const std::string& dir, Ctx& ctx);
  /// __driver_probe_device() + really_probe() + pci_device_probe() + the driver's probe (file
  /// comment): EBUSY when bound, ENODEV when not loaded or a VF that may not autoprobe, EBUSY
  /// for a user-owned group (then *\a before_probe is set: really_probe failed before calling
  /// the driver, and logs nothing), vfio-pci's refusals, injected faults; on success the links,
  /// `enable`, dev/vfio/N and restored or new children.
  int Probe(Bdf bdf, const std::string& dir, const std::string& driver, Ctx& ctx,
            bool* before_probe = nullptr);
  /// device_release_driver(): the PF's VFs go first (unless DriverLeavesSriovEnabled), then
  /// the driver's children, the links, `enable`, and the VFIO group when it was the group's
  /// last vfio device.
  void Unbind(Bdf bdf, const std::string& dir, const std::string& driver, Ctx& ctx);
  /// The ids pci_match_one_device() compares, read once from a device's attributes.
  struct DeviceIds {
    uint32_t vendor = 0, device = 0, subvendor = 0, subdevice = 0, class_code = 0;
    std::string modalias;  ///< "pci:v00008086d000010C9sv...", matched against aliases
  };
  DeviceIds ReadIds(const std::string& dir) const;
  /// pci_match_device() without driver_override: \a driver's dynamic ids or static ids.
  bool MatchesIds(const DeviceIds& ids, const std::string& driver);
  /// pci_match_device() with the device's driver_override.
  bool Matches(const std::string& dir, const std::string& driver);
  /// Drivers registered by modules whose aliases match \a ids (whether loaded or not).
  std::vector<std::string> AliasDrivers(const DeviceIds& ids);
  /// Loaded drivers that match \a ids: dynamic ids first, then aliases.
  std::vector<std::string> CandidateDrivers(const DeviceIds& ids);

  int CreateVfs(Bdf pf, const std::string& dir, int num_vfs, Ctx& ctx);
  void RemoveVfs(Bdf pf, const std::string& dir, Ctx& ctx);

  /// Canonical device dir of \a bdf ("sys/devices/..."), or "" when no such device.
  std::string DeviceDir(Bdf bdf) const;
  std::string CurrentDriver(const std::string& dir) const;
  std::string Override(const std::string& dir) const;
  int IommuGroupOf(const std::string& dir) const;
  std::string ReadAttr(const std::string& path) const;  ///< contents, or "" when unreadable
  bool DriverHasSriovConfigure(const std::string& driver) const;
  /// The driver's remove() keeps the PF's VFs (nvme; SimOptions::drivers_leaving_sriov_enabled).
  bool DriverLeavesSriovEnabled(const std::string& driver) const;
  bool IsVfioDriver(const std::string& driver) const;
  /// struct device_driver.driver_managed_dma: vfio-* (vfio_pci_core), pci-stub, pcieport. Every
  /// other driver needs the group's default DMA domain.
  bool DriverManagesDma(const std::string& driver) const;
  /// A network driver registers a net_device in probe: class 0x02xxxx, not vfio-*/pci-stub.
  bool IsNetDriverFor(const std::string& dir, const std::string& driver) const;

  /// errno of the first firing fault matching \a key_paths (path suffix) or 0.
  int PathFault(const std::vector<std::string>& key_paths);
  int DriverFault(const std::string& driver);

  /// Moves what \a driver registered for the device (net/, nvme/, ataN/, NVMe subsystems),
  /// the class links into it and its interfaces' proc/net lines to
  /// <root>/.ptrec-sim/unbound/BDF, as the driver's remove() makes them disappear.
  void StashChildren(Bdf bdf, const std::string& dir, const std::string& driver);
  /// Puts them back when the same driver probes the device again; "ethN" interfaces take the
  /// lowest free ethN (see the file comment). Returns false when nothing was stashed for it.
  bool RestoreChildren(Bdf bdf, const std::string& dir, const std::string& driver);
  /// register_netdev() of a network driver's probe: a new interface under DIR/net, down.
  void CreateNetInterface(Bdf bdf, const std::string& dir, const std::string& driver);
  /// Names in sys/class/net and the highest ifindex, scanned once and then kept up to date by
  /// CreateNetInterface (boot-time VFs of thousands of PFs stay linear); StashChildren and
  /// RestoreChildren drop the cache.
  const std::set<std::string>& NetInterfaceNames();
  void LoadAliases();
  void LoadDynIds();
  void SaveDynIds();
  void Log(std::string line);

  RealHostFs real_;
  std::unique_ptr<internal::TreeWriter> tree_;
  std::string canonical_root_;  ///< realpath of the root, for resolving written paths
  bool live_ = false;           ///< root is a mounted sysfs: refuse every write
  SimOptions options_;

  std::mutex mu_;
  struct Alias {
    std::string pattern;  ///< "pci:v00008086d000010C9sv*sd*bc*sc*i*"
    std::string module;
  };
  std::vector<Alias> aliases_;  ///< modules.alias then modules.builtin.alias, file order
  bool aliases_loaded_ = false;
  int max_group_ = -2;         ///< highest IOMMU group seen, -2 = not scanned yet (see CreateVfs)
  bool net_scanned_ = false;   ///< net_names_ and max_ifindex_ are valid
  std::set<std::string> net_names_;
  int max_ifindex_ = 1;
  int next_eth_ = 0;           ///< every ethN below this is taken (valid while net_scanned_)
  std::vector<DynId> dynids_;  ///< persisted in <root>/.ptrec-sim/dynids
  std::vector<Fault> faults_;
  std::vector<WriteRecord> writes_;
  std::vector<std::string> log_;
  /// Parameter values of modules unloaded here (UnloadModule), restored by LoadModule.
  std::map<std::string, std::map<std::string, std::string>> unloaded_params_;
};

}  // namespace ptrec::sim
