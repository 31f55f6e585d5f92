#!/bin/sh
# e2e-boots: 2
# e2e-kernel-args: intel_iommu=off iommu=pt
# Issue 3 scenario 8, the reboot cycle (see reboot-cycle.prep.sh for the GRUB,
# systemctl and udevadm stand-ins; /init plays udev and systemd, guest-init.sh).
#
# Boot 1, with intel_iommu=off (no IOMMU groups; Debian's 6.1 kernel turns the
# Intel IOMMU on by default, CONFIG_INTEL_IOMMU_DEFAULT_ON_INTGPU_OFF=y, so a
# command line without intel_iommu=on still has groups): a desired state that
# turns it on and hides 01:00.0 (the lone e1000e) on vfio-pci. The plan edits
# /etc/default/grub (+ update-grub) and writes the udev rule, the boot unit and
# /etc/ptrec/host.yaml; the binding waits for the boot. Apply says "reboot
# required" (text and JSON) and so does the next plan. The files are carried
# out; the host boots boot 2 with the args of the regenerated grub.cfg.
# Boot 2: the rule put 01:00.0 on vfio-pci before any unit ran, the unit's
# apply had nothing left to do, and the plan is empty with no reboot pending.
# Boot 1's apply recorded the deferred hide in the ledger (e1000e, no override),
# so dropping the hide in boot 2 gives 01:00.0 back to e1000e at once.
. /lib/ptrec-e2e.sh
NIC=0000:01:00.0
HOSTYAML=/etc/ptrec/host.yaml

if [ "$E2E_BOOT" = 1 ]; then
    section "boot 1: $(cat /proc/cmdline)"
    check "intel_iommu=off on the command line" grep -qw intel_iommu=off /proc/cmdline
    echo "    /sys/class/iommu: [$(ls /sys/class/iommu | tr '\n' ' ')] iommu_groups: [$(ls /sys/kernel/iommu_groups | tr '\n' ' ')]"
    check "$NIC has no IOMMU group" test ! -e $D/$NIC/iommu_group
    expect_eq "$NIC on e1000e" "$(drv $NIC)" e1000e
    pt show --json
    expect_eq "ptrec: IOMMU not active" "$(jq -r .iommu.active $OUT)" false
    cp /etc/default/grub /tmp/grub.orig

    desired /root/host.yaml <<'YAML'
apiVersion: ptrec/v1
kind: HostConfig
kernelArgs:
  present: [intel_iommu=on, iommu=pt]
hide:
  - device: "0000:01:00.0"
    driver: vfio-pci
YAML
    section "plan"
    pt plan -f /root/host.yaml
    expect_eq "plan exit (changes pending)" "$RC" 2
    check "plan text says reboot required" grep -q "Reboot required" $OUT
    ptq plan -f /root/host.yaml --json
    cp $OUT /tmp/plan1.json
    expect_eq "plan JSON reboot_required" "$(jq -r .reboot_required $OUT)" true
    expect_eq "plan: bootloader edit of etc/default/grub, reboot required" \
        "$(jq -r '[.actions[] | select(.kind == "edit_bootloader") | "\(.path) \(.reboot_required) \(.commands | map(join(" ")) | join(","))"] | join(";")' $OUT)" \
        "etc/default/grub true update-grub"
    expect_eq "plan: persistent files" \
        "$(jq -r '[.actions[] | select(.kind == "write_file") | .path] | sort | join(" ")' $OUT)" \
        "etc/ptrec/host.yaml etc/systemd/system/ptrec-apply.service etc/udev/rules.d/70-ptrec.rules"
    expect_eq "plan: the only bind waits for the boot (records e1000e for the ledger)" \
        "$(jq -r '[.actions[] | select(.kind == "bind" or .kind == "release") | "\(.kind) \(.device) \(.before) \(.reboot_required)"] | join(";")' $OUT)" \
        "bind $NIC e1000e true"
    expect_eq "plan: no refusal" "$(jq -r .refused $OUT)" false

    section "apply"
    pt apply -f /root/host.yaml --auto-approve
    expect_eq "apply exit" "$RC" 0
    check "apply text says reboot required" grep -q "Reboot required" $OUT
    echo "    commands the stand-ins saw:"; sed 's/^/      /' /var/log/e2e-commands
    # Each file's command follows its own write; the files are independent of each other.
    expect_eq "commands run (each after its file)" "$(sort /var/log/e2e-commands | tr '\n' ';')" \
        "systemctl daemon-reload;systemctl enable ptrec-apply.service;udevadm control --reload;update-grub ;"
    expect_eq "daemon-reload right before enable" "$(grep -A1 daemon-reload /var/log/e2e-commands | tr '\n' ';')" \
        "systemctl daemon-reload;systemctl enable ptrec-apply.service;"
    echo "    diff of /etc/default/grub:"; diff /tmp/grub.orig /etc/default/grub | sed 's/^/      /'
    expect_eq "etc/default/grub: only GRUB_CMDLINE_LINUX changed, intel_iommu's value in place" \
        "$(diff /tmp/grub.orig /etc/default/grub | grep -v '^[-+][-+]' | grep '^[-+]' | tr '\n' ';')" \
        '-GRUB_CMDLINE_LINUX="intel_iommu=off iommu=pt";+GRUB_CMDLINE_LINUX="intel_iommu=on iommu=pt";'
    check "grub.cfg regenerated with intel_iommu=on" grep -q "linux.*intel_iommu=on" /boot/grub/grub.cfg
    check "a backup of the old etc/default/grub" sh -c 'ls /var/lib/ptrec/backup/etc/default/grub.* >/dev/null 2>&1'
    check "udev rule for $NIC" grep -qx "ACTION==\"add\", SUBSYSTEM==\"pci\", KERNEL==\"$NIC\", ATTR{driver_override}=\"vfio-pci\"" /etc/udev/rules.d/70-ptrec.rules
    check "unit enabled (WantedBy symlink)" test -L /etc/systemd/system/multi-user.target.wants/ptrec-apply.service
    check "desired state copy" cmp -s /root/host.yaml $HOSTYAML
    expect_eq "$NIC still on e1000e" "$(drv $NIC)" e1000e
    expect_eq "ledger: $NIC vfio-pci, was e1000e with no override" \
        "$(jq -r '[.bindings[] | "\(.bdf) \(.driver) \(.original_driver) [\(.original_override)]"] | join(";")' /var/lib/ptrec/state.json)" \
        "$NIC vfio-pci e1000e []"

    section "plan after apply: still says reboot"
    pt plan -f /root/host.yaml --json
    expect_eq "plan JSON reboot_required" "$(jq -r .reboot_required $OUT)" true
    expect_eq "no actions left" "$(jq -r '.actions | length' $OUT)" 0
    check "pending_reboot names intel_iommu=on" jqtest '.pending_reboot | any(test("intel_iommu=on"))' $OUT
    ptq plan -f /root/host.yaml
    check "plan text says reboot" grep -qi "reboot" $OUT
    grep -i reboot $OUT | sed 's/^/      /'

    section "carry the written files to the next boot"
    carry /etc/default/grub /boot/grub /etc/ptrec /etc/udev/rules.d /etc/systemd/system \
        /etc/modprobe.d /var/lib/ptrec
    finish
    exit
