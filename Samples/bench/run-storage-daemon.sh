#!/usr/bin/env bash
# run-storage-daemon.sh — the vhost-user back-end of the bench's vhost-user variant:
# qemu-storage-daemon exporting DIR/disk.img, read-only, as a vhost-user-blk device.
#
# Usage: run-storage-daemon.sh --socket SOCKET [--qmp SOCKET] [--dir DIR]
#
# The script ends by `exec`ing qemu-storage-daemon, so its PID is the daemon's: kill it (SIGTERM)
# after the guest. Start it before run-guest.sh --variant vhost-user --vhost-user SOCKET, and wait
# for SOCKET to exist. --qmp gives the daemon a QMP monitor socket of its own.
set -euo pipefail

usage() { sed -n '3,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
die() { echo "run-storage-daemon: error: $*" >&2; exit 2; }

dir=${VQSCOPE_BENCH_DIR:-$HOME/.cache/vqscope-bench}
socket=
qmp=
while (( $# )); do
    case $1 in
        --socket) socket=${2:?--socket needs a path}; shift 2 ;;
        --qmp)    qmp=${2:?--qmp needs a path};       shift 2 ;;
        --dir)    dir=${2:?--dir needs a value};      shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *)        usage >&2; die "unknown argument: $1" ;;
    esac
done
[[ -n $socket ]] || die "--socket is required"
[[ -f $dir/disk.img ]] || die "missing $dir/disk.img (run build-guest.sh)"
command -v qemu-storage-daemon >/dev/null || die "qemu-storage-daemon not installed (Debian: qemu-system-common)"
for p in "$dir" "$socket" "$qmp"; do [[ $p != *,* ]] || die "path contains a comma: $p"; done
rm -f "$socket"

args=(--blockdev "driver=file,node-name=file0,filename=$dir/disk.img,read-only=on"
      --blockdev "driver=raw,node-name=disk0,file=file0,read-only=on"
      --export "type=vhost-user-blk,id=export0,node-name=disk0,addr.type=unix,addr.path=$socket,writable=off")
if [[ -n $qmp ]]; then
    args+=(--chardev "socket,id=mon0,path=$qmp,server=on,wait=off" --monitor chardev=mon0)
fi
exec qemu-storage-daemon "${args[@]}"
