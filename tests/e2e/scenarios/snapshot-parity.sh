#!/bin/sh
# snapshot-parity (guest half): records what the real kernel does, so that the
# host half (snapshot-parity.host.sh) can replay it on ptrec's snapshot with
# the simulated kernel and compare.
#   (ledgerN.json: ptrec's var/lib/ptrec/state.json after stage N)
#   stage 1: snapshot, plan --json and a real apply of
#            NVMe 0000:03:00.0 numVfs 2 on vfio-pci + hide 0000:01:00.0 on vfio-pci,
#            then show --json;
#   stage 2: snapshot again, then the same for an empty desired state (gives
#            everything back through ptrec's ledger).
# Everything goes to the host as the artifact "parity".
. /lib/ptrec-e2e.sh

A=/tmp/parity
mkdir -p $A
desired $A/desired1.yaml <<'EOF'
apiVersion: ptrec/v1
kind: HostConfig
sriov:
  - device: "0000:03:00.0"
    numVfs: 2
    vfDriver: vfio-pci
hide:
  - device: "0000:01:00.0"
    driver: vfio-pci
EOF
desired $A/desired2.yaml <<'EOF'
apiVersion: ptrec/v1
kind: HostConfig
EOF

record() {   # record NAME ARGS...: ptrec ARGS > $A/NAME.json, exit code to $A/NAME.rc
    name=$1; shift
    ptq "$@"
    cp $OUT $A/$name.json
    echo $RC > $A/$name.rc
}

stage() {   # stage N
    n=$1 prev=$(($1 - 1))
    section "stage $n: snapshot, plan, apply, show"
    record show$prev show --json
    ptq snapshot --out $A/snap$prev
    sed 's/^/    /' $OUT
    expect_eq "stage $n: snapshot exit code" $RC 0
    dump_state $A/sysfs$prev.txt
    record plan$n plan -f $A/desired$n.yaml --json
    expect_eq "stage $n: plan exit code" $RC 2
    echo "    actions: $(jq -r "$ACTIONS" $A/plan$n.json)"
    record apply$n apply -f $A/desired$n.yaml --auto-approve --json
    expect_eq "stage $n: apply exit code" $RC 0
    jq -r '.steps[] | "    step \(.id): \(.status) \(.message)"' $A/apply$n.json
    cp /var/lib/ptrec/state.json $A/ledger$n.json
    kmsg
    wait_netif 0000:01:00.0 30
}

stage 1
stage 2
record show2 show --json
dump_state $A/sysfs2.txt
show_state 0000:01:00.0 0000:03:00.0

section "artifact"
echo "    $(find $A -type f | wc -l) files, $(find $A -type l | wc -l) links, $(du -sk $A | cut -f1) KiB"
artifact parity $A
finish
