#!/usr/bin/env bash
# rollback (host half), run by tests/e2e/run after the guest half.  The guest
# left in <dir>/rollback/: snap/ (ptrec snapshot with 01:00.0 and group 6 on
# vfio-pci and group 6 held by vfio-hold), user-owned-groups (6),
# desired.yaml, plan.json, apply.json + apply.rc (the real apply, refused by
# the kernel and rolled back), ledger-before.json, show-before.json,
# show-after.json, and apply2.json + apply2.rc + show-after2.json (the same
# apply once the VM had stopped).
# Sysfs does not show that a VFIO container owns a group, so the snapshot
# cannot carry it: the replay tells the simulated kernel in .ptrec-sim.yaml
# (user_owned_iommu_groups), as a user rehearsing "the VM still runs" would.
#   1. the failing apply: same exit code, step outcomes, rollback, and host
#      after it (driver, override, VF counts, groups, interfaces) as the real one;
#   2. the VM stops (no owned group): the same apply succeeds on the sim's own
#      result, with the same host as the real one, interface names included
#      (the sim names new interfaces ethN by bind order as the kernel does).
. "${PTREC_E2E_HOST_LIB:?run me through tests/e2e/run}"
host_init "$1"
P=$OUTDIR/rollback
[ -d "$P" ] || { echo "FAIL - no artifact $P (did the guest half run?)"; exit 1; }
GROUPS_OWNED=$(cat "$P/user-owned-groups")

show_json "$P/snap" "$W/snapshow.json"
diff_json "show --root snap = the real show before the apply" "$SHOW_ALL" "$P/show-before.json" "$W/snapshow.json"

cp -a "$P/snap" "$W/sim"
printf 'user_owned_iommu_groups: [%s]\n' "$GROUPS_OWNED" > "$W/sim/.ptrec-sim.yaml"
"$PTREC" plan -f "$P/desired.yaml" --json --root "$W/sim" > "$W/plan.sim.json" 2> /dev/null
diff_json "planned actions" "$PLAN_ACTIONS" "$P/plan.json" "$W/plan.sim.json"

echo "### the VM holds group $GROUPS_OWNED: apply -j 1"
"$PTREC" apply -f "$P/desired.yaml" --simulate --auto-approve --json -j 1 --root "$W/sim" > "$W/apply.sim.json" 2> "$W/apply.err"
rc=$?
[ "$rc" = "$(cat "$P/apply.rc")" ] && pass "simulated apply exit code $rc, as the real one" \
    || fail "simulated apply exited $rc, the real one $(cat "$P/apply.rc") ($(head -n 3 "$W/apply.err"))"
diff_json "step outcomes" "$STEPS" "$P/apply.json" "$W/apply.sim.json"
diff_json "rolled_back, error code" '"rolled_back=\(.rolled_back) error=\(.error.code // "-")"' "$P/apply.json" "$W/apply.sim.json"
echo "    real error: $(jq -r '.error.message // "-"' "$P/apply.json")"
echo "    sim error:  $(jq -r '.error.message // "-"' "$W/apply.sim.json")"
show_json "$W/sim" "$W/show-after.sim.json"
diff_json "host after the rolled back apply" "$DEVICE_FACTS" "$P/show-after.json" "$W/show-after.sim.json"
diff_json "ledger after the rolled back apply = before" '.bindings[], .vf_counts[] | tojson' \
    "$P/ledger-before.json" "$W/sim/var/lib/ptrec/state.json"

echo "### the VM stopped: the same apply on the sim's result"
rm -f "$W/sim/.ptrec-sim.yaml"
"$PTREC" apply -f "$P/desired.yaml" --simulate --auto-approve --json -j 1 --root "$W/sim" > "$W/apply2.sim.json" 2> "$W/apply2.err"
rc=$?
[ "$rc" = "$(cat "$P/apply2.rc")" ] && pass "simulated apply exit code $rc, as the real one" \
    || fail "simulated apply exited $rc, the real one $(cat "$P/apply2.rc") ($(head -n 3 "$W/apply2.err"))"
diff_json "step outcomes" "$STEPS" "$P/apply2.json" "$W/apply2.sim.json"
show_json "$W/sim" "$W/show-after2.sim.json"
diff_json "host after the apply (interface names included)" "$DEVICE_FACTS" "$P/show-after2.json" "$W/show-after2.sim.json"
host_finish
