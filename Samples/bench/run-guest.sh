#!/usr/bin/env bash
# shellcheck disable=SC2054  # QEMU's key=value,key=value arguments are not array typos
# run-guest.sh — start a vqscope bench guest; QEMU runs in the foreground.
#
# Usage: run-guest.sh [--variant basic|big|shared|kvm|blkdebug|vhost-user|iommu|devices] [--dir DIR] [--name NAME]
#                     [--qmp SOCKET]... [--serial LOGFILE] [--packed] [--busy] [--busy-io] [--blkdebug] [--intremap]
#                     [--vhost-user SOCKET] [--memory MIB] [--numa N] [--ping-every S] [--ping-size N]
#                     [--extra "ARGS"]...
#
# The script ends by `exec`ing qemu-system-x86_64, so its PID *is* QEMU's PID: start it as
# a child process and kill that PID (SIGTERM) to stop the guest. Build the guest first
# with build-guest.sh (same DIR default: ${VQSCOPE_BENCH_DIR:-$HOME/.cache/vqscope-bench}).
#
# Variants (all with -display none -nodefaults -no-user-config -name NAME):
#   basic   TCG, -m 256, pc machine, Linux (DIR/vmlinuz + DIR/initramfs.gz) with
#           virtio-blk (DIR/disk.img, read-only), virtio-net (user networking),
#           virtio-rng and virtio-serial (port name vq.0) — all kept busy by the guest.
#   big     as basic with -m 4608: pc.ram is split, GPA 0..3 GiB -> RAM offset 0,
#           GPA 4 GiB..4.5 GiB -> RAM offset 3 GiB.
#   shared  as basic, RAM in a shared file: memory-backend-file, share=on, mem-path
#           /dev/shm/NAME.ram (or --mem-path FILE). The file stays after QEMU exits and is
#           reused by the next run; discard-data=on frees its pages when QEMU exits on
#           SIGTERM, so only an empty 256 MiB sparse file is left (delete it if you like).
#   kvm     KVM, -m 128, NO kernel: SeaBIOS boots DIR/fw-disk.img from virtio-blk; the
#           boot sector keeps reading the disk through INT 13h, i.e. through SeaBIOS's own
#           split virtio-blk ring. Only the virtio-blk device exists. Default CPU model
#           (-cpu host / -cpu max fail under this nested KVM).
#   blkdebug  basic with --blkdebug (see below).
#   vhost-user  as basic, but the disk is served over vhost-user by a back-end process
#           (qemu-storage-daemon: start run-storage-daemon.sh first) on --vhost-user SOCKET,
#           guest RAM in a shared memfd (memory-backend-memfd, share=on, as vhost-user needs),
#           and the guest reads its disk without a pause, printing "VQSCOPE-IO N" (reads done
#           so far) on the console once a second.
#   devices  as basic, and more devices the guest keeps busy (vqscope.devices=more): virtio-scsi
#           (id scsi0) with a read-only scsi-hd (id sdisk0) of DIR/disk.img under QEMU's
#           blkdebug driver (drive id sd0, for holding a read as --blkdebug does for d0);
#           virtio-9p (id share0, mount tag vqshare) sharing DIR/share read-only; a
#           virtio-keyboard (id kbd0) and a virtio-tablet (id tablet0); virtio-balloon (id
#           balloon0) with QEMU polling the guest's statistics every second. Besides
#           VQSCOPE-READY the guest prints "VQSCOPE-DEVICES scsi=... keyboard=/dev/input/..."
#           once these devices are up (before the ready line).
#
# Ready signal — wait for this exact line in the --serial LOGFILE:
#       VQSCOPE-READY
#   basic/big/shared/blkdebug/iommu/devices: printed by the guest's /init on ttyS0 once every device was found and
#                     its I/O loop runs ("VQSCOPE-ERROR <what>" instead if one is missing).
#   kvm:              LOGFILE is SeaBIOS's debug console (isa-debugcon, port 0x402), not a
#                     serial port. SeaBIOS writes its own log there; after probing it prints
#                     "Booting from Hard Disk..." — at that point the virtio-blk ring is set
#                     up — and the boot sector then writes "VQSCOPE-READY" after its first
#                     successful INT 13h read ("VQSCOPE-ERROR int13 read failed" if it fails).
#                     So wait for VQSCOPE-READY here too.
#   QEMU truncates LOGFILE when it opens it; delete a stale one before starting so a
#   READY line from an earlier run cannot be mistaken for this one.
#
# Options:
#   --qmp SOCKET   add -qmp unix:SOCKET,server=on,wait=off; repeat it (a QMP socket serves
#                  one client at a time, so give the harness and the tool one each).
#   --serial FILE  console log (default DIR/NAME.serial.log). The virtserialport vq.0
#                  writes to FILE.vq0 beside it (a line every 0.5 s from the guest).
#   --mem-path F   RAM file of the shared variant (default /dev/shm/NAME.ram).
#   --memory MIB   guest RAM in MiB instead of the variant's (basic/blkdebug/shared 256,
#                  big 4608, kvm 128); e.g. --variant basic --memory 1024 for a 1 GiB guest.
#                  On the pc machine RAM of 3584 MiB or more is split at 3 GiB, as in big.
#   --numa N       guest RAM as N NUMA nodes of equal size, each its own memory backend
#                  (-object memory-backend-ram,id=nodeI,size=RAM/N -numa node,nodeid=I,memdev=nodeI):
#                  N anonymous mappings of one size that /proc/PID/maps cannot tell apart.
#                  Variants with plain RAM only (basic, blkdebug, big, iommu, kvm); RAM must divide by N.
#   --packed       packed=on for virtio-net-pci and virtio-rng-pci (Linux variants only).
#   --busy         the guest pings every 20 ms and reads the hwrng every 50 ms (vqscope.net=busy;
#                  Linux variants only): rx, tx and the rng queue keep moving.
#   --blkdebug     put QEMU's blkdebug driver under the virtio-blk disk (drive id d0, Linux
#                  variants only), so a test can hold a request in flight over QMP:
#                  human-monitor-command `qemu-io d0 "break read_aio t1"` holds the guest's
#                  next read until `qemu-io d0 "resume t1"` (`qemu-io d0 "remove_break t1"`
#                  drops the breakpoint).
#   --ping-every S the guest pings every S seconds (Linux variants; default 0.5, 0.02 with --busy):
#                  vqscope.ping_every=S on the kernel command line.
#   --ping-size N  ICMP payload bytes of those pings (default 56): vqscope.ping_size=N.
#   --busy-io      the guest reads its disk without a pause (vqscope.io=busy, as the vhost-user
#                  variant does), printing "VQSCOPE-IO N" once a second.
#   --intremap     variant iommu: interrupt remapping on (intremap=on, kernel-irqchip=split).
#   --vhost-user SOCKET  the vhost-user-blk back-end's socket (variant vhost-user).
#   --extra "ARGS" extra QEMU arguments, split on whitespace; may be repeated.
set -euo pipefail

