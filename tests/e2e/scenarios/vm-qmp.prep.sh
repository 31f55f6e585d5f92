#!/usr/bin/env bash
# Extra initramfs for vm-qmp: the same inner QEMU and ptrec-qmp as qmp-vfio.
exec bash "$(dirname "$0")/qmp-vfio.prep.sh" "$@"
