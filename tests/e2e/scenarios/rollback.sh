#!/bin/sh
# rollback: an apply whose first step succeeds and whose next step the real
# kernel refuses must undo every step.
#
# The failure comes from the kernel, not from ptrec's checks: a running VM
# holds IOMMU group 6 (02:00.0 + 02:00.1).  vfio-hold (tests/e2e/vfio-hold.c)
# does what QEMU does: VFIO_GROUP_SET_CONTAINER + VFIO_SET_IOMMU, which makes
# the kernel claim the group's DMA for that user (iommu_group_claim_dma_owner).
# While it holds the group, no driver that uses the kernel's DMA API may probe
# a device of it: e1000e's bind fails in pci_dma_configure ->
# iommu_device_use_default_domain with -EBUSY.  Sysfs shows nothing of this
# (driver links, overrides and groups look the same), so ptrec's plan cannot
# foresee it: giving 02:00.0 back to e1000e fails mid-apply.
#
#   set-up (ptrec): hide 0000:01:00.0 and 0000:02:00.0 + group: include
#                   (-> .1 too) on vfio-pci; then vfio-hold 6
#   failing apply:  NVMe 0000:03:00.0 numVfs 2 on vfio-pci and nothing hidden,
#                   with -j 1 (one step at a time, so the outcome is exact):
#                   release 01:00.0 (done), release 02:00.0 (the kernel refuses
#                   e1000e's bind: EBUSY), the rest not run; 01:00.0 undone.
#   apply must exit 1, report the rollback, and leave every device's driver,
#   driver_override, sriov_numvfs, sriov_drivers_autoprobe and "has a net
#   interface" exactly as before, and ptrec's ledger as it was.  Interface
#   names are not compared: the kernel names ethN by bind order.
#   By hand, still under the VM: drivers/e1000e/bind answers EBUSY (the same
#   refusal through the other interface); pci-stub and vfio-pci bind.
#   Then the VM stops (vfio-hold exits): the same apply succeeds (the NICs come
#   back with an interface each, down), and the empty desired state gives
#   everything back.
# The host step (rollback.host.sh) replays the failing apply on the snapshot
# with --simulate and user_owned_iommu_groups: [6].
. /lib/ptrec-e2e.sh

PF=0000:03:00.0 GROUP=6
NICS="0000:01:00.0 0000:02:00.0 0000:02:00.1"
desired /tmp/hidden.yaml <<'EOF'
apiVersion: ptrec/v1
kind: HostConfig
hide:
  - device: "0000:01:00.0"
  - device: "0000:02:00.0"
    group: include
EOF
desired /tmp/next.yaml <<'EOF'
apiVersion: ptrec/v1
kind: HostConfig
sriov:
  - device: "0000:03:00.0"
    numVfs: 2
    vfDriver: vfio-pci
EOF
desired /tmp/empty.yaml <<'EOF'
apiVersion: ptrec/v1
kind: HostConfig
EOF
dump_state_net /tmp/state.boot
A=/tmp/rollback
mkdir -p $A

section "set-up: ptrec hides 01:00.0 and group $GROUP on vfio-pci"
ptq apply -f /tmp/hidden.yaml --auto-approve
expect_eq "set-up apply exit code" $RC 0
show_state $NICS $PF
check "group $GROUP is on vfio-pci" test "$(drv 0000:02:00.0) $(drv 0000:02:00.1)" = "vfio-pci vfio-pci"

section "a VM takes IOMMU group $GROUP (vfio-hold: VFIO_GROUP_SET_CONTAINER + VFIO_SET_IOMMU)"
if [ ! -x /usr/bin/vfio-hold ]; then
    fail "no /usr/bin/vfio-hold in the guest (tests/e2e/run could not build vfio-hold.c)"
    finish; exit 1