usage() { sed -n '3,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
die() { echo "run-guest: error: $*" >&2; exit 2; }

variant=basic
dir=${VQSCOPE_BENCH_DIR:-$HOME/.cache/vqscope-bench}
name=vqscope-bench
serial=
mem_path=
memory=
packed=0
busy=0
ping_every=
ping_size=
blkdebug=0
intremap=0
busy_io=0
numa=0
qmp_sockets=()
vhost_user=
extra=()

while (( $# )); do
    case $1 in
        --variant) variant=${2:?--variant needs a value}; shift 2 ;;
        --dir)     dir=${2:?--dir needs a value};         shift 2 ;;
        --name)    name=${2:?--name needs a value};       shift 2 ;;
        --qmp)     qmp_sockets+=("${2:?--qmp needs a path}"); shift 2 ;;
        --serial)  serial=${2:?--serial needs a path};    shift 2 ;;
        --mem-path) mem_path=${2:?--mem-path needs a path}; shift 2 ;;
        --memory)  memory=${2:?--memory needs a size in MiB}; shift 2 ;;
        --packed)  packed=1; shift ;;
        --busy)    busy=1; shift ;;
        --ping-every) [[ $# -ge 2 ]] || die "--ping-every needs seconds"; ping_every=$2; shift 2 ;;
        --ping-size) [[ $# -ge 2 ]] || die "--ping-size needs bytes"; ping_size=$2; shift 2 ;;
        --blkdebug) blkdebug=1; shift ;;
        --intremap) intremap=1; shift ;;
        --busy-io) busy_io=1; shift ;;
        --numa)    numa=${2:?--numa needs a node count}; shift 2 ;;
        --vhost-user) vhost_user=${2:?--vhost-user needs a socket path}; shift 2 ;;
        --extra)   read -r -a more <<<"${2:?--extra needs a value}"
                   extra+=("${more[@]}"); shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *)         usage >&2; die "unknown argument: $1" ;;
    esac
