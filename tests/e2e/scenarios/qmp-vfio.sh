#!/bin/sh
# qmp-vfio: a VM run without libvirt gets a real vfio-pci device over QMP and loses it again.
# An inner QEMU (q35, -S, TCG, native PCIe hot-plug, two free root ports) runs in the guest; the
# lone e1000e 0000:01:00.0 goes to it through ptrec's QMP provider (providers/qmp, driven by
# ptrec-qmp from tests/e2e/qmp_tool.cc):
#   - the real QEMU 7.2 errors and their mapping: not bound to vfio-pci (failed to open
#     /dev/vfio/N), group held elsewhere (vfio-hold: Device or resource busy), a group half on a
#     host driver (02:00.0 alone on vfio-pci: group N is not viable), a BDF that does not exist
#     (no such host device), the same device twice (device is already attached);
#   - attach: the device appears in QOM on the free root port, QEMU holds /dev/vfio/N;
#   - detach: device_del + DEVICE_DELETED, QEMU lets go of the group;
#   - a second inner QEMU with the device given at start-up: QOM finds it, query-pci does not,
#     and its detach times out (a never-started guest never releases a cold-plugged device);
#   - ptrec apply with vms: [{name: inner, qmp: /run/inner.qmp, hotplug: true, devices: [01:00.0]}]
#     binds it to vfio-pci and attaches it; the VM left out of the desired state is refused
#     (ptrec may not detach live without hotplug: true); devices: [] detaches it and gives the
#     NIC back to e1000e.
# Needs qmp-vfio.prep.sh (inner QEMU + ptrec-qmp in the initramfs).
. /lib/ptrec-e2e.sh

DEV=0000:01:00.0
G=$(group_of $DEV)
SOCK=/run/inner.qmp
T0=$(cut -d' ' -f1 /proc/uptime)

desired /tmp/hide.yaml <<'EOF'
apiVersion: ptrec/v1
kind: HostConfig
hide:
  - device: "0000:01:00.0"
    driver: vfio-pci
EOF
desired /tmp/empty.yaml <<'EOF'
apiVersion: ptrec/v1
kind: HostConfig
EOF
desired /tmp/vm.yaml <<'EOF'
apiVersion: ptrec/v1
kind: HostConfig
vms:
  - name: inner
    qmp: /run/inner.qmp
    hotplug: true
    devices:
      - device: "0000:01:00.0"
EOF
desired /tmp/vm-none.yaml <<'EOF'
apiVersion: ptrec/v1
kind: HostConfig
vms:
  - name: inner
    qmp: /run/inner.qmp
    hotplug: true
    devices: []
EOF
KINDS='[.actions[].kind] | join(" ")'

# qmp ARGS: runs ptrec-qmp $SOCK ARGS; RC, output in $OUT / $ERR.
qmp() {
    echo "\$ ptrec-qmp $SOCK $*"
    ptrec-qmp $SOCK "$@" >$OUT 2>$ERR
    RC=$?
    sed 's/^/    /' $OUT $ERR
    echo "    -> exit $RC"
}
holds_group() { ls -l /proc/$QPID/fd 2>/dev/null | grep -q "/dev/vfio/$1\$"; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }

# start_inner SOCKET LOG [ARGS...]: an inner QEMU (q35, -S, TCG, native PCIe hot-plug, free root
# ports rp1 and rp2) with its QMP socket at SOCKET; sets IPID; fails if no socket in 30 s.
start_inner() {
    _sock=$1 _log=$2; shift 2
    qemu-system-x86_64 -machine q35 -nodefaults -display none -m 64 -accel tcg -S \
        -qmp unix:$_sock,server=on,wait=off \
        -global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off \
        -device pcie-root-port,id=rp1,chassis=1,bus=pcie.0 \
        -device pcie-root-port,id=rp2,chassis=2,bus=pcie.0 \
        "$@" </dev/null >$_log 2>&1 &
    IPID=$!
    _i=0
    while [ ! -S $_sock ] && [ $_i -lt 300 ] && kill -0 $IPID 2>/dev/null; do sleep 0.1; _i=$((_i + 1)); done
    if [ -S $_sock ]; then
        pass "inner QEMU $_sock up (pid $IPID) in $((_i / 10)).$((_i % 10))s"
    else
        fail "inner QEMU made no QMP socket $_sock"; cat $_log; return 1
    fi
}