fi
: > /tmp/hold.log
vfio-hold $GROUP > /tmp/hold.log 2>&1 &
HOLD=$!
_i=0
while [ $_i -lt 50 ] && ! grep -q holding /tmp/hold.log; do sleep 0.1; _i=$((_i + 1)); done
sed 's/^/    /' /tmp/hold.log
check "vfio-hold holds group $GROUP" grep -q "holding IOMMU group $GROUP" /tmp/hold.log
dmesg -c > /dev/null
dump_state_net /tmp/state.before
cp /var/lib/ptrec/state.json /tmp/ledger.before
# For the host step: the same apply on the snapshot with the simulated kernel.
cp /tmp/next.yaml $A/desired.yaml
echo $GROUP > $A/user-owned-groups
/usr/bin/ptrec snapshot --out $A/snap > /dev/null || fail "ptrec snapshot"
/usr/bin/ptrec show --json > $A/show-before.json
cp /tmp/ledger.before $A/ledger-before.json

section "plan (sysfs shows nothing of the VM: ptrec cannot foresee the refusal)"
pt plan -f /tmp/next.yaml
expect_eq "plan exit code" $RC 2
ptq plan -f /tmp/next.yaml --json
cp $OUT $A/plan.json
echo "    actions: $(jq -r "$ACTIONS" $OUT)"
expect_eq "the releases come first" "$(jq -r '[.actions[] | select(.kind == "release") | .device] | join(" ")' $OUT)" \
    "$NICS"

section "apply -j 1: 01:00.0 goes back, the kernel refuses 02:00.0 to e1000e"
ptq apply -f /tmp/next.yaml --auto-approve --json -j 1
cp $OUT /tmp/apply.json
cp $OUT $A/apply.json; echo $RC > $A/apply.rc
expect_eq "apply exit code" $RC 1
jq -r '.steps[] | "    step \(.id): \(.status) \(.message)"' /tmp/apply.json
jq -r '"    error: \(.error.code // "-"): \(.error.message // "-")"' /tmp/apply.json
expect_eq "apply --json: applied" "$(jq -r .applied /tmp/apply.json)" false
expect_eq "apply --json: rolled_back" "$(jq -r .rolled_back /tmp/apply.json)" true
# step ids in plan order: the releases of 01:00.0, 02:00.0, 02:00.1, then the VF count and binds
STEP1=$(jq -r '.actions[] | select(.kind == "release" and .device == "0000:01:00.0") | .id' $A/plan.json)
STEP2=$(jq -r '.actions[] | select(.kind == "release" and .device == "0000:02:00.0") | .id' $A/plan.json)
status_of() { jq -r --argjson i "$1" '.steps[] | select(.id == $i) | .status' /tmp/apply.json; }
expect_eq "release 01:00.0: done, then undone" "$(status_of $STEP1)" undone
expect_eq "release 02:00.0: failed" "$(status_of $STEP2)" failed
expect_eq "every other step: not run" \
    "$(jq -r --argjson a $STEP1 --argjson b $STEP2 '[.steps[] | select(.id != $a and .id != $b) | .status] | unique | join(" ")' /tmp/apply.json)" \
    not_run
# really_probe() fails before e1000e's probe (pci_dma_configure: -EBUSY), so
# drivers_probe_store answers -EINVAL (a bind through drivers/e1000e/bind would
# give EBUSY), and the kernel logs nothing about it.
check "the error names 0000:02:00.0 and the kernel's refusal of drivers_probe (EINVAL)" \
    jqtest '.error.message | contains("0000:02:00.0") and contains("drivers_probe: Invalid argument")' /tmp/apply.json
check "the error names the holder of /dev/vfio/6 (vfio-hold's pid, from /proc/*/fd)" \
    jqtest --arg p "$HOLD (vfio-hold)" '.error.message | contains("held through /dev/vfio/6 by " + $p)' /tmp/apply.json
dmesg -c > /tmp/kmsg.all
echo "    kernel log:"; sed 's/^/    kmsg: /' /tmp/kmsg.all

settle_vfs $PF
show_state $NICS $PF
dump_state_net /tmp/state.after
if cmp -s /tmp/state.before /tmp/state.after; then
    pass "every driver/override/numvfs/autoprobe/has-net exactly as before"
else
    fail "state differs (- before, + after):"; diff /tmp/state.before /tmp/state.after | sed 's/^/    /'
