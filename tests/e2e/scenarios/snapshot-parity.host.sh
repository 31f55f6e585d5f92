#!/usr/bin/env bash
# snapshot-parity (host half), run by tests/e2e/run after the guest half as
#   bash snapshot-parity.host.sh <workdir>/snapshot-parity
# with PTREC_BIN set.  The guest left in <dir>/parity/:
#   snapN/        ptrec snapshot of the real guest before stage N+1
#   showN.json    ptrec show --json of the real guest at the same moment
#   planN.json    ptrec plan --json of desiredN.yaml on the real guest
#   applyN.json   the real apply
#   ledgerN.json  ptrec's var/lib/ptrec/state.json after stage N
#   sysfsN.txt    driver/override/numvfs per device (guest-lib dump_state)
# For each stage this replays the same plan on a copy of the snapshot with the
# simulated kernel and compares with the real kernel:
#   a. show --json --root SNAP   = the real show at snapshot time (snapshot fidelity)
#   b. plan --json --root SNAP   = the real plan (same fingerprint, same actions)
#   c. apply --simulate on a copy of SNAP, then show --json  = the real show after
#      (driver, driver_override, sriov numvfs, VF BDFs, physfn, IOMMU group,
#      net interfaces per device)
#   d. chained: stage 2 planned and applied on the sim's own stage-1 result,
#      compared with the real plan and the real host after stage 2
# Every disagreement is printed as "FAIL - ..." with both sides; the step
# exits 1 if there is any.
. "${PTREC_E2E_HOST_LIB:?run me through tests/e2e/run}"
host_init "$1"
P=$OUTDIR/parity
[ -d "$P" ] || { echo "FAIL - no artifact $P (did the guest half run?)"; exit 1; }

stage() {   # stage N
    local n=$1 prev=$(($1 - 1)) snap=$P/snap$(($1 - 1)) copy=$W/sim$1 rc
    echo "### stage $n: $(jq -r '[.actions[] | "\(.kind) \(.device) \(.before)->\(.after)"] | join("; ")' "$P/plan$n.json")"
    [ "$(cat "$P/apply$n.rc")" = 0 ] || fail "stage $n: the real apply exited $(cat "$P/apply$n.rc"); comparing anyway"

    # a. snapshot fidelity
    show_json "$snap" "$W/snapshow$prev.json"
    diff_json "stage $n: show --root snap$prev = real show$prev (all fields)" \
        "$SHOW_ALL" "$P/show$prev.json" "$W/snapshow$prev.json"

    # b. plan on the snapshot
    cp -a "$snap" "$copy"
    "$PTREC" plan -f "$P/desired$n.yaml" --json --root "$copy" > "$W/plan$n.sim.json" 2> "$W/plan.err"
    rc=$?
    [ "$rc" = "$(cat "$P/plan$n.rc")" ] && pass "stage $n: plan exit code $rc on the snapshot, as on the real host" \
        || fail "stage $n: plan exit code on the snapshot $rc, real $(cat "$P/plan$n.rc") ($(cat "$W/plan.err"))"
    [ "$(jq -r .fingerprint "$W/plan$n.sim.json")" = "$(jq -r .fingerprint "$P/plan$n.json")" ] \
        && pass "stage $n: fingerprint of the snapshot = the real host's ($(jq -r .fingerprint "$P/plan$n.json"))" \
        || fail "stage $n: fingerprint: real $(jq -r .fingerprint "$P/plan$n.json"), snapshot $(jq -r .fingerprint "$W/plan$n.sim.json")"
    diff_json "stage $n: planned actions" "$PLAN_ACTIONS" "$P/plan$n.json" "$W/plan$n.sim.json"
    diff_json "stage $n: findings" '.findings[] | "\(.severity) \(.subject) \(.message)"' "$P/plan$n.json" "$W/plan$n.sim.json"

    # c. simulated apply, then compare the resulting host
    "$PTREC" apply -f "$P/desired$n.yaml" --simulate --auto-approve --json --root "$copy" > "$W/apply$n.sim.json" 2> "$W/apply.err"
    rc=$?
    [ "$rc" = "$(cat "$P/apply$n.rc")" ] && pass "stage $n: simulated apply exit code $rc, as the real one" \
        || fail "stage $n: simulated apply exited $rc, the real one $(cat "$P/apply$n.rc") ($(cat "$W/apply.err"))"
    diff_json "stage $n: apply step outcomes" "$STEPS" "$P/apply$n.json" "$W/apply$n.sim.json"
    show_json "$copy" "$W/show$n.sim.json"
    diff_json "stage $n: host after apply (driver, override, numvfs, VFs, groups, interfaces)" \
        "$DEVICE_FACTS" "$P/show$n.json" "$W/show$n.sim.json"
    diff_json "stage $n: IOMMU groups after apply" '.iommu_groups | to_entries[] | "\(.key) \(.value | join(","))"' \
        "$P/show$n.json" "$W/show$n.sim.json"
    diff_json "stage $n: loaded drivers after apply" '.loaded_drivers[]' "$P/show$n.json" "$W/show$n.sim.json"
    diff_json "stage $n: ptrec ledger after apply" '.bindings[], .vf_counts[] | tojson' \
        "$P/ledger$n.json" "$copy/var/lib/ptrec/state.json"
}

stage 1
stage 2

# d. chaining: stage 2's plan on the sim's own result of stage 1.
echo "### chained: stage 2 planned on the sim's stage-1 result"
"$PTREC" plan -f "$P/desired2.yaml" --json --root "$W/sim1" > "$W/plan2.chained.json" 2> /dev/null
diff_json "chained: planned actions" "$PLAN_ACTIONS" "$P/plan2.json" "$W/plan2.chained.json"
"$PTREC" apply -f "$P/desired2.yaml" --simulate --auto-approve --json --root "$W/sim1" > "$W/apply2.chained.json" 2> /dev/null
rc=$?
[ "$rc" = "$(cat "$P/apply2.rc")" ] && pass "chained: simulated apply exit code $rc, as the real one" \
    || fail "chained: simulated apply exited $rc, the real one $(cat "$P/apply2.rc")"
show_json "$W/sim1" "$W/show2.chained.json"
diff_json "chained: host after apply" "$DEVICE_FACTS" "$P/show2.json" "$W/show2.chained.json"

host_finish
