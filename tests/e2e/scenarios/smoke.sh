#!/bin/sh
# smoke: the test bed itself is sane — PCI devices visible, IOMMU active with
# groups, the two-function e1000e shares one IOMMU group, the lone e1000e is
# alone in its group, and the NVMe PF offers SR-IOV.
fails=0
ok()  { echo "ok   - $*"; }
bad() { echo "FAIL - $*"; fails=$((fails + 1)); }
check() { desc=$1; shift; if "$@"; then ok "$desc"; else bad "$desc"; fi; }

D=/sys/bus/pci/devices
devs=$(ls $D)
check "PCI devices present ($(echo $devs | wc -w))" test -n "$devs"
check "/sys/class/iommu non-empty ($(ls /sys/class/iommu | tr '\n' ' '))" test -n "$(ls /sys/class/iommu)"
ngroups=$(ls /sys/kernel/iommu_groups | wc -l)
check "IOMMU groups exist ($ngroups)" test "$ngroups" -gt 0

group_of() { basename "$(readlink -f $D/$1/iommu_group)"; }
group_members() { ls /sys/kernel/iommu_groups/$1/devices | sort | tr '\n' ' '; }

# e1000e = 8086:10d3. Split into single-function and multi-function slots.
lone='' multi=''
for d in $devs; do
    [ "$(cat $D/$d/vendor):$(cat $D/$d/device)" = 0x8086:0x10d3 ] || continue
    slot=${d%.*}
    if [ "$(ls -d $D/$slot.* | wc -l)" -eq 1 ]; then lone=$d; else multi="$multi $d"; fi
done
echo "# lone e1000e: ${lone:-none}; multifunction e1000e:${multi:- none}"

check "lone e1000e present" test -n "$lone"
if [ -n "$lone" ]; then
    g=$(group_of $lone)
    check "lone e1000e $lone alone in IOMMU group $g [$(group_members $g)]" \
        test "$(ls /sys/kernel/iommu_groups/$g/devices | wc -l)" -eq 1
fi

set -- $multi
check "two-function e1000e present ($#)" test $# -eq 2
if [ $# -eq 2 ]; then
    g1=$(group_of $1) g2=$(group_of $2)
    check "$1 (group $g1) and $2 (group $g2) share one IOMMU group [$(group_members $g1)]" test "$g1" = "$g2"
fi

nvme=
for d in $devs; do
    [ "$(cat $D/$d/class)" = 0x010802 ] && [ -e $D/$d/sriov_totalvfs ] && { nvme=$d; break; }
done
check "NVMe PF with SR-IOV present (${nvme:-none})" test -n "$nvme"
if [ -n "$nvme" ]; then
    t=$(cat $D/$nvme/sriov_totalvfs)
    check "NVMe $nvme sriov_totalvfs=$t > 0" test "$t" -gt 0
fi

echo "# $fails failure(s)"
[ $fails -eq 0 ]
