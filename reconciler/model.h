// The plain values that flow through ptrec, in the order they are made:
//
//   host.yaml --schema--> DesiredState        (what the user wants; selectors unresolved)
//   host root --observe--> HostState           (facts read from sysfs/procfs/files)
//   DesiredState x HostState --plan--> Plan    (ordered Actions, findings, fingerprint)
//   Plan --apply--> the host                   (through providers; each Action has an inverse)
//
// Nothing here does I/O. Every layer includes this header; none of it includes a layer.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "reconciler/pci_address.h"

namespace ptrec {

// ---------------------------------------------------------------------------------------------
// Desired state (made by schema/, from YAML)
// ---------------------------------------------------------------------------------------------

/// Where a value came from in the desired-state document, for error messages:
/// "host.yaml:12:7". line and column are 1-based; 0 means unknown.
struct SourcePos {
  std::string file;
  int line = 0;
  int column = 0;
  /// "file:line:column", or just "file" when line is 0.
  std::string str() const;
  bool operator==(const SourcePos&) const = default;
};

/// Chooses PCI functions on the host. Exactly one way is set (kind says which).
/// - kBdf: one function by address.
/// - kInterface: the PCI function behind a network interface (sys/class/net/NAME/device).
/// - kId: every function with this vendor:device, in BDF order; with index >= 0 only the
///   index-th (0-based) of those.
struct Selector {
  enum class Kind { kBdf, kInterface, kId };
  Kind kind = Kind::kBdf;
  Bdf bdf;
  std::string interface;
  PciId id;
  int index = -1;  ///< kId only: -1 selects every match
  SourcePos pos;

