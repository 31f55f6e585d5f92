#!/bin/sh
# sriov-nvme: VFs of the NVMe PF 0000:03:00.0 (totalvfs 4) on vfio-pci, for real.
#   numVfs 2 + vfDriver vfio-pci: the kernel creates virtfn0/1 at the BDFs the
#   plan predicted, both end on vfio-pci (nvme never gets them), a second
#   plan is empty; numVfs 3 (ptrec goes through 0: the kernel says EBUSY to
#   2 -> 3); an empty desired state takes the PF back to 0 VFs.  numVfs 5
#   (> totalvfs) is refused.
. /lib/ptrec-e2e.sh

PF=0000:03:00.0
yaml() {   # yaml NUMVFS > FILE
    cat <<EOF
apiVersion: ptrec/v1
kind: HostConfig
sriov:
  - device: "$PF"
    numVfs: $1
    vfDriver: vfio-pci
EOF
}
yaml 2 > /tmp/vfs2.yaml
yaml 3 > /tmp/vfs3.yaml
yaml 5 > /tmp/vfs5.yaml
desired /tmp/empty.yaml <<'EOF'
apiVersion: ptrec/v1
kind: HostConfig
EOF
dump_state /tmp/state.boot
show_state $PF

vfs_on_vfio() {   # vfs_on_vfio LABEL N: N VFs, each on vfio-pci with a /dev/vfio node
    label=$1 n=$2
    expect_eq "$label: sriov_numvfs" "$(numvfs $PF)" $n
    set -- $(virtfns $PF)
    expect_eq "$label: virtfn links" $# $n
    i=0
    for vf in "$@"; do
        g=$(group_of $vf)
        expect_eq "$label: virtfn$i $vf driver" "$(drv $vf)" vfio-pci
        expect_eq "$label: virtfn$i $vf driver_override" "$(ovr $vf)" vfio-pci
        check "$label: virtfn$i $vf /dev/vfio/$g exists, group $g has only $vf" \
            test -c /dev/vfio/$g -a "$(ls /sys/kernel/iommu_groups/$g/devices)" = "$vf"
        i=$((i + 1))
    done
    expect_eq "$label: PF still on nvme" "$(drv $PF)" nvme
    expect_eq "$label: sriov_drivers_autoprobe back to 1" "$(cat $D/$PF/sriov_drivers_autoprobe)" 1
}

step() {   # step LABEL YAML N: plan (exit 2), apply (exit 0), checks, plan again (exit 0)
    label=$1 y=$2 n=$3
    section "$label: plan"
    pt plan -f $y
    expect_eq "$label: plan exit code" $RC 2
    ptq plan -f $y --json
    cp $OUT /tmp/plan.json
    echo "    actions: $(jq -r "$ACTIONS" /tmp/plan.json)"
    section "$label: apply"
    pt apply -f $y --auto-approve
    expect_eq "$label: apply exit code" $RC 0
    show_state $PF $(virtfns $PF)
    kmsg
}

step "numVfs 2" /tmp/vfs2.yaml 2
expect_eq "numVfs 2: planned" "$(jq -r "$ACTIONS" /tmp/plan.json)" \
    "set_num_vfs $PF 0 2; bind 0000:03:00.1 (new VF) vfio-pci; bind 0000:03:00.2 (new VF) vfio-pci"
expect_eq "numVfs 2: planned VF BDFs = the kernel's virtfn0/1" \
    "$(jq -r '[.actions[] | select(.kind == "bind") | .device] | join(" ")' /tmp/plan.json)" "$(virtfns $PF)"
vfs_on_vfio "numVfs 2" 2
pt plan -f /tmp/vfs2.yaml
expect_eq "numVfs 2: second plan exit code (empty)" $RC 0

step "numVfs 2 -> 3" /tmp/vfs3.yaml 3
expect_eq "numVfs 3: planned" "$(jq -r "$ACTIONS" /tmp/plan.json)" \
    "set_num_vfs $PF 2 3; bind 0000:03:00.1 (new VF) vfio-pci; bind 0000:03:00.2 (new VF) vfio-pci; bind 0000:03:00.3 (new VF) vfio-pci"
check "numVfs 3: plan says it goes through 0" jqtest '.actions[0].reason | test("through 0")' /tmp/plan.json
vfs_on_vfio "numVfs 3" 3
pt plan -f /tmp/vfs3.yaml
expect_eq "numVfs 3: second plan exit code (empty)" $RC 0

section "numVfs 5 > sriov_totalvfs 4"
pt plan -f /tmp/vfs5.yaml
expect_eq "numVfs 5: plan exit code (refusal)" $RC 1
check "numVfs 5: refusal names sriov_totalvfs" grep -q totalvfs $OUT
ptq plan -f /tmp/vfs5.yaml --json
# The entry still names the PF and vfio-pci: its VFs are not "no longer in the desired state".
expect_eq "numVfs 5: the refused plan gives no VF back" "$(jq -r "$ACTIONS" $OUT)" ""
expect_eq "numVfs 5: nothing changed (still 3)" "$(numvfs $PF)" 3

step "empty desired state" /tmp/empty.yaml 0
expect_eq "empty: planned" "$(jq -r "$ACTIONS" /tmp/plan.json)" "set_num_vfs $PF 3 0"
expect_eq "empty: sriov_numvfs" "$(numvfs $PF)" 0
expect_eq "empty: no virtfn links" "$(virtfns $PF)" ""
expect_eq "empty: PF on nvme" "$(drv $PF)" nvme
check "empty: nvme0 still live" test "$(cat /sys/class/nvme/nvme0/state)" = live
pt plan -f /tmp/empty.yaml
expect_eq "empty: plan again exit code" $RC 0
section "numVfs 1 without vfDriver (the kernel's VF driver: nvme, whose probe fails)"
cat > /tmp/vfs1.yaml <<EOF
apiVersion: ptrec/v1
kind: HostConfig
sriov:
  - device: "$PF"
    numVfs: 1
EOF
pt apply -f /tmp/vfs1.yaml --auto-approve
expect_eq "numVfs 1: apply exit code" $RC 0
vf=$(virtfns $PF)
echo "    right after apply: $vf driver=$(drv $vf)"
check "numVfs 1: nvme's probe of $vf gives up" settle_vfs $PF
show_state $PF $vf
kmsg
expect_eq "numVfs 1: $vf has no driver" "$(drv $vf)" "(none)"
pt plan -f /tmp/vfs1.yaml
expect_eq "numVfs 1: second plan exit code" $RC 0
pt apply -f /tmp/empty.yaml --auto-approve
expect_eq "numVfs 1 -> empty: apply exit code" $RC 0
expect_eq "numVfs 1 -> empty: sriov_numvfs" "$(numvfs $PF)" 0

dump_state /tmp/state.now
if cmp -s /tmp/state.boot /tmp/state.now; then pass "every driver/override/numvfs as at boot"
else fail "state differs from boot (- boot, + now):"; diff /tmp/state.boot /tmp/state.now | sed 's/^/    /'; fi
finish
