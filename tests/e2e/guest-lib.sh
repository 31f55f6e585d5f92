# shellcheck shell=sh
# Installed as /lib/ptrec-e2e.sh in the e2e guest (busybox sh): helpers for ptrec scenarios.
# Installed by tests/e2e/run.  A scenario sources it with `. /lib/ptrec-e2e.sh`.
#
#   pass/fail TEXT          one result line; fail counts
#   check TEXT CMD...       pass if CMD succeeds
#   expect_eq TEXT GOT WANT pass if the strings are equal (prints both otherwise)
#   jqtest PROG FILE        true if the jq program yields true/non-null
#   pt ARGS...              runs /usr/bin/ptrec ARGS, prints "$ ptrec ARGS", its output
#                           indented and "-> exit N"; sets RC and leaves the
#                           output in $OUT (stdout) and $ERR (stderr) files
#   ptq ARGS...             same, but prints only the command and the exit code
#   desired FILE            writes stdin (YAML) to FILE
#   drv BDF / ovr BDF       driver name ("(none)") / driver_override ("(null)")
#   dump_state FILE         every device's driver, driver_override, sriov_numvfs,
#                           sriov_drivers_autoprobe, one line each, sorted
#   dump_state_net FILE     the same plus net=yes|no (has a net interface). Names are
#                           left out on purpose: the kernel names ethN by bind order
#                           (lowest free N), so they legitimately change when NICs
#                           are unbound and bound again in another order
#   settle_vfs PF           waits until nvme's async probe of PF's VFs has given up
#   artifact NAME DIR       prints DIR as tar.gz+base64 between markers; the host
#                           unpacks it into <workdir>/<scenario>/NAME/
#   carry PATH...           (multi-boot scenarios) prints the given files/directories,
#                           with their absolute paths, as the artifact `carry`: the
#                           host lays them over the next boot's initramfs at the same
#                           paths (missing paths are skipped with a note)
#   finish                  prints the summary line; returns 0 if no check failed
D=/sys/bus/pci/devices
OUT=/tmp/ptrec.out
ERR=/tmp/ptrec.err
fails=0
checks=0
RC=0

# jq program: a plan's actions as "kind device before after; ..." ("load_module NAME" for modules)
ACTIONS='[.actions[] | if .kind == "load_module" then "load_module \(.module)" else "\(.kind) \(.device) \(.before) \(.after)" end] | join("; ")'

pass() { checks=$((checks + 1)); echo "PASS - $*"; }
fail() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL - $*"; }
check() { _d=$1; shift; if "$@"; then pass "$_d"; else fail "$_d"; fi; }
expect_eq() {
    if [ "$2" = "$3" ]; then pass "$1 ($2)"; else fail "$1: got '$2', want '$3'"; fi
}
jqtest() { jq -e "$@" > /dev/null; }   # jqtest PROGRAM FILE: true if PROGRAM yields true
section() { echo; echo "### $*"; }

_pt() {
    /usr/bin/ptrec "$@" >$OUT 2>$ERR
    RC=$?
}
pt() {
    echo "\$ ptrec $*"
    _pt "$@"
    sed 's/^/    /' $OUT $ERR
    echo "    -> exit $RC"
}
ptq() {
    echo "\$ ptrec $*"
    _pt "$@"
    [ -s $ERR ] && sed 's/^/    stderr: /' $ERR
    echo "    -> exit $RC"
}

desired() { cat > "$1"; }

drv() {
    if [ -L $D/$1/driver ]; then basename "$(readlink $D/$1/driver)"; else echo "(none)"; fi
}
ovr() { cat $D/$1/driver_override 2>/dev/null || echo "(absent)"; }
numvfs() { cat $D/$1/sriov_numvfs 2>/dev/null || echo "-"; }
group_of() { basename "$(readlink $D/$1/iommu_group)"; }
netifs() { ls $D/$1/net 2>/dev/null | tr '\n' ' ' | sed 's/ $//'; }
virtfns() {   # "0000:03:00.1 0000:03:00.2" in virtfn order
    _n=0; _out=''
    while [ -L $D/$1/virtfn$_n ]; do
        _out="$_out $(basename "$(readlink $D/$1/virtfn$_n)")"; _n=$((_n + 1))
    done
    echo ${_out# }
}

dump_state() {
    for _d in $(ls $D); do
        _ap=$(cat $D/$_d/sriov_drivers_autoprobe 2>/dev/null || echo -)
        echo "$_d driver=$(drv $_d) override=$(ovr $_d) numvfs=$(numvfs $_d) autoprobe=$_ap"
    done | sort > "$1"
}
dump_state_net() {
    for _d in $(ls $D); do
        _ap=$(cat $D/$_d/sriov_drivers_autoprobe 2>/dev/null || echo -)
        _net=no; [ -n "$(netifs $_d)" ] && _net=yes
        echo "$_d driver=$(drv $_d) override=$(ovr $_d) numvfs=$(numvfs $_d) autoprobe=$_ap net=$_net"
    done | sort > "$1"
}
show_state() {   # one line per interesting device
    for _d in "$@"; do
        echo "    $_d driver=$(drv $_d) override=$(ovr $_d) numvfs=$(numvfs $_d) net=[$(netifs $_d)]"
    done
}
kmsg() { dmesg -c 2>/dev/null | sed 's/^/    kmsg: /'; }

# Waits up to $2 tenths of a second for a net interface under device $1.
wait_netif() {
    _i=0
    while [ $_i -lt ${2:-50} ]; do
        [ -n "$(netifs $1)" ] && return 0
        sleep 0.1; _i=$((_i + 1))
    done
    return 1
}

# nvme probes new VFs asynchronously: a VF shows driver=nvme for a moment,
# then nvme's reset work fails and unbinds it.  Waits (at most ~10 s) until no
# VF of PF $1 is on nvme any more; returns 1 on timeout.
settle_vfs() {
    _i=0
    while [ $_i -lt 100 ]; do
        _busy=0
        for _v in $(virtfns $1); do [ "$(drv $_v)" = nvme ] && _busy=1; done
        [ $_busy = 0 ] && return 0
        sleep 0.1; _i=$((_i + 1))
    done
    return 1
}

artifact() {
    echo "PTREC-E2E-ARTIFACT-BEGIN name=$1"
    tar -C "$2" -czf - . | base64
    echo "PTREC-E2E-ARTIFACT-END name=$1"
}

carry() {
    rm -rf /tmp/e2e-carry; mkdir -p /tmp/e2e-carry
    for _p in "$@"; do
        if [ -e "$_p" ] || [ -L "$_p" ]; then
            tar -C / -cf - "${_p#/}" | tar -C /tmp/e2e-carry -xf -
        else
            echo "    (carry: $_p does not exist, skipped)"
        fi
    done
    artifact carry /tmp/e2e-carry
}

finish() {
    echo
    echo "# $checks check(s), $fails failure(s)"
    [ $fails -eq 0 ]
}

# Kernel messages from before the scenario are of no interest to kmsg.
dmesg -c > /dev/null 2>&1