fi

section "boot 2: $(cat /proc/cmdline)"
check "intel_iommu=on on the command line" grep -qw intel_iommu=on /proc/cmdline
check "IOMMU groups exist" test -e $D/$NIC/iommu_group
echo "    udev (played by /init):"; sed 's/^/      /' /run/e2e-boot/udev.log
echo "    before the boot unit ran:"; grep -E "0000:0[123]" /run/e2e-boot/before-units | sed 's/^/      /'
expect_eq "$NIC on vfio-pci from boot (udev rule, before the unit)" \
    "$(grep "^$NIC " /run/e2e-boot/before-units)" "$NIC driver=vfio-pci override=vfio-pci"
echo "    ptrec-apply.service output:"; sed 's/^/      /' /run/e2e-boot/ptrec-apply.service.log
expect_eq "boot unit (ptrec apply) exit" "$(cat /run/e2e-boot/ptrec-apply.service.rc 2>/dev/null)" 0
check "boot unit had nothing to change" grep -q "No changes" /run/e2e-boot/ptrec-apply.service.log
expect_eq "$NIC on vfio-pci" "$(drv $NIC)" vfio-pci
check "/dev/vfio/$(group_of $NIC) exists" test -c /dev/vfio/$(group_of $NIC)
expect_eq "other NICs kept e1000e" "$(drv 0000:02:00.0) $(drv 0000:02:00.1)" "e1000e e1000e"

pt plan -f $HOSTYAML --json
expect_eq "plan exit" "$RC" 0
expect_eq "plan: no actions" "$(jq -r '.actions | length' $OUT)" 0
expect_eq "plan: no reboot pending" "$(jq -r '.reboot_required, (.pending_reboot | length)' $OUT | tr '\n' ' ')" "false 0 "
ptq plan -f $HOSTYAML
check "plan text: no reboot required" sh -c "! grep -q 'Reboot required' $OUT"

section "drop the hide: $NIC back on e1000e at once (the ledger carried from boot 1)"
desired /root/nohide.yaml <<'YAML'
apiVersion: ptrec/v1
kind: HostConfig
kernelArgs:
  present: [intel_iommu=on, iommu=pt]
YAML
pt apply -f /root/nohide.yaml --auto-approve
expect_eq "apply exit" "$RC" 0
expect_eq "$NIC on e1000e, override cleared" "$(drv $NIC) $(ovr $NIC)" "e1000e (null)"
check "$NIC has its interface again" sh -c "ls $D/$NIC/net | grep -q ."
check "udev rule removed" test ! -e /etc/udev/rules.d/70-ptrec.rules
expect_eq "ledger empty" "$(jq -r '.bindings | length' /var/lib/ptrec/state.json)" 0
finish