section "inner QEMU"
check "qemu-system-x86_64 in the guest" test -x /usr/bin/qemu-system-x86_64
check "ptrec-qmp in the guest" test -x /usr/bin/ptrec-qmp
check "vfio_iommu_type1 loaded" test -d /sys/module/vfio_iommu_type1
start_inner $SOCK /tmp/inner.log || { finish; exit 1; }
QPID=$IPID
qmp list
expect_eq "no vfio-pci device at start" "$RC:$(cat $OUT)" "0:"
qmp free-bus
expect_eq "first free hotplug bus" "$(cat $OUT)" rp1

section "errors QEMU gives, mapped"
qmp attach $DEV hostdev0 rp1
expect_eq "attach while on e1000e: exit" $RC 1
check "... not_found: failed to open /dev/vfio/$G" grep -q "error: not_found: .*failed to open /dev/vfio/$G: No such file" $ERR
check "... hint: bind the group to vfio-pci" grep -q "hint: .*group $G to vfio-pci" $ERR

qmp attach 0000:09:00.0 hostdev0 rp1
expect_eq "attach of a BDF that does not exist: exit" $RC 1
check "... not_found: no such host device" grep -q "error: not_found: .*no such host device" $ERR

# 02:00.0 alone on vfio-pci, 02:00.1 still on e1000e: the group is not viable.
G2=$(group_of 0000:02:00.0)
echo vfio-pci > $D/0000:02:00.0/driver_override
echo 0000:02:00.0 > $D/0000:02:00.0/driver/unbind
echo 0000:02:00.0 > /sys/bus/pci/drivers_probe
expect_eq "02:00.0 on vfio-pci by hand" "$(drv 0000:02:00.0)" vfio-pci
qmp attach 0000:02:00.0 hostdev0 rp1
expect_eq "attach of half a group: exit" $RC 1
check "... busy: group $G2 is not viable" grep -q "error: busy: .*group $G2 is not viable" $ERR
check "... hint: bind the whole group" grep -q "bind the whole group" $ERR
echo > $D/0000:02:00.0/driver_override
echo 0000:02:00.0 > $D/0000:02:00.0/driver/unbind
echo 0000:02:00.0 > /sys/bus/pci/drivers_probe
expect_eq "02:00.0 back on e1000e" "$(drv 0000:02:00.0)" e1000e

section "ptrec binds $DEV to vfio-pci"
ptq apply -f /tmp/hide.yaml --auto-approve
expect_eq "apply exit" $RC 0
expect_eq "driver" "$(drv $DEV)" vfio-pci

vfio-hold $G > /tmp/hold.log 2>&1 &
HOLD=$!
i=0
while ! grep -q "holding" /tmp/hold.log && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
qmp attach $DEV hostdev0 rp1
expect_eq "attach while another process holds group $G: exit" $RC 1
check "... busy: /dev/vfio/$G Device or resource busy" grep -q "error: busy: .*failed to open /dev/vfio/$G: Device or resource busy" $ERR
kill $HOLD; wait $HOLD 2>/dev/null

section "attach for real"
t=$(uptime_s)
qmp attach $DEV hostdev0
expect_eq "attach exit" $RC 0
echo "    attach took $(echo "$(uptime_s) $t" | awk '{ printf "%.2f", $1 - $2 }')s"
check "... on the free port rp1" grep -q "attached $DEV as hostdev0 on rp1" $OUT
qmp list
expect_eq "QOM shows it" "$(cat $OUT)" "hostdev0 $DEV rp1"
check "inner QEMU holds /dev/vfio/$G" holds_group $G
qmp free-bus
expect_eq "next free bus" "$(cat $OUT)" rp2
qmp attach $DEV hostdev1 rp2
expect_eq "the same device twice: exit" $RC 1
check "... invalid: device is already attached" grep -q "error: invalid: .*device is already attached" $ERR
qmp attach $DEV hostdev0 rp2
expect_eq "a taken id: exit" $RC 1
check "... invalid: Duplicate" grep -q "error: invalid: .*Duplicate" $ERR