  /// Human form for plans and errors: "0000:03:00.0", "interface eno1", "8086:10c9 #1".
  std::string str() const;
};

/// Whether a safety check may be overridden for an entry (`force: true` in YAML).
enum class Force { kNo, kYes };

/// What to do with the other devices of a hidden device's IOMMU group.
enum class GroupPolicy {
  kStrict,   ///< refuse unless the rest of the group is already viable for VFIO (default)
  kInclude,  ///< hide the other endpoints of the group too, on the same driver
};

/// How a PF's VF count is set.
enum class SriovMethod {
  kSysfs,        ///< runtime: write sriov_numvfs (Documentation/PCI/pci-iov-howto.rst)
  kModuleParam,  ///< the driver's module parameter (igb max_vfs); see the kernel-args issue
};

/// One `hide:` entry: take the selected devices from the host, bound to \a driver.
struct HideSpec {
  Selector select;
  std::string driver = "vfio-pci";  ///< "vfio-pci" or "pci-stub"
  GroupPolicy group = GroupPolicy::kStrict;
  Force force = Force::kNo;
  SourcePos pos;
};

/// One `sriov:` entry: the selected PFs get \a num_vfs VFs; when \a vf_driver is not empty the
/// VFs are bound to it (created with sriov_drivers_autoprobe=0 so no host driver grabs them first).
struct SriovSpec {
  Selector select;
  int num_vfs = 0;
  std::string vf_driver;  ///< "" = whatever the kernel probes; else "vfio-pci" or "pci-stub"
  SriovMethod method = SriovMethod::kSysfs;
  Force force = Force::kNo;
  SourcePos pos;
};

/// One kernel command-line argument: "iommu=pt" is {key "iommu", value "pt"}, "quiet" is
/// {key "quiet", no value}. Keys compare exactly (the kernel treats '-' and '_' in parameter
/// names alike only for module parameters, Documentation/admin-guide/kernel-parameters.rst).
struct KernelArg {
  std::string key;
  std::optional<std::string> value;
  /// "key" or "key=value" (value quoted with "..." when it holds a space).
  std::string str() const;
  bool operator==(const KernelArg&) const = default;
};

/// Which bootloader configuration holds the kernel command line for the next boot.
enum class Bootloader {
  kAuto,           ///< detect: grubby with BLS entries, else /etc/kernel/cmdline, else GRUB
  kGrub,           ///< /etc/default/grub GRUB_CMDLINE_LINUX, then update-grub / grub-mkconfig
  kGrubby,         ///< grubby --update-kernel=ALL --args/--remove-args (RHEL, Fedora; BLS)
  kKernelInstall,  ///< /etc/kernel/cmdline (systemd-boot, kernel-install)
};

/// `kernelArgs:`: arguments that must be on the next boot's command line (with their values)
/// and keys that must not be. The user's other arguments and their order are kept.
struct KernelArgsSpec {
  Bootloader bootloader = Bootloader::kAuto;
  std::vector<KernelArg> present;
  std::vector<std::string> absent;  ///< keys; "quiet" removes "quiet" and any "quiet=..."
  SourcePos pos;
};

/// Whether a `modules:` entry wants the module loaded now.
enum class ModuleLoad { kUnchanged, kLoaded };

/// One `modules:` entry: options for a kernel module, written to ptrec's own modprobe.d file
/// ("options igb max_vfs=7,7"), optional softdeps, and whether it must be loaded now.
struct ModuleConfigSpec {
  std::string name;                               ///< module name, '_' form ("vfio_pci")
  std::map<std::string, std::string> parameters;  ///< name -> value as modprobe takes it
  ModuleLoad load = ModuleLoad::kUnchanged;
  std::vector<std::string> softdep_pre;   ///< "softdep NAME pre: A B" (e.g. vfio-pci first)
  std::vector<std::string> softdep_post;
  /// Reload the module now when a parameter differs from the running value, even though that
  /// disrupts every device the driver holds (the plan lists them). Otherwise: at next boot.
  bool allow_reload = false;
  SourcePos pos;
};

/// What to do with a `vms:` entry whose domain does not exist (or cannot be reached).
enum class MissingDomain {
  kRefuse,  ///< the plan refuses (default): a typo in a name should not pass silently
  kSkip,    ///< a warning; the entry is left out of the plan
};

/// One `vms[].devices` entry: a host PCI function the domain gets as a
/// <hostdev mode='subsystem' type='pci'> (libvirt formatdomain "Host device assignment").
/// With \a vf >= 0, \a select names the PF and the device is its VF number \a vf (resolved to a
/// BDF after the VF count is set).
struct VmDeviceSpec {
  Selector select;
  int vf = -1;                      ///< VF index of the selected PF; -1: the selected device itself
  bool managed = false;             ///< managed='yes': libvirt binds/unbinds it, ptrec does not
  std::optional<Bdf> guest_address; ///< <address type='pci'> in the guest; nullopt: libvirt picks
  Force force = Force::kNo;         ///< take it from the host even if in use (as hide's force)
  SourcePos pos;
  /// "0000:03:00.0" or "VF 1 of interface eno1".
  std::string str() const;
};

/// One `vms:` entry: a domain and the host devices it should have. Exactly one of \a uri and
/// \a qmp may be set; both empty means the default connection (qemu:///system on the real
/// root; simulated domain XML under a sandbox root).
struct VmSpec {
  std::string name;     ///< libvirt domain name (or a label for a QMP VM)
  std::string uri;      ///< libvirt connection URI as written; "" = default
  std::string qmp;      ///< QMP unix socket path of a QEMU run without libvirt; "" = libvirt
  bool hotplug = false; ///< also change the running domain (VIR_DOMAIN_AFFECT_LIVE / device_add)
  MissingDomain missing = MissingDomain::kRefuse;
  std::vector<VmDeviceSpec> devices;
  SourcePos pos;
};

/// A validated desired-state document (apiVersion ptrec/v1, kind HostConfig).
struct DesiredState {
  std::string source;  ///< file name the document came from ("<stdin>" for standard input)
  std::string text;    ///< the document as written, for the boot-time copy (etc/ptrec/host.yaml)
  std::string name;    ///< metadata.name, e.g. the host or group it is for; "" when absent
  std::vector<SriovSpec> sriov;
  std::vector<HideSpec> hide;
  std::optional<KernelArgsSpec> kernel_args;   ///< absent: ptrec leaves the command line alone
  std::vector<ModuleConfigSpec> modules;
  std::vector<VmSpec> vms;
};

// ---------------------------------------------------------------------------------------------
// Host state (made by providers' Observe, from files under the host root)
// ---------------------------------------------------------------------------------------------

/// SR-IOV facts of a PF (Documentation/ABI/testing/sysfs-bus-pci: sriov_*).
struct SriovFacts {
  int total_vfs = 0;            ///< sriov_totalvfs
  int num_vfs = 0;              ///< sriov_numvfs
  bool drivers_autoprobe = true;///< sriov_drivers_autoprobe
  int offset = -1;              ///< sriov_offset (routing-id offset of VF 0); -1 unknown
  int stride = -1;              ///< sriov_stride; -1 unknown
  uint16_t vf_device = 0;       ///< sriov_vf_device (device id of the VFs); 0 unknown
};

/// One PCI function as the kernel shows it under sys/bus/pci/devices/BDF.
struct PciDevice {
  Bdf bdf;
  PciId id;                     ///< vendor, device
  PciId subsystem;              ///< subsystem_vendor, subsystem_device
  uint32_t class_code = 0;      ///< class, e.g. 0x020000 (Ethernet controller)
  uint8_t header_type = 0;      ///< config byte 0x0e & 0x7f: 0 endpoint, 1 PCI bridge, 2 CardBus
  std::string driver;           ///< name of the `driver` link target; "" = no driver bound
  std::string driver_override;  ///< "" when sysfs reads "(null)"
  int iommu_group = -1;         ///< -1 = no `iommu_group` link (no IOMMU, or not translated)
  int numa_node = -1;           ///< -1 = no NUMA affinity
  std::string sysfs_dir;        ///< canonical dir relative to root, "sys/devices/pci0000:00/..."
  std::optional<Bdf> parent;    ///< upstream PCI function (bridge/port); nullopt under a root bus
  std::optional<SriovFacts> sriov;  ///< set when the function is an SR-IOV PF
  std::optional<Bdf> physfn;    ///< set when the function is a VF: its PF
  int vf_index = -1;            ///< VF number n (the PF's virtfn<n>); -1 for non-VFs
  std::vector<Bdf> vfs;         ///< a PF's existing VFs, index order
  std::vector<std::string> net_interfaces;  ///< names under .../net/
  std::vector<std::string> block_devices;   ///< disks this function carries, e.g. "sda", or a
                                            ///< multipath NVMe head "nvme0n1" and its hidden
                                            ///< per-controller path "nvme0c0n1"
  bool msi = false;             ///< MSI capability (id 0x05) in config space
  bool msix = false;            ///< MSI-X capability (id 0x11) in config space
  bool config_read = false;     ///< false when `config` was unreadable: msi/msix unknown

