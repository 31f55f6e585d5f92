#!/bin/sh
# hide-vfio: hide the lone e1000e 0000:01:00.0 on vfio-pci for real, then give
# it back with an empty desired state.
#   plan exits 2 and names the device; apply binds it (driver link vfio-pci,
#   driver_override vfio-pci, /dev/vfio/<group>); a second plan exits 0; the
#   empty desired state gives it back to e1000e and its interface returns.
# Then the same with vfio_pci unloaded: the plan must load the module first.
# Then a saved plan (plan --out, apply FILE), a module reload (vfio_pci's
# disable_idle_d3 while the NIC is on vfio-pci: "at next boot" without
# allowReload; with it, modprobe -r + modprobe and the NIC is back on vfio-pci),
# and a saved plan that went stale (a VF enabled by hand in between): refused,
# nothing changed.
. /lib/ptrec-e2e.sh

DEV=0000:01:00.0
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

G=$(group_of $DEV)
IF0=$(netifs $DEV)
show_state $DEV
dump_state /tmp/state.boot

hide_and_restore() {   # hide_and_restore LABEL EXPECTED-LOAD-MODULE-OR-EMPTY
    label=$1 module=$2
    section "$label: plan"
    pt plan -f /tmp/hide.yaml
    expect_eq "$label: plan exit code (changes pending)" $RC 2
    check "$label: plan text names $DEV" grep -q "$DEV" $OUT
    ptq plan -f /tmp/hide.yaml --json
    cp $OUT /tmp/plan.json
    expect_eq "$label: plan actions (kind device before after)" \
        "$(jq -r "$ACTIONS" /tmp/plan.json)" \
        "${module:+load_module $module; }bind $DEV e1000e vfio-pci"
    expect_eq "$label: plan refused" "$(jq -r .refused /tmp/plan.json)" false

    section "$label: apply"
    pt apply -f /tmp/hide.yaml --auto-approve
    expect_eq "$label: apply exit code" $RC 0
    show_state $DEV
    kmsg
    expect_eq "$label: driver link" "$(drv $DEV)" vfio-pci
    expect_eq "$label: driver_override" "$(ovr $DEV)" vfio-pci
    check "$label: /dev/vfio/$G exists" test -c /dev/vfio/$G
    check "$label: no net interface left on $DEV" test -z "$(netifs $DEV)"
    [ -n "$module" ] && check "$label: module $module loaded (/sys/module/$module)" test -d /sys/module/$module
    check "$label: ledger var/lib/ptrec/state.json records $DEV" grep -q "$DEV" /var/lib/ptrec/state.json

    section "$label: plan again (nothing to do)"
    pt plan -f /tmp/hide.yaml
    expect_eq "$label: second plan exit code" $RC 0
    pt apply -f /tmp/hide.yaml --auto-approve
    expect_eq "$label: second apply exit code" $RC 0
    expect_eq "$label: still on vfio-pci" "$(drv $DEV)" vfio-pci

    section "$label: empty desired state gives it back"
    pt plan -f /tmp/empty.yaml
    expect_eq "$label: plan exit code" $RC 2
    ptq plan -f /tmp/empty.yaml --json
    expect_eq "$label: release action" \
        "$(jq -r "$ACTIONS" $OUT)" \
        "release $DEV vfio-pci e1000e"
    pt apply -f /tmp/empty.yaml --auto-approve
    expect_eq "$label: apply exit code" $RC 0
    check "$label: a net interface reappears on $DEV" wait_netif $DEV 50
    show_state $DEV
    kmsg
    expect_eq "$label: driver link" "$(drv $DEV)" e1000e
    expect_eq "$label: driver_override cleared" "$(ovr $DEV)" "(null)"
    expect_eq "$label: interface name" "$(netifs $DEV)" "$IF0"
    check "$label: /dev/vfio/$G gone" test ! -e /dev/vfio/$G
    check "$label: ledger no longer mentions $DEV" sh -c "! grep -q '$DEV' /var/lib/ptrec/state.json"
    pt plan -f /tmp/empty.yaml
    expect_eq "$label: plan after restore exit code" $RC 0
    dump_state /tmp/state.now
    if cmp -s /tmp/state.boot /tmp/state.now; then pass "$label: every driver/override/numvfs as at boot"
    else fail "$label: state differs from boot (- boot, + now):"; diff /tmp/state.boot /tmp/state.now | sed 's/^/    /'; fi
}

hide_and_restore "vfio_pci loaded" ""

