#!/bin/sh
# refusal-group: 0000:02:00.0 and 0000:02:00.1 (two e1000e functions) share
# IOMMU group 6.
#   hide 02:00.0 alone (group: strict, the default): plan and apply exit 1,
#   the refusal names 02:00.1, nothing changes;
#   group: include: both functions end on vfio-pci, /dev/vfio/6 appears;
#   an empty desired state gives both back to e1000e.
. /lib/ptrec-e2e.sh

A=0000:02:00.0 B=0000:02:00.1
G=$(group_of $A)
desired /tmp/strict.yaml <<'EOF'
apiVersion: ptrec/v1
kind: HostConfig
hide:
  - device: "0000:02:00.0"
EOF
desired /tmp/include.yaml <<'EOF'
apiVersion: ptrec/v1
kind: HostConfig
hide:
  - device: "0000:02:00.0"
    driver: vfio-pci
    group: include
EOF
desired /tmp/empty.yaml <<'EOF'
apiVersion: ptrec/v1
kind: HostConfig
EOF
IFA=$(netifs $A) IFB=$(netifs $B)
show_state $A $B
dump_state /tmp/state.boot

section "group: strict (default)"
pt plan -f /tmp/strict.yaml
expect_eq "strict: plan exit code (refusal)" $RC 1
check "strict: refusal names $B" grep -q "$B" $OUT
ptq plan -f /tmp/strict.yaml --json
expect_eq "strict: --json refused" "$(jq -r .refused $OUT)" true
echo "    refusals: $(jq -r '[.findings[] | select(.severity == "refusal") | .message] | join(" | ")' $OUT)"
pt apply -f /tmp/strict.yaml --auto-approve
expect_eq "strict: apply exit code" $RC 1
dump_state /tmp/state.now
if cmp -s /tmp/state.boot /tmp/state.now; then pass "strict: nothing changed"
else fail "strict: state changed (- boot, + now):"; diff /tmp/state.boot /tmp/state.now | sed 's/^/    /'; fi
check "strict: no ledger entry" sh -c "! grep -qs '0000:02:00' /var/lib/ptrec/state.json"

section "group: include"
pt plan -f /tmp/include.yaml
expect_eq "include: plan exit code" $RC 2
ptq plan -f /tmp/include.yaml --json
expect_eq "include: planned" "$(jq -r "$ACTIONS" $OUT)" "bind $A e1000e vfio-pci; bind $B e1000e vfio-pci"
pt apply -f /tmp/include.yaml --auto-approve
expect_eq "include: apply exit code" $RC 0
show_state $A $B
kmsg
for d in $A $B; do
    expect_eq "include: $d driver" "$(drv $d)" vfio-pci
    expect_eq "include: $d driver_override" "$(ovr $d)" vfio-pci
done
check "include: /dev/vfio/$G exists" test -c /dev/vfio/$G
pt plan -f /tmp/include.yaml
expect_eq "include: second plan exit code (nothing to do)" $RC 0
pt apply -f /tmp/include.yaml --auto-approve
expect_eq "include: second apply exit code" $RC 0
expect_eq "include: after the second apply, both still on vfio-pci" "$(drv $A) $(drv $B)" "vfio-pci vfio-pci"

section "restore"
pt apply -f /tmp/empty.yaml --auto-approve
expect_eq "restore: apply exit code" $RC 0
wait_netif $A 50; wait_netif $B 50
show_state $A $B
kmsg
for d in $A $B; do
    expect_eq "restore: $d driver" "$(drv $d)" e1000e
    expect_eq "restore: $d driver_override" "$(ovr $d)" "(null)"
done
# Both NICs go back at once (apply runs devices in parallel) and the kernel names
# ethN by bind order, so which one gets which name is not fixed: each has one
# interface again, and together they use the names they had.
for d in $A $B; do check "restore: $d has a net interface" test -n "$(netifs $d)"; done
expect_eq "restore: interface names (as a set)" "$(printf '%s\n' $(netifs $A) $(netifs $B) | sort | tr '\n' ' ')" \
    "$(printf '%s\n' $IFA $IFB | sort | tr '\n' ' ')"
check "restore: /dev/vfio/$G gone" test ! -e /dev/vfio/$G
pt plan -f /tmp/empty.yaml
expect_eq "restore: plan again exit code" $RC 0
dump_state /tmp/state.now
if cmp -s /tmp/state.boot /tmp/state.now; then pass "restore: every driver/override/numvfs as at boot"
else fail "restore: state differs from boot (- boot, + now):"; diff /tmp/state.boot /tmp/state.now | sed 's/^/    /'; fi
finish
