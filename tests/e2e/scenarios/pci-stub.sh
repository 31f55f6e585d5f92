#!/bin/sh
# pci-stub: hide the lone e1000e 0000:01:00.0 on pci-stub and give it back,
#   1. with pci_stub loaded (as guest-init leaves it), selected by interface
#      name (eth0): the second plan must still resolve eth0 after the
#      interface went away (ptrec's ledger);
#   2. with pci_stub unloaded (modprobe -r): the plan must load the module
#      (modules.dep has it) or refuse clearly;
#   3. with pci_stub unloaded and its .ko missing from lib/modules: the plan
#      must refuse, naming the module (and change nothing).
. /lib/ptrec-e2e.sh

DEV=0000:01:00.0
IF0=$(netifs $DEV)
desired /tmp/by-if.yaml <<EOF
apiVersion: ptrec/v1
kind: HostConfig
hide:
  - interface: $IF0
    driver: pci-stub
EOF
desired /tmp/by-bdf.yaml <<'EOF'
apiVersion: ptrec/v1
kind: HostConfig
hide:
  - device: "0000:01:00.0"
    driver: pci-stub
EOF
desired /tmp/empty.yaml <<'EOF'
apiVersion: ptrec/v1
kind: HostConfig
EOF
show_state $DEV
dump_state /tmp/state.boot

hide_and_restore() {   # LABEL YAML EXPECTED-MODULE-LOAD-OR-EMPTY
    label=$1 yaml=$2 module=$3
    section "$label: plan + apply"
    pt plan -f $yaml
    expect_eq "$label: plan exit code" $RC 2
    ptq plan -f $yaml --json
    expect_eq "$label: plan actions" "$(jq -r "$ACTIONS" $OUT)" "${module:+load_module $module; }bind $DEV e1000e pci-stub"
    pt apply -f $yaml --auto-approve
    expect_eq "$label: apply exit code" $RC 0
    show_state $DEV
    kmsg
    expect_eq "$label: driver link" "$(drv $DEV)" pci-stub
    expect_eq "$label: driver_override" "$(ovr $DEV)" pci-stub
    check "$label: no net interface on $DEV" test -z "$(netifs $DEV)"
    check "$label: no /dev/vfio/$(group_of $DEV) (pci-stub is not VFIO)" test ! -e /dev/vfio/$(group_of $DEV)
    pt plan -f $yaml
    expect_eq "$label: second plan exit code (nothing to do)" $RC 0

    section "$label: give back"
    pt apply -f /tmp/empty.yaml --auto-approve
    expect_eq "$label: apply exit code" $RC 0
    check "$label: net interface back on $DEV" wait_netif $DEV 50
    show_state $DEV
    kmsg
    expect_eq "$label: driver link" "$(drv $DEV)" e1000e
    expect_eq "$label: driver_override" "$(ovr $DEV)" "(null)"
    expect_eq "$label: interface name" "$(netifs $DEV)" "$IF0"
    pt plan -f /tmp/empty.yaml
    expect_eq "$label: plan after restore exit code" $RC 0
    dump_state /tmp/state.now
    if cmp -s /tmp/state.boot /tmp/state.now; then pass "$label: every driver/override/numvfs as at boot"
    else fail "$label: state differs from boot (- boot, + now):"; diff /tmp/state.boot /tmp/state.now | sed 's/^/    /'; fi
}

hide_and_restore "pci_stub loaded, by interface $IF0" /tmp/by-if.yaml ""

section "unload pci_stub"
/usr/sbin/modprobe -r pci_stub; echo "    modprobe -r pci_stub -> exit $?"
check "pci-stub gone from /sys/bus/pci/drivers and /sys/module" \
    test ! -e /sys/bus/pci/drivers/pci-stub -a ! -e /sys/module/pci_stub
hide_and_restore "pci_stub not loaded" /tmp/by-bdf.yaml pci_stub

section "pci_stub unloaded and not installed"
/usr/sbin/modprobe -r pci_stub; echo "    modprobe -r pci_stub -> exit $?"
KO=$(/usr/sbin/modprobe --show-depends pci_stub 2>/dev/null | awk '$1 == "insmod" { print $2 }')
mv "$KO" /tmp/pci-stub.ko.hidden
/usr/sbin/depmod; echo "    moved $KO away, depmod -> exit $?"
dump_state /tmp/state.before
pt plan -f /tmp/by-bdf.yaml
expect_eq "plan exit code (refusal)" $RC 1
check "plan names the module pci_stub" grep -q pci_stub $OUT
pt apply -f /tmp/by-bdf.yaml --auto-approve
expect_eq "apply exit code (refusal)" $RC 1
dump_state /tmp/state.after
if cmp -s /tmp/state.before /tmp/state.after; then pass "nothing changed"
else fail "state changed (- before, + after):"; diff /tmp/state.before /tmp/state.after | sed 's/^/    /'; fi
mv /tmp/pci-stub.ko.hidden "$KO"; /usr/sbin/depmod
finish
