#!/bin/sh
# vm-qmp: `ptrec apply` with a vms entry reached over QMP, on the real kernel. An inner QEMU
# (q35, -S, TCG, native PCIe hot-plug, two free root ports) runs in the guest; the desired state
# gives it the e1000e 0000:01:00.0 (managed: false, hotplug: true):
#   - plan: bind to vfio-pci, then attach live only (QMP has no persistent definition);
#   - apply: ptrec binds it, device_add vfio-pci id=ptrec-0000_01_00_0 on a free root port,
#     verifies by listing QOM; the inner QEMU holds /dev/vfio/G; a second plan is empty;
#   - dropping the device: device_del + DEVICE_DELETED (detach phase), then give back to e1000e.
# Needs vm-qmp.prep.sh (inner QEMU + ptrec-qmp in the initramfs).
. /lib/ptrec-e2e.sh

DEV=0000:01:00.0
G=$(group_of $DEV)
SOCK=/run/inner.qmp

desired /tmp/vm.yaml <<EOF2
apiVersion: ptrec/v1
kind: HostConfig
vms:
  - name: inner
    qmp: $SOCK
    hotplug: true
    devices:
      - device: "$DEV"
EOF2
desired /tmp/vm-none.yaml <<EOF2
apiVersion: ptrec/v1
kind: HostConfig
vms:
  - name: inner
    qmp: $SOCK
    hotplug: true
EOF2

section "inner QEMU"
qemu-system-x86_64 -machine q35 -nodefaults -display none -m 64 -accel tcg -S \
    -qmp unix:$SOCK,server=on,wait=off \
    -global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off \
    -device pcie-root-port,id=rp1,chassis=1,bus=pcie.0 \
    -device pcie-root-port,id=rp2,chassis=2,bus=pcie.0 </dev/null >/tmp/inner.log 2>&1 &
QPID=$!
i=0
while [ ! -S $SOCK ] && [ $i -lt 300 ] && kill -0 $QPID 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
check "inner QEMU made its QMP socket" test -S $SOCK || { cat /tmp/inner.log; finish; exit 1; }
holds_group() { ls -l /proc/$QPID/fd 2>/dev/null | grep -q "/dev/vfio/$1\$"; }

section "plan"
ptq plan -f /tmp/vm.yaml
expect_eq "plan exit (changes)" $RC 2
check "... binds $DEV to vfio-pci" grep -q "$DEV  driver e1000e → vfio-pci" $OUT
check "... attaches it live only" grep -q "vm inner: $DEV  attach to inner (live only)" $OUT

section "apply"
ptq apply -f /tmp/vm.yaml --auto-approve
expect_eq "apply exit" $RC 0
expect_eq "driver" "$(drv $DEV)" vfio-pci
ptrec-qmp $SOCK list >$OUT 2>$ERR
expect_eq "QOM shows ptrec's device" "$(cat $OUT)" "ptrec-0000_01_00_0 $DEV rp1"
check "inner QEMU holds /dev/vfio/$G" holds_group $G
check "ledger records the hostdev" grep -q '"vm": "inner"' /var/lib/ptrec/state.json
ptq plan -f /tmp/vm.yaml
expect_eq "second plan: no changes" $RC 0

section "detach and give back"
ptq apply -f /tmp/vm-none.yaml --auto-approve
expect_eq "apply exit" $RC 0
dl=$(grep -n 'detach from inner' $OUT | head -1 | cut -d: -f1)
rl=$(grep -n '(give back)' $OUT | head -1 | cut -d: -f1)
check "... detach ($dl) is planned before the release ($rl)" test "${dl:-0}" -gt 0 -a "${dl:-0}" -lt "${rl:-0}"
ptrec-qmp $SOCK list >$OUT 2>$ERR
expect_eq "QOM: gone" "$(cat $OUT)" ""
check "inner QEMU let go of /dev/vfio/$G" sh -c "! ls -l /proc/$QPID/fd | grep -q /dev/vfio/$G\$"
expect_eq "driver" "$(drv $DEV)" e1000e

kill $QPID; wait $QPID 2>/dev/null
echo "inner QEMU log:"; sed 's/^/    /' /tmp/inner.log
kmsg
finish
