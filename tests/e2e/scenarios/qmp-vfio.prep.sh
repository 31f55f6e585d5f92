#!/usr/bin/env bash
# Extra initramfs for qmp-vfio: an inner QEMU for the guest to run (qemu-system-x86_64, its
# libraries, the TCG accelerator module and SeaBIOS) and ptrec-qmp (tests/e2e/qmp_tool.cc), the
# thin driver over providers/qmp. Everything lands at the path it has on this host.
set -euo pipefail
. "$PTREC_E2E_HOST_LIB"
prep_init "$1"

qemu=$(command -v qemu-system-x86_64)
copy_with_libs "$qemu" /usr/bin/qemu-system-x86_64
# Debian builds QEMU with modules: TCG itself is one (accel-tcg-x86_64.so).
moddir=/usr/lib/x86_64-linux-gnu/qemu
copy_with_libs "$moddir/accel-tcg-x86_64.so" "$moddir/accel-tcg-x86_64.so"
# q35 loads bios-256k.bin at machine init even with -S; Debian's firmware path includes
# /usr/share/seabios. copy_file dereferences symlinks.
copy_file /usr/share/seabios/bios-256k.bin
[ -e /usr/share/qemu/bios-256k.bin ] && copy_file /usr/share/qemu/bios-256k.bin
# Loaded by every x86 machine ("Could not open option rom" warning otherwise).
copy_file /usr/share/qemu/kvmvapic.bin

tool=${PTREC_QMP_BIN:-$(dirname "$PTREC_BIN")/tests/ptrec-qmp}
[ -x "$tool" ] || { echo "no $tool: build it first (scripts/build)"; exit 1; }
copy_with_libs "$tool" /usr/bin/ptrec-qmp
echo "inner QEMU $("$qemu" --version | head -n1), ptrec-qmp from $tool"
