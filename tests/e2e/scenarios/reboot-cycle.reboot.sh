#!/usr/bin/env bash
# reboot-cycle (between boots, host): boot 2 gets the command line of the grub.cfg
# entry that the guest's update-grub regenerated from the /etc/default/grub ptrec
# edited (both carried out of boot 1), as GRUB would boot it.
. "${PTREC_E2E_HOST_LIB:?run me through tests/e2e/run}"
cfg=$1/carry/boot/grub/grub.cfg
[ -f "$cfg" ] || { echo "no $cfg: boot 1 carried no grub.cfg" >&2; exit 1; }
echo "grub.cfg: $(grep -m1 'linux' "$cfg")" >&2
echo "/etc/default/grub says: $(grub_default_args "$1/carry/etc/default/grub")" >&2
grub_cfg_args "$cfg"