fi
# (compared sorted by BDF: undoing a release records the binding again, at the end)
LEDGER='[(.bindings | sort_by(.bdf)), (.vf_counts | sort_by(.pf))]'
cp /var/lib/ptrec/state.json $A/ledger-after.json
if [ "$(jq -cS "$LEDGER" /tmp/ledger.before)" = "$(jq -cS "$LEDGER" /var/lib/ptrec/state.json)" ]; then
    pass "ledger state.json: the same bindings and VF counts as before"
else
    fail "ledger state.json differs:"
    echo "    before: $(jq -cS "$LEDGER" /tmp/ledger.before)"
    echo "    after:  $(jq -cS "$LEDGER" /var/lib/ptrec/state.json)"
fi
# journal.jsonl ends with {"status":"done"} when every step was applied or undone.
expect_eq "journal: last status (rolled back completely)" \
    "$(tail -n 1 /var/lib/ptrec/journal.jsonl | jq -r '.status // "-"')" done
/usr/bin/ptrec show --json > $A/show-after.json
check "vfio-hold still holds the group" kill -0 $HOLD

section "by hand while the VM runs: drivers/e1000e/bind answers EBUSY, pci-stub and vfio-pci bind"
B=0000:02:00.1
echo > $D/$B/driver_override; echo $B > $D/$B/driver/unbind
echo $B > /sys/bus/pci/drivers/e1000e/bind 2> /tmp/bind.err; rc=$?
echo "    echo $B > drivers/e1000e/bind -> exit $rc: $(cat /tmp/bind.err)"
check "the bind write fails with EBUSY" grep -q "Device or resource busy" /tmp/bind.err
expect_eq "$B has no driver" "$(drv $B)" "(none)"
echo pci-stub > $D/$B/driver_override; echo $B > /sys/bus/pci/drivers_probe
expect_eq "pci-stub takes $B all the same (driver_managed_dma)" "$(drv $B)" pci-stub
echo $B > $D/$B/driver/unbind
echo vfio-pci > $D/$B/driver_override; echo $B > /sys/bus/pci/drivers_probe
expect_eq "$B back on vfio-pci (driver_managed_dma)" "$(drv $B)" vfio-pci
kmsg

section "the VM stops: the same apply succeeds"
kill $HOLD; wait $HOLD 2>/dev/null
sed 's/^/    /' /tmp/hold.log
ptq apply -f /tmp/next.yaml --auto-approve --json -j 1
cp $OUT $A/apply2.json; echo $RC > $A/apply2.rc
expect_eq "apply exit code" $RC 0
jq -r '.steps[] | "    step \(.id): \(.status) \(.message)"' $A/apply2.json
settle_vfs $PF
show_state $NICS $PF $(virtfns $PF)
expect_eq "the NICs are back on e1000e" "$(drv 0000:01:00.0) $(drv 0000:02:00.0) $(drv 0000:02:00.1)" "e1000e e1000e e1000e"
check "each NIC has a net interface" test -n "$(netifs 0000:01:00.0)" -a -n "$(netifs 0000:02:00.0)" -a -n "$(netifs 0000:02:00.1)"
expect_eq "the new interfaces are down" \
    "$(for d in $NICS; do cat $D/$d/net/*/operstate; done | tr '\n' ' ')" "down down down "
expect_eq "2 VFs on vfio-pci" "$(for v in $(virtfns $PF); do drv $v; done | tr '\n' ' ')" "vfio-pci vfio-pci "
/usr/bin/ptrec show --json > $A/show-after2.json

section "the empty desired state gives everything back"
ptq apply -f /tmp/empty.yaml --auto-approve -j 1
expect_eq "apply exit code" $RC 0
dump_state_net /tmp/state.end
if cmp -s /tmp/state.boot /tmp/state.end; then pass "state as at boot"
else fail "state differs (- boot, + end):"; diff /tmp/state.boot /tmp/state.end | sed 's/^/    /'; fi
kmsg > /dev/null
artifact rollback $A
finish