  /// True for PCI-to-PCI bridges and PCIe ports (header type 1, or class 0x0604xx).
  bool is_bridge() const { return header_type == 1 || (class_code >> 8) == 0x0604; }
  bool is_pf() const { return sriov.has_value(); }
  bool is_vf() const { return physfn.has_value(); }
};

/// A network interface backed by a PCI function (sys/class/net/NAME/device).
struct NetInterface {
  std::string name;
  std::optional<Bdf> bdf;       ///< nullopt for virtual interfaces (lo, bridges, ...)
  bool up = false;              ///< operstate "up", or IFF_UP in `flags`; read only for
                                ///< interfaces with an address (false otherwise)
  bool has_address = false;     ///< a connected IPv4 route (proc/net/route) or global IPv6 address
  bool default_route = false;   ///< carries a default route (proc/net/route or ipv6_route)
};

/// Something on the host that would break if \a bdf left its driver.
struct DeviceUsage {
  Bdf bdf;
  std::string what;  ///< "carries the default route (eno1)", "/ is mounted from nvme0n1p2"
};

/// What ptrec changed before and may undo when the desired state no longer asks for it.
/// Kept under the host root in var/lib/ptrec/state.json.
struct Ledger {
  struct Binding {
    Bdf bdf;
    std::string driver;             ///< the driver ptrec bound it to
    std::string original_driver;    ///< "" = was unbound
    std::string original_override;  ///< "" = was (null)
    /// Network interfaces it had before ptrec took it: they vanish with the host driver, and
    /// `interface:` selectors still have to find the device afterwards.
    std::vector<std::string> interfaces;
  };
  struct VfCount {
    Bdf pf;
    int num_vfs = 0;                ///< the count ptrec set
    int original_num_vfs = 0;
  };
  /// A hostdev ptrec attached to a domain, so a later plan may detach it.
  struct Hostdev {
    std::string vm;        ///< domain name
    std::string uri;       ///< the VmSpec's uri as planned ("" = default)
    std::string qmp;       ///< the VmSpec's QMP socket ("" = libvirt)
    Bdf bdf;
    bool managed = false;
  };
  std::vector<Binding> bindings;
  std::vector<VfCount> vf_counts;
  std::vector<Hostdev> hostdevs;

