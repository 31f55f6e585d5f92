#!/bin/sh
# e2e-reference: guest-sysfs.txt
#
# sysfs-dump: NOT a test of ptrec.  Captures what a real 6.1 kernel shows in
# sysfs for the e2e topology, before and after SR-IOV / driver_override /
# unbind / drivers_probe writes, recording every write's exit status and error
# text.  The host copies the whole console log to
# tests/e2e/reference/guest-sysfs.txt (the team's ground truth).
#
# Output conventions:
#   ##### SECTION              section header
#   $ cmd                      command whose output follows
#   + echo 'V' > FILE          a write; followed by "-> exit N[: message]"
#   kmsg: ...                  kernel log lines produced since the last step
# Always exits 0 unless the tooling itself is broken: it is a recording.

D=/sys/bus/pci/devices
ATTRS="vendor device subsystem_vendor subsystem_device class revision
 driver_override numa_node local_cpulist irq enable broken_parity_status
 msi_bus d3cold_allowed power_state reset_method
 current_link_speed current_link_width max_link_speed max_link_width
 secondary_bus_number subordinate_bus_number
 sriov_totalvfs sriov_numvfs sriov_offset sriov_stride sriov_vf_device
 sriov_drivers_autoprobe sriov_vf_total_msix sriov_vf_msix_count"
LINKS="driver iommu_group iommu physfn subsystem firmware_node"

sec() { echo; echo "##### $*   [uptime $(cut -d" " -f1 /proc/uptime)]"; }
run() { echo "\$ $*"; "$@" 2>&1; rc=$?; [ $rc -eq 0 ] || echo "-> exit $rc"; }
kmsg() { dmesg -c 2>/dev/null | sed 's/^/kmsg: /'; }

# write VALUE FILE: performs `echo VALUE > FILE` in a subshell, reports status.
write() {
    echo "+ echo '$1' > $2"
    ( echo "$1" > "$2" ) 2>/tmp/werr
    rc=$?
    if [ $rc -eq 0 ]; then echo "-> exit 0"; else echo "-> exit $rc: $(cat /tmp/werr)"; fi
    sleep 0.1
    kmsg
    return $rc
}

show_attr() {   # show_attr FILE
    if [ -e "$1" ]; then
        v=$(cat "$1" 2>/tmp/rerr); rc=$?
        if [ $rc -eq 0 ]; then echo "$(basename "$1") = '$v'"
        else echo "$(basename "$1") = <read error exit $rc: $(cat /tmp/rerr)>"; fi
    fi
}

show_link() {   # show_link PATH
    if [ -L "$1" ]; then
        echo "$(basename "$1") -> $(readlink "$1")   [resolves to $(readlink -f "$1")]"
    fi
}

dump_dev() {
    d=$1; p=$D/$d
    echo
    echo "=== PCI $d"
    echo "readlink -f: $(readlink -f $p)"
    echo "\$ ls -la $p/"
    ls -la $p/ 2>&1
    for a in $ATTRS; do show_attr $p/$a; done
    for l in $LINKS; do show_link $p/$l; done
    for l in $p/virtfn*; do show_link $l; done
    [ -d $p/link ] && { echo "\$ ls -la $p/link/"; ls -la $p/link/; }
    for sub in net nvme; do [ -d $p/$sub ] && echo "$sub/: $(ls $p/$sub | tr '\n' ' ')"; done
    if [ -L $p/iommu_group ]; then
        echo "iommu_group members: $(ls $p/iommu_group/devices | tr '\n' ' ')"
    fi
}

dump_pci() {
    sec "PCI devices ($1)"
    run ls -la $D/
    for d in $(ls $D); do dump_dev $d; done
}

