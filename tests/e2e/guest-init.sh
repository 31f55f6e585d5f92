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