done

case $variant in basic|big|shared|kvm|iommu|devices) ;; vhost-user) [[ -n $vhost_user ]] || die "variant vhost-user needs --vhost-user SOCKET" ;; blkdebug) blkdebug=1 ;; *) die "unknown variant: $variant" ;; esac
(( intremap )) && [[ $variant != iommu ]] && die "--intremap goes with --variant iommu"
[[ $name =~ ^[A-Za-z0-9._-]+$ ]] || die "--name may use only letters, digits, . _ -"
[[ -z $memory || $memory =~ ^[1-9][0-9]*$ ]] || die "--memory takes a whole number of MiB (e.g. 1024)"
[[ $numa =~ ^[0-9]$ ]] || die "--numa takes a node count from 2 to 8"
if (( numa )); then
    (( numa >= 2 && numa <= 8 )) || die "--numa takes a node count from 2 to 8"
    case $variant in basic|blkdebug|big|iommu|kvm) ;; *) die "--numa goes with a variant whose RAM is plain -m (basic, blkdebug, big, iommu, kvm)" ;; esac
fi
[[ -d $dir ]] || die "no bench directory $dir (run build-guest.sh first)"
dir=$(readlink -f "$dir")
serial=${serial:-$dir/$name.serial.log}
vport_log=$serial.vq0
mem_path=${mem_path:-/dev/shm/$name.ram}
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not installed"

args=(-name "$name" -display none -nodefaults -no-user-config -monitor none)
for s in "${qmp_sockets[@]}"; do
    args+=(-qmp "unix:$s,server=on,wait=off")
done

# Options for QEMU's -device / -drive strings must not contain commas (QEMU would split).
for p in "$dir" "$serial" "$mem_path" "$vhost_user" "${qmp_sockets[@]}"; do
    [[ $p != *,* ]] || die "path contains a comma: $p"
done

if [[ $variant == kvm ]]; then
    img=$dir/fw-disk.img
    [[ -f $img ]] || die "missing $img (run build-guest.sh)"
    [[ -c /dev/kvm ]] || die "/dev/kvm is missing"
    (( packed )) && echo "run-guest: --packed ignored for kvm (SeaBIOS uses split rings)" >&2
    (( blkdebug )) && echo "run-guest: --blkdebug ignored for kvm" >&2
    (( busy )) && echo "run-guest: --busy ignored for kvm" >&2
    args+=(-accel kvm -machine pc -m "${memory:-128}"
           -drive "file=$img,format=raw,if=none,id=d0,readonly=on"
           -device virtio-blk-pci,drive=d0,bootindex=0
           -chardev "file,id=dbg,path=$serial"
           -device isa-debugcon,iobase=0x402,chardev=dbg)
