#!/usr/bin/env bash
# libvirt-domain.sh — print the XML of a transient libvirt domain that boots the bench guest under
# TCG: virtio-blk on disk.img (read-only), virtio-net on user networking (packed rings), virtio-rng,
# virtio-serial with the port vq.0, the console in a file. libvirt runs QEMU as its own user: DIR
# (default the bench's) and the log's folder must be readable and writable by it (the tests link
# the bench's files into a folder under /tmp). Feed it to `virsh create`:
#
#   Samples/bench/libvirt-domain.sh --name vq-lv --serial /tmp/vq-lv.log > /tmp/vq-lv.xml
#   virsh create /tmp/vq-lv.xml      # wait for VQSCOPE-READY in the serial log; `virsh destroy vq-lv` ends it
#
# Usage: libvirt-domain.sh --name NAME --serial LOGFILE [--dir DIR] [--memory MIB] [--split]
#   --split  split rings on virtio-net too (default: packed, as `<driver packed='on'/>`).
set -euo pipefail

usage() { sed -n '3,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
die() { echo "libvirt-domain: error: $*" >&2; exit 2; }

dir=${VQSCOPE_BENCH_DIR:-$HOME/.cache/vqscope-bench}
name=
serial=
memory=256
packed=on
while (( $# )); do
    case $1 in
        --name)   name=${2:?--name needs a value};     shift 2 ;;
        --serial) serial=${2:?--serial needs a path};  shift 2 ;;
        --dir)    dir=${2:?--dir needs a value};       shift 2 ;;
        --memory) memory=${2:?--memory needs MiB};     shift 2 ;;
        --split)  packed=off; shift ;;
        -h|--help) usage; exit 0 ;;
        *)        usage >&2; die "unknown argument: $1" ;;
    esac
done
[[ $name =~ ^[A-Za-z0-9._-]+$ ]] || die "--name may use only letters, digits, . _ -"
[[ -n $serial ]] || die "--serial is required"
dir=$(readlink -f "$dir")
for f in vmlinuz initramfs.gz disk.img; do [[ -f $dir/$f ]] || die "missing $dir/$f (run build-guest.sh)"; done

cat <<XML
<domain type='qemu'>
  <name>$name</name>
  <memory unit='MiB'>$memory</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$dir/vmlinuz</kernel>
    <initrd>$dir/initramfs.gz</initrd>
    <cmdline>console=ttyS0 quiet</cmdline>
  </os>
  <devices>
    <emulator>$(command -v qemu-system-x86_64)</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='$dir/disk.img'/>
      <target dev='vda' bus='virtio'/>
      <readonly/>
    </disk>
    <interface type='user'>
      <model type='virtio'/>
      <driver packed='$packed'/>
    </interface>
    <rng model='virtio'>
      <backend model='random'>/dev/urandom</backend>
    </rng>
    <channel type='file'>
      <source path='$serial.vq0'/>
      <target type='virtio' name='vq.0'/>
    </channel>
    <serial type='file'>
      <source path='$serial'/>
      <target port='0'/>
    </serial>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
XML