  const Binding* FindBinding(Bdf bdf) const;
  /// The hostdev entry for \a bdf in domain \a vm, or nullptr.
  const Hostdev* FindHostdev(const std::string& vm, Bdf bdf) const;
  const VfCount* FindVfCount(Bdf pf) const;
};

/// One PCI hostdev of a domain as observed (libvirt: <hostdev mode='subsystem' type='pci'>;
/// QMP: a vfio-pci device under /machine/peripheral).
struct VmHostdev {
  Bdf source;                       ///< host BDF
  bool managed = false;             ///< managed='yes'
  std::optional<Bdf> guest_address; ///< guest PCI address, when the XML gives one
  std::string alias;                ///< live alias ("hostdev0") or QMP device id; "" unknown
};

/// A domain the desired state (or the ledger) names, as its backend describes it.
struct ObservedVm {
  std::string name;
  std::string uri;          ///< as in the VmSpec / ledger ("" = default)
  std::string qmp;
  bool exists = false;      ///< the domain is defined (libvirt) / the socket answers (QMP)
  bool running = false;     ///< virDomainIsActive; QMP: always true when it answers
  bool has_config = true;   ///< false for QMP VMs: there is no persistent definition
  std::vector<VmHostdev> config;  ///< persistent definition (VIR_DOMAIN_XML_INACTIVE)
  std::vector<VmHostdev> live;    ///< running domain; empty when not running
  std::string problem;      ///< why it could not be described ("" when fine or just missing)
};

/// The bootloader configuration that sets the next boot's kernel command line.
struct BootConfig {
  enum class Kind { kNone, kGrub, kGrubby, kKernelInstall };
  Kind kind = Kind::kNone;          ///< kNone: nothing found that ptrec can edit
  std::string file;                 ///< the file ptrec edits, relative to the root
  std::string text;                 ///< its contents as read
  std::vector<KernelArg> configured;  ///< arguments it gives the next boot
  /// argvs run after an edit, in order ({"update-grub"}; `kernel-install add` per kernel); may be empty
  std::vector<std::vector<std::string>> regenerate;
  std::string problem;              ///< why it cannot be edited safely; "" when it can
  std::string seed;                 ///< kKernelInstall without the file: what a new one starts from
};

/// Everything discovery learnt about a host. Devices are sorted by BDF.
struct HostState {
  std::string root = "/";  ///< the host root it was read from
  std::vector<PciDevice> devices;
  std::map<int, std::vector<Bdf>> iommu_groups;  ///< from sys/kernel/iommu_groups/N/devices
  bool iommu_active = false;        ///< any IOMMU group or sys/class/iommu entry exists
  std::vector<std::string> iommu_units;  ///< names under sys/class/iommu ("dmar0")
  /// Interrupt remapping: true/false when known (Intel: every dmar unit's ECAP bit 3, and no
  /// intremap=off / nointremap on the command line), nullopt when unknown (AMD, no IOMMU).
  std::optional<bool> interrupt_remapping;
  /// vfio_iommu_type1's allow_unsafe_interrupts ("Y"/"N"); "" when not loaded or unreadable.
  std::string allow_unsafe_interrupts;
  std::string cmdline;              ///< proc/cmdline, without the trailing newline
  std::string kernel_release;       ///< proc/sys/kernel/osrelease; "" unknown
  std::set<std::string> loaded_drivers;     ///< sys/bus/pci/drivers/*
  std::set<std::string> loaded_modules;     ///< sys/module/* (names use '_')
  std::set<std::string> available_modules;  ///< modules.dep + modules.builtin, names use '_'
  std::vector<NetInterface> net_interfaces;
  std::vector<DeviceUsage> usages;
  Ledger ledger;
  std::vector<KernelArg> running_args;  ///< proc/cmdline, parsed (lib/cmdline.c rules)
  BootConfig boot;                      ///< read only when the desired state has kernelArgs
  /// Running module parameters, sys/module/NAME/parameters/PARAM, for the modules the desired
  /// state configures: module -> param -> value (trailing newline dropped).
  std::map<std::string, std::map<std::string, std::string>> module_params;
  /// Current contents of the files ptrec owns (modprobe.d, udev rules, systemd unit, the
  /// desired-state copy), by path relative to the root; absent files are not in the map.
  std::map<std::string, std::string> owned_files;
  /// Domains named by the desired state's vms and by the ledger's hostdevs, by name.
  std::vector<ObservedVm> vms;

