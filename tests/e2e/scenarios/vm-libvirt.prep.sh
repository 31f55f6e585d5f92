#!/usr/bin/env bash
# Extra initramfs for vm-libvirt: the same libvirtd, QEMU and virsh as libvirt-live.
exec bash "$(dirname "$0")/libvirt-live.prep.sh" "$@"
