# shellcheck shell=bash
# Helpers for host-side scenario steps (scenarios/NAME.host.sh), bash.
# tests/e2e/run runs a step as `bash NAME.host.sh <workdir>/NAME` with
# PTREC_BIN and PTREC_E2E_HOST_LIB (this file) set; the step sources it:
#   . "$PTREC_E2E_HOST_LIB"; host_init "$1"
#
#   host_init DIR            sets OUTDIR=DIR, PTREC, W=DIR/host (emptied scratch dir)
#   pass/fail TEXT           result lines; fail counts
#   diff_json LABEL PROG REAL SIM
#                            runs the jq program on both files and compares the
#                            sorted lines: PASS, or FAIL with every differing
#                            line as "real:" / "sim:"
#   show_json ROOT OUT       ptrec show --json --root ROOT > OUT
#   host_finish              summary line; returns 1 if anything failed
#
# Prep steps (scenarios/NAME.prep.sh, run as `bash NAME.prep.sh DESTDIR` before
# the scenario's first boot; DESTDIR becomes an extra initramfs laid over the
# common one):
#   prep_init DESTDIR        sets ROOT=DESTDIR (created)
#   copy_file SRC [DEST]     copies SRC (symlinks followed) to $ROOT/DEST (default: same path)
#   copy_with_libs BIN DEST  copies BIN to $ROOT/DEST plus every shared library ldd names
#   KREL, KDIR               the guest kernel's release and unpacked package (lib/modules/KREL)
#
# Reboot steps (scenarios/NAME.reboot.sh, run between the boots of a multi-boot
# scenario as `bash NAME.reboot.sh BOOTDIR K`, BOOTDIR = <workdir>/NAME/bootK
# with boot K's artifacts; what it prints on stdout is the kernel command line of
# boot K+1, minus the harness's own console/marker args):
#   grub_cfg_args GRUB_CFG   the args of the first `linux` line of a grub.cfg, without the
#                            image path, root= and ro/rw (what GRUB would boot)
#   grub_default_args FILE   "$GRUB_CMDLINE_LINUX $GRUB_CMDLINE_LINUX_DEFAULT" of an
#                            /etc/default/grub, read the way grub-mkconfig does (sourced
#                            by sh, in a subshell with an empty environment)
set -uo pipefail
fails=0 checks=0
pass() { checks=$((checks + 1)); echo "PASS - $*"; }
fail() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL - $*"; }

host_init() {
    OUTDIR=${1:?usage: NAME.host.sh DIR}
    PTREC=${PTREC_BIN:?PTREC_BIN not set}
    W=$OUTDIR/host
    rm -rf "$W"; mkdir -p "$W"
}

# Facts compared per device, one line each.
DEVICE_FACTS='.devices[] | "\(.bdf) driver=\(.driver) override=\(.driver_override) group=\(.iommu_group)"
    + " numvfs=\(.sriov.num_vfs // "-") autoprobe=\(.sriov.drivers_autoprobe // "-") physfn=\(.physfn // "-")"
    + " vf_index=\(.vf_index // "-") vfs=[\(.vfs | join(","))] net=[\(.net_interfaces | join(","))]"'
# A whole show document but its root path, one line per device.
SHOW_ALL='(del(.root, .devices) | tojson), (.devices[] | tojson)'
# A plan's actions with what they do (not their reason text, which names the YAML path).
# (`module` is a jq keyword, hence the quoted key.)
PLAN_ACTIONS='.actions[] | {id, kind, phase, device, before, after, driver, driver_override, num_vfs,
    from_num_vfs, autoprobe_off, "module": .["module"], vf, deps} | tojson'
# Step outcomes of an apply --json.
STEPS='.steps[] | "step \(.id) \(.status)"'

diff_json() {
    local label=$1 prog=$2 real=$3 sim=$4 side f
    for side in real sim; do
        if [ $side = real ]; then f=$real; else f=$sim; fi
        if ! jq -r "$prog" "$f" > "$W/jq.out" 2> "$W/jq.err"; then
            fail "$label: cannot read $f: $(head -n1 "$W/jq.err")"
            return 1
        fi
        sort "$W/jq.out" > "$W/$side.txt"
    done
    if cmp -s "$W/real.txt" "$W/sim.txt"; then
        pass "$label ($(wc -l < "$W/real.txt") lines agree)"
        return 0
    fi
    fail "$label: real kernel and sim disagree:"
    diff "$W/real.txt" "$W/sim.txt" | sed -n 's/^< /       real: /p; s/^> /       sim:  /p'
    return 1
}

show_json() {
    "$PTREC" show --json --root "$1" > "$2" 2> "$W/show.err" \
        || echo "    (ptrec show --root $1 exited $?: $(cat "$W/show.err"))"
}

host_finish() {
    echo "# host step: $checks check(s), $fails failure(s); files in $W"
    [ $fails -eq 0 ]
}

prep_init() {
    ROOT=${1:?usage: NAME.prep.sh DESTDIR}
    mkdir -p "$ROOT"
}

copy_file() {   # copy_file SRC [DEST-in-root]; dereferences symlinks
    local src=$1 dst=${2:-$1}
    mkdir -p "$ROOT$(dirname "$dst")"
    cp -L "$src" "$ROOT$dst"
}

copy_with_libs() {   # copy_with_libs BINARY DEST-in-root
    local bin=$1 dst=$2 lib
    copy_file "$bin" "$dst"
    # "libfoo.so => /path (0x...)" and "/lib64/ld-linux-x86-64.so.2 (0x...)"
    for lib in $(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*' || true); do
        [ -e "$ROOT$lib" ] || copy_file "$lib"
    done
}

grub_cfg_args() {
    awk '$1 == "linux" { for (i = 3; i <= NF; i++) if ($i !~ /^root=/ && $i != "ro" && $i != "rw")
                             printf "%s%s", (n++ ? " " : ""), $i
                         print ""; exit }' "$1"
}

grub_default_args() {
    local f=$1
    case $f in */*) ;; *) f=./$f ;; esac   # sh's `.` searches PATH for a bare name
    env -i sh -c '. "$1" && echo $GRUB_CMDLINE_LINUX $GRUB_CMDLINE_LINUX_DEFAULT' sh "$f"
}