  /// The observed domain named \a name, or nullptr.
  const ObservedVm* FindVm(const std::string& name) const;
  /// The device at \a bdf, or nullptr. O(1).
  const PciDevice* Find(Bdf bdf) const;
  /// Rebuilds the BDF index; call after changing `devices`.
  void Reindex();
  /// A stable hash (hex) of every fact a plan depends on; equal states give equal strings.
  std::string Fingerprint() const;

 private:
  std::unordered_map<Bdf, size_t> index_;
};

// ---------------------------------------------------------------------------------------------
// Plans
// ---------------------------------------------------------------------------------------------

/// What an action changes. Each kind is applied by exactly one provider.
enum class ActionKind {
  kEditBootloader,  ///< edit the bootloader config so the next boot gets the kernel arguments
  kWriteFile,   ///< write (or remove) a file ptrec owns, then run its follow-up commands
  kLoadModule,  ///< modprobe a driver's module (only on the real root)
  kReloadModule,  ///< `modprobe -r` + `modprobe` with new parameters (argvs); disrupts its devices
  kSetNumVfs,   ///< write sriov_numvfs (through 0 when both counts are non-zero)
  kBind,        ///< driver_override + unbind + drivers_probe: move a device to `driver`
  kRelease,     ///< give a device back: restore driver_override and the original driver
  kAttach,      ///< add a PCI hostdev to a domain (config and/or live)
  kDetach,      ///< remove a PCI hostdev from a domain (config and/or live)
};

/// Every ActionKind, in declaration order: for plan-file parsing and per-kind metrics, so a new
/// kind is added in one place.
inline constexpr ActionKind kActionKinds[] = {
    ActionKind::kEditBootloader, ActionKind::kWriteFile, ActionKind::kLoadModule,
    ActionKind::kReloadModule,   ActionKind::kSetNumVfs, ActionKind::kBind,
    ActionKind::kRelease,        ActionKind::kAttach,    ActionKind::kDetach,
};

/// Phases keep the order safe. Set-up runs boot configuration (bootloader, owned files) ->
/// modules -> VF counts -> binding -> attach to VMs; tear-down (detach from VMs, then release)
/// runs before VF counts change, so a device is never moved while its PF changes or a VM
/// still holds it.
enum class Phase { kBoot = 0, kModules = 1, kDetach = 2, kRelease = 3, kVfCount = 4, kBind = 5, kAttach = 6 };

/// A VF named by its PF and index, for VFs that do not exist yet when the plan is made.
struct VfRef {
  Bdf pf;
  int index = 0;
};

/// One step of a plan. Plain data: it serialises to the plan file and back.
struct Action {
  int id = 0;                  ///< position in Plan::actions
  ActionKind kind = ActionKind::kBind;
  Phase phase = Phase::kBind;
  Bdf device;                  ///< the function changed (the PF for kSetNumVfs)
  std::optional<VfRef> vf;     ///< set when `device` is a VF that the plan creates first;
                               ///< `device` then holds the predicted BDF (or the PF's if unknown)
  std::string before;          ///< e.g. "igb", "(none)", "0"
  std::string after;           ///< e.g. "vfio-pci", "4"
  std::string reason;          ///< why: "hide: host.yaml:7:5 asks for vfio-pci"
  std::vector<int> deps;       ///< ids of actions that must complete first
  std::vector<std::string> disrupts;  ///< what stops working: "interface eno1 goes away"
  bool reboot_required = false;

