#!/bin/sh
# vm-libvirt: `ptrec apply` with a vms entry on the real kernel and a real libvirtd (default URI
# qemu:///system, since the guest's root is "/"): the running domain vm1 (TCG, native PCIe
# hot-plug) gets the e1000e 0000:01:00.0 with hotplug: true and managed: false:
#   - plan: bind to vfio-pci, then attach to config and live;
#   - apply: the NIC is on vfio-pci, in the live and the persistent XML (virsh dumpxml); a second
#     plan is empty;
#   - dropping it: detach from both (live: waits until it left the live XML), then give back.
# First, with managed: true: no bind in the plan; libvirt binds the NIC to vfio-pci at the live
# attach and gives it back to e1000e at the detach. (It goes first: libvirt 9.0 remembers the
# first managed= value it saw for a device for the daemon's lifetime, see libvirt-live.)
# Needs vm-libvirt.prep.sh (libvirtd + QEMU + virsh in the initramfs).
# e2e-timeout: 600
. /lib/ptrec-e2e.sh

NIC=0000:01:00.0
URI=qemu:///system
has_nic() { virsh -c $URI dumpxml "$@" vm1 | grep -q "bus='0x01' slot='0x00' function='0x0'"; }

desired /tmp/vm.yaml <<'EOF2'
apiVersion: ptrec/v1
kind: HostConfig
vms:
  - name: vm1
    hotplug: true
    devices:
      - device: "0000:01:00.0"
EOF2
desired /tmp/vm-managed.yaml <<'EOF2'
apiVersion: ptrec/v1
kind: HostConfig
vms:
  - name: vm1
    hotplug: true
    devices:
      - {device: "0000:01:00.0", managed: true}
EOF2
desired /tmp/vm-none.yaml <<'EOF2'
apiVersion: ptrec/v1
kind: HostConfig
vms:
  - name: vm1
    hotplug: true
EOF2

section "libvirtd and a running domain"
mkdir -p /var/lib/libvirt /var/cache/libvirt /var/log/libvirt /run/libvirt
[ -e /var/run ] || ln -s /run /var/run
libvirtd >/tmp/libvirtd.out 2>&1 &
i=0
while [ ! -S /run/libvirt/libvirt-sock ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
check "libvirtd socket up" test -S /run/libvirt/libvirt-sock
cat >/tmp/vm1.xml <<'EOF2'
<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>vm1</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices><controller type='usb' model='none'/><memballoon model='none'/>
    <controller type='pci' index='0' model='pcie-root'/>
    <controller type='pci' index='1' model='pcie-root-port'/>
    <controller type='pci' index='2' model='pcie-root-port'/>
    <video><model type='none'/></video></devices>
  <qemu:commandline><qemu:arg value='-global'/>
    <qemu:arg value='ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off'/></qemu:commandline>
</domain>
EOF2
virsh -c $URI define /tmp/vm1.xml >/dev/null 2>&1
virsh -c $URI start vm1 >/tmp/start.out 2>&1
check "vm1 runs" sh -c "virsh -c $URI domstate vm1 | grep -q running" || { cat /tmp/start.out; tail -n 20 /var/log/libvirt/libvirtd.log; finish; exit 1; }

section "managed: true: libvirt does the binding"
ptq plan -f /tmp/vm-managed.yaml
expect_eq "plan exit (changes)" $RC 2
check "... no bind" sh -c "! grep -q 'driver e1000e → vfio-pci' $OUT"
check "... attach managed='yes'" grep -q "attach to vm1 (config and live, managed='yes')" $OUT
ptq apply -f /tmp/vm-managed.yaml --auto-approve
expect_eq "apply exit" $RC 0
[ $RC -eq 0 ] || sed 's/^/    /' $OUT
expect_eq "libvirt bound it" "$(drv $NIC)" vfio-pci
check "live XML has the NIC" has_nic
ptq apply -f /tmp/vm-none.yaml --auto-approve
expect_eq "detach apply exit" $RC 0
check "live XML: gone" sh -c "! virsh -c $URI dumpxml vm1 | grep -q '<hostdev'"
i=0
while [ "$(drv $NIC)" != e1000e ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
expect_eq "libvirt gave it back" "$(drv $NIC)" e1000e

section "plan and apply"
ptq plan -f /tmp/vm.yaml
expect_eq "plan exit (changes)" $RC 2
check "... binds $NIC to vfio-pci" grep -q "$NIC  driver e1000e → vfio-pci" $OUT
check "... attaches it to config and live" grep -q "vm vm1: $NIC  attach to vm1 (config and live)" $OUT
ptq apply -f /tmp/vm.yaml --auto-approve
expect_eq "apply exit" $RC 0
[ $RC -eq 0 ] || sed 's/^/    /' $OUT
expect_eq "driver" "$(drv $NIC)" vfio-pci
check "live XML has the NIC" has_nic
check "persistent XML has the NIC" has_nic --inactive
check "... managed='no'" sh -c "virsh -c $URI dumpxml --inactive vm1 | grep -q \"managed='no'\""
ptq plan -f /tmp/vm.yaml
expect_eq "second plan: no changes" $RC 0

section "detach and give back"
ptq apply -f /tmp/vm-none.yaml --auto-approve
expect_eq "apply exit" $RC 0
[ $RC -eq 0 ] || sed 's/^/    /' $OUT
check "live XML: gone" sh -c "! virsh -c $URI dumpxml vm1 | grep -q '<hostdev'"
check "persistent XML: gone" sh -c "! virsh -c $URI dumpxml --inactive vm1 | grep -q '<hostdev'"
expect_eq "driver" "$(drv $NIC)" e1000e

virsh -c $URI destroy vm1 >/dev/null 2>&1
kmsg
finish
