#!/bin/sh
# /init of the e2e guest (busybox sh).  Installed by tests/e2e/run.
#
# Mounts the pseudo file systems, loads the modules listed in
# /etc/e2e-modules with kmod's modprobe (by full path: busybox sh would run its
# own modprobe applet otherwise), runs /scenarios/$NAME.sh where NAME comes
# from ptrec.scenario=NAME on the kernel command line, prints
#   PTREC-E2E-RESULT name=NAME status=pass|fail
#   PTREC-E2E-EXIT <code>
# on the console and powers off.
#
# Boot emulation: when /etc/e2e-boot-emulation exists (a scenario's prep step
# puts it there), /init also plays what udev and systemd do at boot on a real
# host, for the files ptrec writes (the guest runs neither):
#   - creates /run/udev/control and /run/systemd/system (how ptrec, like
#     sd_booted(3), tells that udev and systemd run);
#   - udev coldplug: before any module loads, every ACTION=="add" rule of
#     /etc/udev/rules.d/*.rules is matched against each PCI device and its
#     ATTR{...}="..." assignments are written; once the modules are loaded,
#     the ACTION=="bind" rules for each device with a driver (keys understood:
#     ACTION, SUBSYSTEM, KERNEL (glob), ATTR{x}=; a rule with any other key is
#     reported and skipped);
#   - systemd: runs ExecStart= of each unit enabled in
#     /etc/systemd/system/*.wants/ (ConditionPathExists= honoured), after the
#     modules, writing /run/e2e-boot/UNIT.log and UNIT.rc and a console line
#     `PTREC-E2E-UNIT name=UNIT exit=N`.
#   /run/e2e-boot/udev.log lists every rule write; /run/e2e-boot/before-units
#   holds each PCI device's driver and driver_override just before the units run.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root

mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /dev/pts /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
echo /usr/sbin/modprobe > /proc/sys/kernel/modprobe

finish() {
    echo "PTREC-E2E-EXIT $1"
    sleep 0.3          # let the UART drain before the machine goes away
    sync
    poweroff -f
    sleep 5
    exit "$1"          # init exiting panics; panic=-1 + -no-reboot ends QEMU
}

NAME=
E2E_BOOT=1
for arg in $(cat /proc/cmdline); do
    case $arg in
        ptrec.scenario=*) NAME=${arg#ptrec.scenario=} ;;
        ptrec.boot=*) E2E_BOOT=${arg#ptrec.boot=} ;;   # 1, 2, ... in a multi-boot scenario
    esac
done
export E2E_BOOT
echo "PTREC-E2E-BOOTED uptime=$(cut -d' ' -f1 /proc/uptime) scenario=$NAME boot=$E2E_BOOT"

# udev_play ACTION: the rules of /etc/udev/rules.d for ACTION, applied to the PCI
# devices (for "bind": those with a driver), in rule-file order.
udev_play() {
    for rules in /etc/udev/rules.d/*.rules; do
        [ -f "$rules" ] || continue
        # one line per rule for ACTION: "KERNEL-GLOB|SUBSYSTEM|attr=value|attr=value..."
        awk -v want="$1" -v file="$rules" '
            /^[ \t]*(#|$)/ { next }
            { rest = $0; act = ""; kern = "*"; sub_ = ""; asg = ""; bad = ""
              while (match(rest, /[A-Z_]+(\{[^}]*\})?(==|!=|\+=|:=|=)"[^"]*"/)) {
                  tok = substr(rest, RSTART, RLENGTH); rest = substr(rest, RSTART + RLENGTH)
                  match(tok, /(==|!=|\+=|:=|=)"/); key = substr(tok, 1, RSTART - 1)
                  op = substr(tok, RSTART, RLENGTH - 1); val = substr(tok, RSTART + RLENGTH); sub(/"$/, "", val)
                  if (key == "ACTION" && op == "==") act = val
                  else if (key == "KERNEL" && op == "==") kern = val
                  else if (key == "SUBSYSTEM" && op == "==") sub_ = val
                  else if (key ~ /^ATTR\{/ && op == "=") { k = key; gsub(/^ATTR\{|\}$/, "", k); asg = asg "|" k "=" val }
                  else bad = bad " " key op
              }
              if (bad != "") { print "PTREC-E2E-WARN udev: " file ": rule skipped, unsupported" bad > "/dev/stderr"; next }
              if (act == want && (sub_ == "pci" || sub_ == "") && asg != "") print kern "|" asg
            }' "$rules" | while IFS='|' read -r kern assigns; do
            for dev in /sys/bus/pci/devices/*; do
                bdf=${dev##*/}
                case $bdf in $kern) ;; *) continue ;; esac
                [ "$1" = bind ] && [ ! -L "$dev/driver" ] && continue
                echo "$assigns" | tr '|' '\n' | while IFS='=' read -r attr val; do
                    [ -n "$attr" ] || continue
                    if printf '%s' "$val" > "$dev/$attr" 2>/run/e2e-boot/udev.err; then
                        echo "$1 $bdf $attr=$val ok ($rules)"
                    else
                        echo "$1 $bdf $attr=$val failed: $(cat /run/e2e-boot/udev.err) ($rules)"
                    fi
                done
            done
        done
    done >> /run/e2e-boot/udev.log
}