else
    for f in vmlinuz initramfs.gz disk.img; do
        [[ -f $dir/$f ]] || die "missing $dir/$f (run build-guest.sh)"
    done
    pk=
    (( packed )) && pk=,packed=on
    # Behind the vIOMMU: modern-only devices whose DMA goes through it.
    dma=
    [[ $variant == iommu ]] && dma=,disable-legacy=on,iommu_platform=on
    disk=$dir/disk.img
    (( blkdebug )) && disk=blkdebug::$dir/disk.img
    case $variant in
        basic|blkdebug|devices) args+=(-accel tcg -machine pc -m "${memory:-256}") ;;
        big)    args+=(-accel tcg -machine pc -m "${memory:-4608}") ;;
        iommu)  if (( intremap )); then
                    args+=(-accel tcg -machine q35,kernel-irqchip=split -m "${memory:-256}"
                           -device intel-iommu,intremap=on)
                else
                    args+=(-accel tcg -machine q35 -m "${memory:-256}" -device intel-iommu,intremap=off)
                fi ;;
        vhost-user) args+=(-accel tcg -m "${memory:-256}"
                       -object "memory-backend-memfd,id=ram0,size=${memory:-256}M,share=on"
                       -machine pc,memory-backend=ram0) ;;
        shared) args+=(-accel tcg -m "${memory:-256}"
                       -object "memory-backend-file,id=ram0,size=${memory:-256}M,mem-path=$mem_path,share=on,discard-data=on"
                       -machine pc,memory-backend=ram0) ;;
    esac
    append="console=ttyS0 quiet"
    (( busy )) && append+=" vqscope.net=busy"
    [[ -n $ping_every ]] && append+=" vqscope.ping_every=$ping_every"
    [[ -n $ping_size ]] && append+=" vqscope.ping_size=$ping_size"
    [[ $variant == iommu ]] && append+=" intel_iommu=on"
    (( busy_io )) && [[ $variant != vhost-user ]] && append+=" vqscope.io=busy"
    if [[ $variant == vhost-user ]]; then
        # The disk through the back-end process; RAM it can map (a shared memfd).
        append+=" vqscope.io=busy"
        args+=(-chardev "socket,id=vu0,path=$vhost_user"
               -device vhost-user-blk-pci,chardev=vu0,id=vublk0)
    else
        # virtio-blk: read-only, the image is never modified.
        args+=(-drive "file=$disk,format=raw,if=none,id=d0,readonly=on"
               -device "virtio-blk-pci,drive=d0$dma")
    fi
    if [[ $variant == devices ]]; then
        [[ -d $dir/share ]] || die "missing $dir/share (run build-guest.sh)"
        append+=" vqscope.devices=more"
        args+=(-drive "file=blkdebug::$dir/disk.img,format=raw,if=none,id=sd0,readonly=on"
               -device virtio-scsi-pci,id=scsi0
               -device scsi-hd,drive=sd0,bus=scsi0.0,id=sdisk0
               -fsdev "local,id=fs0,path=$dir/share,security_model=none,readonly=on"
               -device virtio-9p-pci,fsdev=fs0,mount_tag=vqshare,id=share0
               -device virtio-keyboard-pci,id=kbd0
               -device virtio-tablet-pci,id=tablet0
               -device virtio-balloon-pci,id=balloon0,guest-stats-polling-interval=1)
    fi
    args+=(-kernel "$dir/vmlinuz" -initrd "$dir/initramfs.gz"
           -append "$append"
           -chardev "file,id=con0,path=$serial" -serial chardev:con0
           # virtio-net on user networking; restrict=on: slirp still answers the guest's
           # pings to 10.0.2.2 itself but forwards nothing to the host or beyond.
           -netdev user,id=n0,restrict=on
           -device "virtio-net-pci,netdev=n0,romfile=$pk$dma"
           -device "virtio-rng-pci$pk$dma"
           -device "virtio-serial-pci,id=vser0$dma"
           -chardev "file,id=vq0,path=$vport_log"
           -device virtserialport,bus=vser0.0,chardev=vq0,name=vq.0)
fi

# NUMA nodes of equal size, one memory backend each; -m stays the total.
if (( numa )); then
    case $variant in big) total=${memory:-4608} ;; kvm) total=${memory:-128} ;; *) total=${memory:-256} ;; esac
    (( total % numa == 0 )) || die "--numa $numa: $total MiB of RAM does not divide into $numa equal nodes"
    for (( i = 0; i < numa; i++ )); do
        args+=(-object "memory-backend-ram,id=node$i,size=$(( total / numa ))M" -numa "node,nodeid=$i,memdev=node$i")
    done
fi

args+=("${extra[@]}")
exec qemu-system-x86_64 "${args[@]}"
