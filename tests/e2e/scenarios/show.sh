#!/bin/sh
# show: `ptrec show --json` on the live guest agrees with the kernel's sysfs:
# exactly the BDFs of /sys/bus/pci/devices, and per device the IOMMU group
# (readlink iommu_group), driver, driver_override, SR-IOV counts, physfn/virtfn
# links and net interfaces; the iommu_groups map, loaded drivers and kernel
# release too.  Checked at boot, and again with 2 NVMe VFs enabled by hand
# (one of them bound to vfio-pci by hand), then after disabling them.
. /lib/ptrec-e2e.sh

# One line per device as the kernel shows it ...
kernel_view() {
    for d in $(ls $D); do
        g=-1; [ -L $D/$d/iommu_group ] && g=$(group_of $d)
        t=-; [ -e $D/$d/sriov_totalvfs ] && t=$(cat $D/$d/sriov_totalvfs)
        p=-; [ -L $D/$d/physfn ] && p=$(basename "$(readlink $D/$d/physfn)")
        echo "$d group=$g driver=$(drv $d) override=$(ovr $d) numvfs=$(numvfs $d) total=$t physfn=$p vfs=[$(virtfns $d)] net=[$(netifs $d)]"
    done | sort
}
# ... and as ptrec shows it.
ptrec_view() {
    jq -r '.devices[] | "\(.bdf) group=\(.iommu_group)"
        + " driver=\(if .driver == "" then "(none)" else .driver end)"
        + " override=\(if .driver_override == "" then "(null)" else .driver_override end)"
        + " numvfs=\(.sriov.num_vfs // "-") total=\(.sriov.total_vfs // "-")"
        + " physfn=\(.physfn // "-") vfs=[\(.vfs | join(" "))] net=[\(.net_interfaces | join(" "))]"' "$1" | sort
}

compare() {   # compare LABEL
    section "$1"
    ptq show --json
    if [ $RC -ne 0 ]; then fail "$1: ptrec show --json exited $RC"; return; fi
    cp $OUT /tmp/show.json
    check "$1: show --json is format_version 1, kind host" \
        test "$(jq -r '"\(.format_version) \(.kind)"' /tmp/show.json)" = "1 host"

    ls $D | sort > /tmp/bdfs.kernel
    jq -r '.devices[].bdf' /tmp/show.json | sort > /tmp/bdfs.ptrec
    if cmp -s /tmp/bdfs.kernel /tmp/bdfs.ptrec; then
        pass "$1: show lists exactly the $(wc -l < /tmp/bdfs.kernel) BDFs of $D"
    else
        fail "$1: BDF lists differ (- kernel, + ptrec):"; diff /tmp/bdfs.kernel /tmp/bdfs.ptrec | sed 's/^/    /'
    fi

    kernel_view > /tmp/view.kernel
    ptrec_view /tmp/show.json > /tmp/view.ptrec
    while read -r bdf rest; do
        got=$(grep "^$bdf " /tmp/view.ptrec | cut -d' ' -f2-)
        if [ "$got" = "$rest" ]; then pass "$1: $bdf $rest"
        else fail "$1: $bdf kernel: $rest"; echo "       ptrec:  ${got:-<missing>}"; fi
    done < /tmp/view.kernel

    # IOMMU groups map: group -> members, as /sys/kernel/iommu_groups has it
    for g in $(ls /sys/kernel/iommu_groups); do
        echo "$g $(ls /sys/kernel/iommu_groups/$g/devices | sort | tr '\n' ' ')"
    done | sort -n > /tmp/groups.kernel
    jq -r '.iommu_groups | to_entries[] | "\(.key) \(.value | sort | join(" ")) "' /tmp/show.json | sort -n > /tmp/groups.ptrec
    if cmp -s /tmp/groups.kernel /tmp/groups.ptrec; then
        pass "$1: iommu_groups map matches /sys/kernel/iommu_groups ($(wc -l < /tmp/groups.kernel) groups)"
    else
        fail "$1: iommu_groups differ (- kernel, + ptrec):"; diff /tmp/groups.kernel /tmp/groups.ptrec | sed 's/^/    /'
    fi
    expect_eq "$1: iommu.active" "$(jq -r .iommu.active /tmp/show.json)" true
    expect_eq "$1: kernel_release" "$(jq -r .kernel_release /tmp/show.json)" "$(uname -r)"
    expect_eq "$1: loaded_drivers = ls /sys/bus/pci/drivers" \
        "$(jq -r '.loaded_drivers | sort | join(" ")' /tmp/show.json)" "$(ls /sys/bus/pci/drivers | sort | tr '\n' ' ' | sed 's/ $//')"
}

PF=0000:03:00.0
compare "at boot"

section "by hand: 2 VFs on $PF, VF 0 on vfio-pci"
echo 2 > $D/$PF/sriov_numvfs || fail "echo 2 > sriov_numvfs"
# Right after the write the VFs sit on nvme until its async probe gives up.
echo "    right after the write: $(for v in $(virtfns $PF); do printf '%s=%s ' $v "$(drv $v)"; done)"
check "nvme's probe of the VFs gives up (no VF left on nvme)" settle_vfs $PF
vf0=$(basename "$(readlink $D/$PF/virtfn0)")
echo vfio-pci > $D/$vf0/driver_override && echo "$vf0" > /sys/bus/pci/drivers_probe
show_state $PF $(virtfns $PF)
compare "2 VFs enabled"
expect_eq "VF 0 ($vf0) vf_index" "$(jq -r --arg b "$vf0" '.devices[] | select(.bdf == $b) | .vf_index' /tmp/show.json)" 0

section "by hand: VFs disabled"
echo 0 > $D/$PF/sriov_numvfs || fail "echo 0 > sriov_numvfs"
dmesg -c > /dev/null
compare "VFs disabled again"

section "plain text show (for the log)"
pt show
finish
