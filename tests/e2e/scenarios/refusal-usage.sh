#!/bin/sh
# refusal-usage: ptrec must not take a device the host is using (README
# "Safety"), judged from the real kernel's /proc/net/route, /proc/net/if_inet6,
# interface flags and /proc/self/mountinfo:
#   lone e1000e 0000:01:00.0 (eth0) up with 192.0.2.1/24, with a /32 only,
#   with an IPv6 global address, carrying the default route: hiding it is
#   refused (exit 1, nothing changed); with force: true it is taken (warning)
#   and given back;
#   NVMe 0000:03:00.0 with an ext4 file system mounted from /dev/nvme0n1 (a
#   native-multipath head disk; the PCI function carries the hidden path
#   nvme0c0n1): hiding it is refused.
. /lib/ptrec-e2e.sh

NIC=0000:01:00.0 PF=0000:03:00.0
IF=$(netifs $NIC)
desired /tmp/nic.yaml <<'EOF'
apiVersion: ptrec/v1
kind: HostConfig
hide:
  - device: "0000:01:00.0"
EOF
desired /tmp/nic-force.yaml <<'EOF'
apiVersion: ptrec/v1
kind: HostConfig
hide:
  - device: "0000:01:00.0"
    force: true
EOF
desired /tmp/nvme.yaml <<'EOF'
apiVersion: ptrec/v1
kind: HostConfig
hide:
  - device: "0000:03:00.0"
EOF
desired /tmp/empty.yaml <<'EOF'
apiVersion: ptrec/v1
kind: HostConfig
EOF
dump_state /tmp/state.boot

usages() { /usr/bin/ptrec show --json | jq -r '[.usages[] | "\(.bdf) \(.what)"] | join("; ")'; }

# refused LABEL YAML WORD: plan and apply exit 1, the refusal contains WORD, nothing changed
refused() {
    label=$1 yaml=$2 word=$3
    echo "    /proc/net/route: $(tail -n +2 /proc/net/route | awk '{ printf "%s %s/%s; ", $1, $2, $8 }')"
    echo "    ptrec usages: $(usages)"
    pt plan -f $yaml
    expect_eq "$label: plan exit code (refusal)" $RC 1
    check "$label: the refusal says '$word'" grep -q "$word" $OUT
    if [ $RC -ne 1 ]; then
        echo "    (apply not tried: the plan would really take the device)"
        return
    fi
    ptq apply -f $yaml --auto-approve
    expect_eq "$label: apply exit code" $RC 1
    dump_state /tmp/state.now
    if cmp -s /tmp/state.boot /tmp/state.now; then pass "$label: nothing changed"
    else fail "$label: state changed (- boot, + now):"; diff /tmp/state.boot /tmp/state.now | sed 's/^/    /'; fi
}
reset_if() { ip route flush dev $IF 2>/dev/null; ip addr flush dev $IF; ip link set $IF down; }

section "$IF down, no address: no refusal"
pt plan -f /tmp/nic.yaml
expect_eq "plan exit code (changes, no refusal)" $RC 2

section "$IF up with 192.0.2.1/24"
ip link set $IF up && ip addr add 192.0.2.1/24 dev $IF
echo "    $(cat /sys/class/net/$IF/operstate) flags=$(cat /sys/class/net/$IF/flags)"
refused "up with /24" /tmp/nic.yaml "up with an address"

section "$IF up with 192.0.2.1/32 only (no connected route)"
reset_if; ip link set $IF up && ip addr add 192.0.2.1/32 dev $IF
echo "    ip addr: $(ip -4 addr show dev $IF | grep inet)"
refused "up with /32" /tmp/nic.yaml "up with an address"

section "$IF up with 2001:db8::1/64 only"
reset_if; ip link set $IF up && ip -6 addr add 2001:db8::1/64 dev $IF
echo "    if_inet6: $(grep " $IF\$" /proc/net/if_inet6 | tr '\n' ';')"
refused "up with IPv6 global" /tmp/nic.yaml "up with an address"

section "$IF carries the default route"
reset_if; ip link set $IF up && ip addr add 192.0.2.1/24 dev $IF && ip route add default via 192.0.2.254 dev $IF
refused "default route" /tmp/nic.yaml "default route"

section "default route + force: true"
pt plan -f /tmp/nic-force.yaml
expect_eq "force: plan exit code" $RC 2
check "force: plan warns about the default route" grep -q "default route" $OUT
pt apply -f /tmp/nic-force.yaml --auto-approve
expect_eq "force: apply exit code" $RC 0
expect_eq "force: $NIC driver" "$(drv $NIC)" vfio-pci
echo "    /proc/net/route now: $(tail -n +2 /proc/net/route | wc -l) route(s)"
pt apply -f /tmp/empty.yaml --auto-approve
expect_eq "force: give back exit code" $RC 0
wait_netif $NIC 50
expect_eq "force: $NIC back on" "$(drv $NIC) $(netifs $NIC)" "e1000e $IF"
reset_if

section "ext4 mounted from /dev/nvme0n1"
/usr/sbin/modprobe ext4; echo "    modprobe ext4 -> exit $?"
echo "    /sys/block: $(ls /sys/block | tr '\n' ' ')  $PF/nvme/nvme0: $(ls -d $D/$PF/nvme/nvme0/nvme0* 2>/dev/null | xargs -n1 basename | tr '\n' ' ')"
mkdir -p /mnt
if mke2fs -q /dev/nvme0n1 > /dev/null && mount -t ext4 /dev/nvme0n1 /mnt; then
    echo "    mountinfo: $(grep ' /mnt ' /proc/self/mountinfo)"
    echo "    nvme0n1 dev=$(cat /sys/block/nvme0n1/dev) -> $(readlink /sys/block/nvme0n1)"
    echo "    ls /sys/block/nvme0n1/: $(ls /sys/block/nvme0n1/ | tr '\n' ' ')"
    echo "    ls /sys/block/nvme0n1/multipath/: $(ls /sys/block/nvme0n1/multipath/ 2>&1 | tr '\n' ' ')"
    echo "    nvme-subsys0: $(cd /sys/devices/virtual/nvme-subsystem/nvme-subsys0 && for f in *; do [ -L $f ] && printf '%s -> %s; ' $f "$(readlink $f)"; done)"
    echo "    nvme0c0n1 dev=$(cat /sys/block/nvme0c0n1/dev 2>&1) -> $(readlink /sys/block/nvme0c0n1)"
    pt show
    refused "nvme0n1 mounted" /tmp/nvme.yaml "mounted"
    umount /mnt
else
    fail "could not make or mount ext4 on /dev/nvme0n1"
fi
kmsg
finish