section "detach for real"
qmp detach hostdev0 20000
expect_eq "detach exit (DEVICE_DELETED seen)" $RC 0
qmp list
expect_eq "QOM: gone" "$RC:$(cat $OUT)" "0:"
check "inner QEMU let go of /dev/vfio/$G" sh -c "! ls -l /proc/$QPID/fd | grep -q /dev/vfio/$G\$"
qmp detach hostdev0 2000
check "second detach: not_found" grep -q "error: not_found: " $ERR

section "a device given at start-up (cold-plugged, guest never ran)"
COLD=/run/cold.qmp
start_inner $COLD /tmp/cold.log -device vfio-pci,host=$DEV,id=cold0,bus=rp1 || { finish; exit 1; }
CPID=$IPID
SOCK=$COLD
qmp list
expect_eq "QOM finds it" "$(cat $OUT)" "cold0 $DEV rp1"
qmp execute query-pci
check "query-pci misses it (bus behind rp1 not numbered yet)" \
    jqtest '[.. | objects | select(.qdev_id? == "cold0")] | length == 0' $OUT
check "... but lists rp1" jqtest '[.. | objects | select(.qdev_id? == "rp1")] | length == 1' $OUT
qmp free-bus
expect_eq "free bus" "$(cat $OUT)" rp2
t=$(uptime_s)
qmp detach cold0 2000
expect_eq "detach of a cold-plugged device on a never-started guest: exit" $RC 1
check "... timeout: no DEVICE_DELETED" grep -q "error: timeout: .*no DEVICE_DELETED within 2000 ms" $ERR
echo "    detach gave up after $(echo "$(uptime_s) $t" | awk '{ printf "%.2f", $1 - $2 }')s"
qmp detach cold0 500
check "... a second detach keeps waiting (unplug in progress), times out again" grep -q "error: timeout: " $ERR
kill $CPID; wait $CPID 2>/dev/null
SOCK=/run/inner.qmp

section "ptrec gives $DEV back"
ptq apply -f /tmp/empty.yaml --auto-approve
expect_eq "apply exit" $RC 0
expect_eq "driver" "$(drv $DEV)" e1000e

section "ptrec apply: vms: [{name: inner, qmp: /run/inner.qmp, devices: [$DEV]}]"
ptq plan -f /tmp/vm.yaml --json
expect_eq "plan exit (changes pending)" $RC 2
expect_eq "plan: bind, then attach" "$(jq -r "$KINDS" $OUT)" "bind attach"
t=$(uptime_s)
pt apply -f /tmp/vm.yaml --auto-approve
expect_eq "apply exit" $RC 0
echo "    apply took $(echo "$(uptime_s) $t" | awk '{ printf "%.2f", $1 - $2 }')s"
expect_eq "driver" "$(drv $DEV)" vfio-pci
qmp list
expect_eq "the inner QEMU has it (id ptrec-0000_01_00_0, first free port)" "$(cat $OUT)" "ptrec-0000_01_00_0 $DEV rp1"
check "inner QEMU holds /dev/vfio/$G" holds_group $G
pt plan -f /tmp/vm.yaml
expect_eq "second plan: nothing to do" $RC 0
pt plan -f /tmp/empty.yaml
expect_eq "the VM left out of the desired state: refused (no hotplug: true to detach live)" $RC 1
check "... naming the VM that still holds it" grep -q "running vm inner still holds it" $OUT $ERR
ptq plan -f /tmp/vm-none.yaml --json
expect_eq "devices: [] with hotplug: true: detach, then give back" "$(jq -r "$KINDS" $OUT)" "detach release"
t=$(uptime_s)
pt apply -f /tmp/vm-none.yaml --auto-approve
expect_eq "apply exit" $RC 0
echo "    apply took $(echo "$(uptime_s) $t" | awk '{ printf "%.2f", $1 - $2 }')s"
qmp list
expect_eq "QOM: gone" "$RC:$(cat $OUT)" "0:"
check "inner QEMU let go of /dev/vfio/$G" sh -c "! ls -l /proc/$QPID/fd | grep -q /dev/vfio/$G\$"
expect_eq "driver back" "$(drv $DEV)" e1000e
pt plan -f /tmp/empty.yaml
expect_eq "plan after: nothing to do" $RC 0

kill $QPID; wait $QPID 2>/dev/null
echo "inner QEMU log:"; sed 's/^/    /' /tmp/inner.log
echo "scenario time: $(echo "$(uptime_s) $T0" | awk '{ printf "%.1f", $1 - $2 }')s"
kmsg
finish