dump_iommu() {
    sec "IOMMU ($1)"
    run ls -la /sys/class/iommu/
    for i in /sys/class/iommu/*; do
        [ -e "$i" ] || continue
        echo "readlink -f $i: $(readlink -f $i)"
        run ls -la $i/
        run ls $i/devices/
    done
    run ls -la /sys/kernel/iommu_groups/
    for g in $(ls /sys/kernel/iommu_groups | sort -n); do
        echo "group $g: type=$(cat /sys/kernel/iommu_groups/$g/type 2>&1)" \
             "devices: $(ls /sys/kernel/iommu_groups/$g/devices | tr '\n' ' ')"
        run ls -la /sys/kernel/iommu_groups/$g/devices/
    done
    [ -e /sys/kernel/iommu_groups/0/reserved_regions ] && run cat /sys/kernel/iommu_groups/0/reserved_regions
}

dump_net() {
    sec "network interfaces ($1)"
    run ls -la /sys/class/net/
    for n in /sys/class/net/*; do
        [ -e "$n" ] || continue
        echo "--- $(basename $n): readlink -f $(readlink -f $n)"
        for a in operstate flags carrier address ifindex type dev_id dev_port; do show_attr $n/$a; done
        show_link $n/device
    done
    run cat /proc/net/route
    run cat /proc/net/dev
}

dump_drivers() {
    sec "PCI drivers ($1)"
    run ls -la /sys/bus/pci/drivers/
    for dr in /sys/bus/pci/drivers/*; do
        echo "--- $dr"
        ls -la $dr/ 2>&1
    done
    run ls -la /sys/bus/pci/
    show_attr /sys/bus/pci/drivers_autoprobe
}

dump_vfio() {
    sec "vfio ($1)"
    run ls -la /dev/vfio/
    run ls -la /sys/class/vfio/ 2>/dev/null
}

# ---------------------------------------------------------------- discovery
nvme='' lone=''
for d in $(ls $D); do
    [ "$(cat $D/$d/class)" = 0x010802 ] && [ -e $D/$d/sriov_totalvfs ] && [ -z "$nvme" ] && nvme=$d
    if [ "$(cat $D/$d/vendor):$(cat $D/$d/device)" = 0x8086:0x10d3 ] \
       && [ "$(ls -d $D/${d%.*}.* | wc -l)" -eq 1 ] && [ -z "$lone" ]; then
        lone=$d
    fi
done

sec "environment"
run uname -a
run cat /proc/cmdline
run cat /proc/modules
run /usr/sbin/lsmod
echo "NVMe PF: $nvme; lone e1000e: $lone"
sec "kernel log so far"
kmsg

# ---------------------------------------------------------------- baseline
dump_pci "baseline"
dump_iommu "baseline"
dump_net "baseline"
dump_drivers "baseline"
dump_vfio "baseline"
sec "config space of NVMe PF $nvme (first 256 bytes)"
run ls -la $D/$nvme/config
run hexdump -C -n 256 $D/$nvme/config
sec "nvme class"
run ls -la /sys/class/nvme/
for c in /sys/class/nvme/*; do
    [ -e "$c" ] || continue
    for a in state model serial transport address cntrltype; do show_attr $c/$a; done
    show_link $c/device
done
run ls -la /sys/block/

# ---------------------------------------------------------------- SR-IOV
P=$D/$nvme
sec "SR-IOV on NVMe PF $nvme: enable 2 VFs"
show_attr $P/sriov_numvfs
write 2 $P/sriov_numvfs
sleep 2; kmsg
show_attr $P/sriov_numvfs
for l in $P/virtfn*; do show_link $l; done
vfs=
for l in $P/virtfn*; do [ -L "$l" ] && vfs="$vfs $(basename $(readlink -f $l))"; done
echo "VFs:$vfs"
for v in $vfs; do dump_dev $v; done
dump_dev $nvme
dump_iommu "2 VFs enabled"
run ls -la /sys/class/nvme/

sec "SR-IOV: same value again (2), then 3 while 2 are enabled, 5 (> totalvfs), 'abc'"
write 2 $P/sriov_numvfs
write 3 $P/sriov_numvfs
write 5 $P/sriov_numvfs
write abc $P/sriov_numvfs
show_attr $P/sriov_numvfs

sec "SR-IOV: bind VF to vfio-pci via driver_override + drivers_probe"
set -- $vfs
vf=$1
if [ -n "$vf" ]; then
    show_link $D/$vf/driver
    show_attr $D/$vf/driver_override
    write vfio-pci $D/$vf/driver_override
    show_attr $D/$vf/driver_override
    [ -L $D/$vf/driver ] && write $vf $D/$vf/driver/unbind
    write $vf /sys/bus/pci/drivers_probe
    show_link $D/$vf/driver
    dump_vfio "VF $vf on vfio-pci"
fi

sec "SR-IOV: disable (0) with a VF bound to vfio-pci"
write 0 $P/sriov_numvfs
sleep 1; kmsg
show_attr $P/sriov_numvfs
run ls $D/
for l in $P/virtfn*; do show_link $l; done
dump_vfio "VFs removed"

sec "SR-IOV: sriov_drivers_autoprobe=0, enable 1 VF, disable"
write 0 $P/sriov_drivers_autoprobe
write 1 $P/sriov_numvfs
sleep 1; kmsg
for l in $P/virtfn*; do
    [ -L "$l" ] || continue
    v=$(basename $(readlink -f $l)); echo "VF $v:"; show_link $D/$v/driver
    [ -L $D/$v/driver ] || echo "(no driver link)"
done
write 0 $P/sriov_numvfs
write 1 $P/sriov_drivers_autoprobe

sec "SR-IOV: PF without a driver (unbind nvme, write 1, rebind)"
write $nvme $P/driver/unbind
show_link $P/driver
[ -L $P/driver ] || echo "(no driver link)"
write 1 $P/sriov_numvfs
show_attr $P/sriov_numvfs
write $nvme /sys/bus/pci/drivers_probe
sleep 2; kmsg
show_link $P/driver
run ls -la /sys/class/nvme/

# ---------------------------------------------------------------- driver_override
L=$D/$lone
sec "driver_override on lone e1000e $lone: move to vfio-pci"
show_link $L/driver
show_attr $L/driver_override
run ls -la /sys/class/net/
write $lone /sys/bus/pci/drivers/vfio-pci/bind
write vfio-pci $L/driver_override
show_attr $L/driver_override
show_link $L/driver
write $lone $L/driver/unbind
show_link $L/driver
[ -L $L/driver ] || echo "(no driver link)"
write $lone /sys/bus/pci/drivers_probe
show_link $L/driver
show_attr $L/driver_override
dump_vfio "lone e1000e on vfio-pci"
run ls -la /sys/class/net/
echo "drivers_probe again while bound:"
write $lone /sys/bus/pci/drivers_probe
echo "bind to e1000e while override=vfio-pci (unbind first):"
write $lone $L/driver/unbind
write $lone /sys/bus/pci/drivers/e1000e/bind
show_link $L/driver
[ -L $L/driver ] || echo "(no driver link)"
write $lone /sys/bus/pci/drivers_probe
show_link $L/driver

sec "driver_override: clear with 'echo > driver_override', back to e1000e"
write "" $L/driver_override
show_attr $L/driver_override
echo "\$ od -c $L/driver_override"; od -c $L/driver_override
show_link $L/driver
echo "(still bound to vfio-pci until unbound; now unbind + drivers_probe)"
write $lone $L/driver/unbind
write $lone /sys/bus/pci/drivers_probe
sleep 1; kmsg
show_link $L/driver
show_attr $L/driver_override
dump_vfio "after returning lone e1000e"
dump_net "after returning lone e1000e"

sec "driver_override: other spellings"
write "pci-stub" $L/driver_override
show_attr $L/driver_override
write "no-such-driver" $L/driver_override
show_attr $L/driver_override
echo "+ : > $L/driver_override   (open+truncate, no write() at all)"
( : > $L/driver_override ) 2>/tmp/werr; echo "-> exit $? $(cat /tmp/werr)"
show_attr $L/driver_override
echo "+ printf 'vfio-pci' > $L/driver_override   (no trailing newline)"
( printf 'vfio-pci' > $L/driver_override ) 2>/tmp/werr; echo "-> exit $? $(cat /tmp/werr)"
show_attr $L/driver_override
echo "+ printf '\\n\\n' > $L/driver_override   (two newlines)"
( printf '\n\n' > $L/driver_override ) 2>/tmp/werr; echo "-> exit $? $(cat /tmp/werr)"
show_attr $L/driver_override
write vfio-pci $L/driver_override
echo "+ echo -n ' ' > $L/driver_override   (single space)"
( echo -n ' ' > $L/driver_override ) 2>/tmp/werr; echo "-> exit $? $(cat /tmp/werr)"
echo "\$ od -c $L/driver_override"; od -c $L/driver_override
write "" $L/driver_override
show_attr $L/driver_override
show_link $L/driver

# ---------------------------------------------------------------- final state
dump_pci "final"
dump_iommu "final"
dump_drivers "final"
sec "kernel log (rest)"
kmsg
echo
echo "##### end of sysfs-dump"
exit 0
