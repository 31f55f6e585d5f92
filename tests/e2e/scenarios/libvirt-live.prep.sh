#!/usr/bin/env bash
# Host step of libvirt-live: puts a libvirt daemon (libvirtd + its QEMU driver), QEMU (TCG
# module, SeaBIOS), virsh and ptrec-libvirt (tests/libvirt/ptrec_libvirt_tool.cc, built next to
# ptrec) into the scenario's extra initramfs. The guest runs libvirtd at its default paths: the
# guest's root is a throwaway initramfs, so no namespace is needed there.
set -euo pipefail
. "$PTREC_E2E_HOST_LIB"
prep_init "$1"

tool=$(dirname "$PTREC_BIN")/tests/ptrec-libvirt
[ -x "$tool" ] || { echo "libvirt-live.prep: $tool not built (ninja -C build ptrec-libvirt)" >&2; exit 1; }
copy_with_libs "$tool" /usr/bin/ptrec-libvirt

copy_with_libs /usr/sbin/libvirtd /usr/sbin/libvirtd
copy_with_libs /usr/bin/virsh /usr/bin/virsh
lv=/usr/lib/x86_64-linux-gnu/libvirt
copy_with_libs $lv/connection-driver/libvirt_driver_qemu.so $lv/connection-driver/libvirt_driver_qemu.so
copy_with_libs $lv/storage-file/libvirt_storage_file_fs.so $lv/storage-file/libvirt_storage_file_fs.so
for f in /usr/share/libvirt/cpu_map/*; do copy_file "$f"; done

copy_with_libs /usr/bin/qemu-system-x86_64 /usr/bin/qemu-system-x86_64
copy_with_libs /usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so /usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so
for f in /usr/share/seabios/bios-256k.bin /usr/share/qemu/kvmvapic.bin /usr/share/qemu/linuxboot_dma.bin; do
    copy_file "$f"
done

# libvirtd wants a libvirt-qemu user; QEMU runs as root with no cgroups, namespaces, virtlogd
# or security driver (the same settings as tests/libvirt/libvirtd-sandbox).
mkdir -p "$ROOT/etc/libvirt"
printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' \
    'libvirt-qemu:x:64055:64055:Libvirt Qemu:/var/lib/libvirt:/bin/false' >"$ROOT/etc/passwd"
printf '%s\n' 'root:x:0:' 'libvirt-qemu:x:64055:' 'libvirt:x:64056:' 'kvm:x:64057:' >"$ROOT/etc/group"
cat >"$ROOT/etc/libvirt/libvirtd.conf" <<'CONF'
unix_sock_group = "root"
unix_sock_rw_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
log_filters = "1:util.pci 1:*hostdev* 3:*"
log_outputs = "1:file:/var/log/libvirt/libvirtd.log"
CONF
cat >"$ROOT/etc/libvirt/qemu.conf" <<'CONF'
user = "root"
group = "root"
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
dynamic_ownership = 0
remember_owner = 0
CONF
: >"$ROOT/etc/libvirt/libvirt.conf"
du -sh "$ROOT" >&2