# systemd_play: ExecStart= of every enabled unit, in name order.
systemd_play() {
    for link in /etc/systemd/system/*.wants/*; do
        [ -e "$link" ] || continue
        unit=${link##*/}
        cond=$(sed -n 's/^ConditionPathExists=//p' "$link" | head -n1)
        if [ -n "$cond" ] && [ ! -e "$cond" ]; then
            echo "PTREC-E2E-UNIT name=$unit skipped (ConditionPathExists=$cond)"; continue
        fi
        exec_start=$(sed -n 's/^ExecStart=//p' "$link" | head -n1)
        # shellcheck disable=SC2086  # systemd splits ExecStart= into words too
        $exec_start > "/run/e2e-boot/$unit.log" 2>&1
        echo $? > "/run/e2e-boot/$unit.rc"
        echo "PTREC-E2E-UNIT name=$unit exit=$(cat "/run/e2e-boot/$unit.rc")"
    done
}

EMULATE=0
if [ -f /etc/e2e-boot-emulation ]; then
    EMULATE=1
    mkdir -p /run/udev /run/systemd/system /run/e2e-boot
    : > /run/udev/control
    : > /run/e2e-boot/udev.log
    udev_play add
fi

for m in $(cat /etc/e2e-modules); do
    /usr/sbin/modprobe "$m" || echo "PTREC-E2E-WARN modprobe $m failed (exit $?)"
done
# Driver probing of nvme is asynchronous; give the controller a moment to
# come up (at most ~5 s) so scenarios see a settled system.
i=0
while [ $i -lt 50 ]; do
    st=$(cat /sys/class/nvme/nvme0/state 2>/dev/null)
    [ "$st" = live ] && break
    sleep 0.1; i=$((i + 1))
done
# From here on, kernel messages go only to the ring buffer (scenarios print
# `dmesg -c` where they want them) so they don't interleave with output.
echo 1 > /proc/sys/kernel/printk
if [ $EMULATE = 1 ]; then
    udev_play bind
    for dev in /sys/bus/pci/devices/*; do
        d=none; [ -L "$dev/driver" ] && d=$(basename "$(readlink "$dev/driver")")
        echo "${dev##*/} driver=$d override=$(cat "$dev/driver_override")"
    done > /run/e2e-boot/before-units
    systemd_play
fi
echo "PTREC-E2E-READY uptime=$(cut -d' ' -f1 /proc/uptime) nvme0=${st:-absent}"

if [ -z "$NAME" ] || [ ! -f "/scenarios/$NAME.sh" ]; then
    echo "PTREC-E2E-RESULT name=$NAME status=fail (no /scenarios/$NAME.sh)"
    finish 125
fi

echo "PTREC-E2E-BEGIN name=$NAME"
cd /root
sh "/scenarios/$NAME.sh"
rc=$?
if [ $rc -eq 0 ]; then status=pass; else status=fail; fi
echo "PTREC-E2E-END name=$NAME uptime=$(cut -d' ' -f1 /proc/uptime)"
echo "PTREC-E2E-RESULT name=$NAME status=$status"
finish $rc