section "unload vfio_pci"
/usr/sbin/modprobe -r vfio_pci; echo "    modprobe -r vfio_pci -> exit $?"
check "vfio-pci driver gone from /sys/bus/pci/drivers" test ! -e /sys/bus/pci/drivers/vfio-pci
hide_and_restore "vfio_pci not loaded" vfio_pci

section "saved plan: plan --out FILE, apply FILE"
pt plan -f /tmp/hide.yaml --out /tmp/saved.json
expect_eq "saved plan: plan exit code" $RC 2
pt apply /tmp/saved.json --auto-approve
expect_eq "saved plan: apply exit code" $RC 0
expect_eq "saved plan: driver link" "$(drv $DEV)" vfio-pci
pt apply -f /tmp/empty.yaml --auto-approve
expect_eq "saved plan: give back exit code" $RC 0
wait_netif $DEV 50

section "module reload: vfio_pci disable_idle_d3 while $DEV is on vfio-pci"
pt apply -f /tmp/hide.yaml --auto-approve
expect_eq "reload: $DEV hidden again" "$(drv $DEV)" vfio-pci
{ cat /tmp/hide.yaml; printf 'modules:\n  - name: vfio_pci\n    parameters: {disable_idle_d3: 1}\n'; } > /tmp/reload-no.yaml
{ cat /tmp/reload-no.yaml; printf '    allowReload: true\n'; } > /tmp/reload-yes.yaml
expect_eq "reload: disable_idle_d3 at boot" "$(cat /sys/module/vfio_pci/parameters/disable_idle_d3)" N
ptq plan -f /tmp/reload-no.yaml --json
expect_eq "without allowReload: no reload action" "$(jq -r '[.actions[] | select(.kind == "reload_module")] | length' $OUT)" 0
check "without allowReload: pending 'at next boot' because $DEV uses it" \
    jqtest '.pending_reboot | any(test("vfio_pci disable_idle_d3=1 at next boot.*1 device\\(s\\) use it and allowReload is not set"))' $OUT
jq -r '.pending_reboot[]' $OUT | sed 's/^/    pending: /'
ptq plan -f /tmp/reload-yes.yaml --json
expect_eq "with allowReload: the reload, disrupting $DEV" \
    "$(jq -r '[.actions[] | select(.kind == "reload_module") | "\(.module) \(.after) [\(.disrupts | map(split(" ")[0]) | join(","))]"] | join(";")' $OUT)" \
    "vfio_pci disable_idle_d3=1 [$DEV]"
pt apply -f /tmp/reload-yes.yaml --auto-approve
expect_eq "reload: apply exit code" $RC 0
expect_eq "reload: running disable_idle_d3" "$(cat /sys/module/vfio_pci/parameters/disable_idle_d3)" Y
expect_eq "reload: $DEV back on vfio-pci (driver_override kept)" "$(drv $DEV) $(ovr $DEV)" "vfio-pci vfio-pci"
check "reload: /dev/vfio/$G again" test -c /dev/vfio/$G
check "reload: options in /etc/modprobe.d/ptrec.conf" grep -qx "options vfio_pci disable_idle_d3=1" /etc/modprobe.d/ptrec.conf
ptq plan -f /tmp/reload-yes.yaml --json
expect_eq "reload: plan again: no actions, nothing pending" "$RC $(jq -r '(.actions | length), (.pending_reboot | length)' $OUT | tr '\n' ' ')" "0 0 0 "
pt apply -f /tmp/empty.yaml --auto-approve
expect_eq "reload: give back exit code" $RC 0
check "reload: ptrec.conf removed with the modules entry" test ! -e /etc/modprobe.d/ptrec.conf
wait_netif $DEV 50

section "stale saved plan: the host changed after planning"
pt plan -f /tmp/hide.yaml --out /tmp/stale.json
echo 1 > $D/0000:03:00.0/sriov_numvfs; echo "    by hand: echo 1 > 0000:03:00.0/sriov_numvfs -> exit $?"
settle_vfs 0000:03:00.0
dump_state /tmp/state.before
pt apply /tmp/stale.json --auto-approve
expect_eq "stale saved plan: apply exit code (refused)" $RC 1
check "stale saved plan: the refusal mentions the fingerprint or a host change" grep -qiE "fingerprint|changed" $OUT $ERR
dump_state /tmp/state.after
if cmp -s /tmp/state.before /tmp/state.after; then pass "stale saved plan: nothing changed"
else fail "stale saved plan: state changed (- before, + after):"; diff /tmp/state.before /tmp/state.after | sed 's/^/    /'; fi
echo 0 > $D/0000:03:00.0/sriov_numvfs
finish