  // Kind-specific parameters.
  std::string driver;          ///< kBind: target; kRelease: driver to restore ("" = none)
  std::string driver_override; ///< kRelease: override to restore ("" = clear)
  int num_vfs = 0;             ///< kSetNumVfs: target count
  int from_num_vfs = 0;        ///< kSetNumVfs: count when planned
  bool autoprobe_off = false;  ///< kSetNumVfs: create VFs with sriov_drivers_autoprobe=0
  std::string module;          ///< kLoadModule, kReloadModule
  std::string path;            ///< kEditBootloader, kWriteFile: file relative to the root
  std::string content;         ///< kEditBootloader, kWriteFile: new contents
  std::string expected;        ///< kEditBootloader: the contents the plan was made from; apply
                               ///< refuses (kStale) when the file changed since
  bool remove = false;         ///< kWriteFile: remove the file instead
  std::vector<std::string> commands;  ///< argv joined by ' ' (display) of follow-up commands
  std::vector<std::vector<std::string>> argvs;  ///< the same commands as argv, to run
  std::string vm;              ///< kAttach, kDetach: domain name
  std::string vm_uri;          ///< kAttach, kDetach: libvirt URI as written ("" = default)
  std::string vm_qmp;          ///< kAttach, kDetach: QMP socket ("" = libvirt)
  bool config = false;         ///< kAttach, kDetach: change the persistent definition
  bool live = false;           ///< kAttach, kDetach: change the running domain
  bool managed = false;        ///< kAttach, kDetach: managed='yes'
  std::optional<Bdf> guest_address;  ///< kAttach: guest PCI address

  /// '+' creates/takes, '~' changes in place, '-' removes/gives back (Terraform style).
  char symbol() const;
  /// "0000:03:10.0" or, for a VF not created yet, "VF 2 of 0000:03:00.0 (0000:03:10.4)".
  std::string subject() const;
};

/// A warning or a refusal attached to a plan.
struct Finding {
  enum class Severity { kWarning, kRefusal };
  Severity severity = Severity::kWarning;
  std::string subject;  ///< device or entry: "0000:03:00.0", "hide[1]"
  std::string message;  ///< what is wrong
  std::string hint;     ///< what to do about it
  SourcePos pos;        ///< the YAML entry that led here, if any
};

/// What must be re-established at every boot, as the planner resolved it: the input of the
/// persistence provider (udev rules that set driver_override and VF counts as devices appear,
/// a boot unit that runs ptrec apply). Sorted by BDF.
struct PersistSpec {
  struct Override {
    Bdf bdf;
    std::string driver;
  };
  struct VfCount {
    Bdf pf;
    int num_vfs = 0;
    bool autoprobe_off = false;  ///< the VFs go to a ptrec-chosen driver
  };
  /// A PF whose VF count is its driver's module parameter (method: module-param): the
  /// driver's max_vfs list, one value per PF it drives in BDF order (igb max_vfs=7,7).
  struct ModuleParamVfs {
    Bdf pf;
    std::string driver;
    int num_vfs = 0;
  };
  std::vector<Override> overrides;
  std::vector<VfCount> vf_counts;
  std::vector<ModuleParamVfs> module_param_vfs;
  bool empty() const { return overrides.empty() && vf_counts.empty(); }
};

/// An ordered, checked plan. Empty actions and no refusal = the host matches.
struct Plan {
  std::string root;
  std::string fingerprint;  ///< HostState::Fingerprint() of the state it was made from
  std::vector<Action> actions;
  std::vector<Finding> findings;
  PersistSpec persist;  ///< runtime state to re-establish at boot (see providers/persist)

  /// The domains the plan was made against (name, uri, qmp only): `ptrec apply PLANFILE`
  /// describes them again to check the plan is not stale.
  std::vector<VmSpec> vms;

  /// Changes already configured for the next boot but not running (kernel arguments,
  /// module options): each says what differs. The host needs a reboot even with no action.
  std::vector<std::string> pending_reboot;

  bool refused() const;
  bool has_changes() const { return !actions.empty(); }
  /// Any action needs a reboot, or something configured is not running yet.
  bool reboot_required() const;
};

/// The kernel module name for a driver or module file name: '-' read as '_', as kmod compares
/// them ("vfio-pci" -> "vfio_pci"). Module names in sys/module always use '_'.
std::string ModuleName(std::string_view name);

/// The module file name in a modules.dep or modules.builtin path, without directory or .ko*
/// suffix: "kernel/drivers/vfio/pci/vfio-pci.ko.xz" -> "vfio-pci" (a module's PCI driver is
/// usually named like its file).
std::string_view ModuleFileName(std::string_view path);

const char* ActionKindName(ActionKind kind);  ///< "load_module", "set_num_vfs", "bind", "release", "attach", "detach"
const char* PhaseName(Phase phase);            ///< "modules", "detach", "release", "vf_count", "bind", "attach"

}  // namespace ptrec
