#!/usr/bin/env bash
# build-guest.sh [DIR] — build the tiny guests of the vqscope test bench.
#
# DIR defaults to ${VQSCOPE_BENCH_DIR:-$HOME/.cache/vqscope-bench}. Outputs:
#   DIR/vmlinuz       Debian's kernel (the one linux-image-amd64 depends on)
#   DIR/initramfs.gz  busybox-static + the virtio modules + /init (cpio newc, gzip)
#   DIR/disk.img      64 MiB raw disk; every 512-byte sector n starts "VQSCOPE-SECTOR-<n>\n"
#   DIR/fw-disk.img   1 MiB raw disk for the firmware-only (SeaBIOS, KVM) guest: a boot
#                     sector that keeps reading the disk through INT 13h (so SeaBIOS's
#                     virtio-blk ring keeps moving) and writes "VQSCOPE-READY" to the
#                     debug console (port 0x402) after its first successful read; sectors
#                     n >= 1 start "VQSCOPE-FW-SECTOR-<n>\n".
#   DIR/share/        a few small files the devices variant shares with its guest over 9p
#                     (read-only): hello.txt, "VQSCOPE-9P <n>" lines in lines.txt, sub/deep.txt.
#   DIR/.build-stamp  sha256 of this script; when it matches and all outputs exist the
#                     script does nothing (so it is cheap to call before every test run).
#
# The guest /init loads the virtio modules, sets up eth0 for QEMU user networking and then
# keeps every virtio device busy forever at a light rate (virtio-blk reads with O_DIRECT,
# ping to the slirp gateway, /dev/hwrng reads, a line to the virtserialport "vq.0" every
# 0.5 s). It prints exactly "VQSCOPE-READY" on ttyS0 once all loops run, or
# "VQSCOPE-ERROR <what>" if a device is missing. See run-guest.sh to start it.
#
# With vqscope.devices=more on the kernel command line (run-guest.sh --variant devices) the
# guest also loads the modules of DEVICES_MODULES and keeps those devices busy: virtio-scsi
# (reads of its disk /dev/sda), virtio-9p (the share mounted at /mnt/share, read and listed),
# virtio-input (the keyboard's caps-lock LED toggled through evdev: status queue messages) and
# the balloon (QEMU polls its statistics). Without it nothing of this runs.
#
# Needs root only when a tool is missing (apt-get install) — and for nothing else.
set -euo pipefail

SCRIPT_PATH=$(readlink -f "${BASH_SOURCE[0]}")
DIR=${1:-${VQSCOPE_BENCH_DIR:-$HOME/.cache/vqscope-bench}}
DISK_MIB=64          # size of disk.img
FW_DISK_MIB=1        # size of fw-disk.img

# Modules the guest needs, by module name (the kernel's name= field, '_' not '-').
# Their dependencies are added from each module's own depends= field (see below).
WANTED_MODULES=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
                virtio_blk failover net_failover virtio_net virtio_console virtio_rng)

# Modules of the devices variant, loaded only with vqscope.devices=more (dependencies likewise,
# except those the modules above already bring).
DEVICES_MODULES=(virtio_scsi sd_mod 9pnet_virtio 9p virtio_input evdev virtio_balloon)

log() { echo "build-guest: $*" >&2; }
die() { echo "build-guest: error: $*" >&2; exit 1; }

mkdir -p "$DIR"
DIR=$(readlink -f "$DIR")
STAMP="$DIR/.build-stamp"
script_hash=$(sha256sum "$SCRIPT_PATH" | cut -d' ' -f1)

# Parallel test runs may call this at once: one builds, the others wait and then find
# everything up to date.
exec 9>"$DIR/.build-lock"
flock 9

# ---------------------------------------------------------------- fast path: already built
outputs=("$DIR/vmlinuz" "$DIR/initramfs.gz" "$DIR/disk.img" "$DIR/fw-disk.img" "$DIR/share/lines.txt")
all_there=1
for f in "${outputs[@]}"; do [[ -s $f ]] || all_there=0; done
if (( all_there )) && [[ -f $STAMP && $(cat "$STAMP") == "$script_hash" ]]; then
    log "up to date in $DIR"
    exit 0
fi
rm -f "$STAMP"

# ---------------------------------------------------------------- tools (apt only if missing)
apt_updated=0
apt_update_once() {
    if (( ! apt_updated )); then
        log "apt-get update"
        apt-get update -qq >&2
        apt_updated=1
    fi
}
pkg_installed() {
    [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]
}
missing=()
for p in qemu-system-x86 busybox-static cpio xz-utils gzip perl; do
    pkg_installed "$p" || missing+=("$p")
done
if (( ${#missing[@]} )); then
    (( EUID == 0 )) || die "missing packages (${missing[*]}); run as root or install them"
    apt_update_once
    log "apt-get install ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >&2
fi
BUSYBOX=$(dpkg-query -L busybox-static | grep -E '/bin/busybox$' | head -n1)
[[ -x $BUSYBOX ]] || die "busybox-static is installed but its binary was not found"

# ---------------------------------------------------------------- work area
WORK="$DIR/work"
rm -rf "$WORK"
mkdir -p "$WORK"
trap 'rm -rf "$WORK"' EXIT

# ---------------------------------------------------------------- kernel package
# linux-image-amd64 is a meta package; the real one carries the ABI number
# (e.g. linux-image-6.1.0-56-amd64). Ask apt instead of hard-coding it.
resolve_kernel_pkg() {
    apt-cache depends linux-image-amd64 2>/dev/null |
        sed -n 's/^ *|\{0,1\}Depends: *\(linux-image-[^ <>]*\) *$/\1/p' | head -n1
}
kpkg=$(resolve_kernel_pkg)
if [[ -z $kpkg ]]; then
    apt_update_once        # apt-cache knows nothing before the first update
    kpkg=$(resolve_kernel_pkg)
fi
[[ -n $kpkg ]] || die "could not resolve the package linux-image-amd64 depends on"
log "kernel package: $kpkg"
# (apt-get download may warn that it runs unsandboxed as root: harmless.)
( cd "$WORK" && apt-get download -q "$kpkg" >&2 ) ||
    { apt_update_once; ( cd "$WORK" && apt-get download -q "$kpkg" >&2 ); }
debs=("$WORK/$kpkg"_*.deb)
[[ -f ${debs[0]} ]] || die "apt-get download left no $kpkg .deb"
dpkg -x "${debs[0]}" "$WORK/kernel"

kernels=("$WORK"/kernel/boot/vmlinuz-*)
vmlinuz=${kernels[0]}
[[ -f $vmlinuz ]] || die "no /boot/vmlinuz-* in $kpkg"
kver=${vmlinuz##*/vmlinuz-}
moddir="$WORK/kernel/lib/modules/$kver"
[[ -d $moddir ]] || die "no $moddir in $kpkg"
log "kernel version: $kver"

# ---------------------------------------------------------------- modules + dependencies
# The .deb has no modules.dep (depmod writes it at install time), so read each module's
# own modinfo: the .modinfo section holds NUL-separated "depends=a,b" strings.
# Module names use '_'; file names may use '-' (virtio-rng.ko). Modules may be compressed
# (.ko.xz, .ko.zst); busybox insmod cannot load those, so decompress them here.
initrd="$WORK/initrd"
mkdir -p "$initrd"/{bin,dev,proc,sys,tmp,mnt/share,lib/modules}

find_module_file() {     # $1 = module name -> path of its .ko[.xz|.zst] (empty if none)
    local pattern=${1//_/[_-]}         # virtio_rng matches virtio-rng.ko too
    find "$moddir/kernel" -type f -name "$pattern.ko*" | head -n1
}
extract_module() {       # $1 = module name -> plain .ko in the initrd
    local src out
    src=$(find_module_file "$1")
    [[ -n $src ]] || die "module $1 not found in $kpkg (built in? check /boot/config-$kver)"
    out="$initrd/lib/modules/$1.ko"
    case $src in
        *.ko)     cp "$src" "$out" ;;
        *.ko.xz)  xz -dc "$src" >"$out" ;;
        *.ko.zst) command -v zstd >/dev/null || die "zstd needed for $src"
                  zstd -qdc "$src" >"$out" ;;
        *.ko.gz)  gzip -dc "$src" >"$out" ;;
        *)        die "unknown module format: $src" ;;
    esac
}
module_depends() {       # $1 = module name -> its dependencies, one per line
    tr '\0' '\n' <"$initrd/lib/modules/$1.ko" | sed -n 's/^depends=//p' | head -n1 |
        tr ',' '\n' | sed '/^$/d'
}
# Depth-first: dependencies first, each module once -> a valid insmod order.
declare -A seen=()
order=()
add_module() {
    local m=$1 d
    [[ -n ${seen[$m]:-} ]] && return 0
    seen[$m]=1
    extract_module "$m"
    for d in $(module_depends "$m"); do add_module "$d"; done
    order+=("$m")
}
for m in "${WANTED_MODULES[@]}"; do add_module "$m"; done
printf '%s\n' "${order[@]}" >"$initrd/lib/modules/load-order"
log "module load order: ${order[*]}"
order=()
for m in "${DEVICES_MODULES[@]}"; do add_module "$m"; done
printf '%s\n' "${order[@]}" >"$initrd/lib/modules/load-order-devices"
log "devices variant, then: ${order[*]}"

# ---------------------------------------------------------------- initramfs
cp "$BUSYBOX" "$initrd/bin/busybox"
ln -s busybox "$initrd/bin/sh"

cat >"$initrd/init" <<'INIT'
#!/bin/sh
# vqscope bench guest init: load virtio drivers, then keep every virtio device busy.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
exec </dev/console >/dev/console 2>&1
# No \n -> \r\n on the serial console, so the ready line is exactly "VQSCOPE-READY\n"
# and `grep -x VQSCOPE-READY` matches it (the kernel's own messages still end in \r\n).
stty -onlcr

fail() { echo "VQSCOPE-ERROR $*"; while :; do sleep 3600; done; }

while read -r m; do
    insmod "/lib/modules/$m.ko" || fail "insmod $m"
done </lib/modules/load-order

# Wait (up to ~10 s) for something to show up.
wait_for() { # $1 = test expression args...
    i=0
    while ! "$@"; do
        i=$((i + 1)); [ $i -gt 100 ] && return 1
        usleep 100000
    done
}
# The virtserialport named vq.0 (no udev here, so no /dev/virtio-ports/ links).
find_vport() {
    for p in /sys/class/virtio-ports/*; do
        [ -r "$p/name" ] && [ "$(cat "$p/name")" = vq.0 ] && [ -c "/dev/${p##*/}" ] &&
            { VPORT=/dev/${p##*/}; return 0; }
    done
    return 1
}
rng_is_virtio() { [ -c /dev/hwrng ] && grep -q virtio /sys/class/misc/hw_random/rng_current; }

wait_for test -b /dev/vda             || fail "virtio-blk: no /dev/vda"
wait_for test -e /sys/class/net/eth0  || fail "virtio-net: no eth0"
wait_for rng_is_virtio                || fail "virtio-rng: /dev/hwrng is not virtio"
wait_for find_vport                   || fail "virtio-serial: no port named vq.0"

# QEMU user networking: guest 10.0.2.15/24, gateway (and slirp's own host) 10.0.2.2.
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2

# virtio-blk: read one sector (a different one each time) ~4 times a second.
# iflag=direct bypasses the page cache so every read is a real request to the device.
# With vqscope.io=busy on the kernel command line (the vhost-user variant), read without a pause
# and report progress: "VQSCOPE-IO N" on the console once a second, N reads done so far.
SECTORS=$(cat /sys/block/vda/size)
PAUSE=250000
grep -q 'vqscope.io=busy' /proc/cmdline && PAUSE=0
( n=0; while :; do
      dd if=/dev/vda of=/dev/null bs=512 count=1 skip=$(( (n * 97) % SECTORS )) \
         iflag=direct 2>/dev/null
      n=$((n + 1)); echo $n >/tmp/io-count
      [ $PAUSE -gt 0 ] && usleep $PAUSE
  done ) &
[ $PAUSE -eq 0 ] && ( while :; do sleep 1; echo "VQSCOPE-IO $(cat /tmp/io-count 2>/dev/null || echo 0)"; done ) &
# virtio-net: ping the slirp gateway every 0.5 s (slirp answers itself: tx and rx move).
# virtio-rng: read 16 bytes from the hardware RNG ~4 times a second.
# With vqscope.net=busy on the kernel command line: a ping every 20 ms, a read every 50 ms.
# vqscope.ping_every=S and vqscope.ping_size=N (run-guest.sh --ping-every, --ping-size) set the
# ping's interval and payload bytes.
PING_EVERY=0.5 RNG_PAUSE=250000 PING_SIZE=56
grep -q 'vqscope.net=busy' /proc/cmdline && { PING_EVERY=0.02; RNG_PAUSE=50000; }
for arg in $(cat /proc/cmdline); do
    case $arg in
        vqscope.ping_every=*) PING_EVERY=${arg#vqscope.ping_every=} ;;
        vqscope.ping_size=*) PING_SIZE=${arg#vqscope.ping_size=} ;;
    esac
done
( while :; do ping -q -i $PING_EVERY -s $PING_SIZE 10.0.2.2 >/dev/null 2>&1; sleep 1; done ) &
( while :; do dd if=/dev/hwrng of=/dev/null bs=16 count=1 2>/dev/null; usleep $RNG_PAUSE; done ) &
# virtio-serial: a line to the port vq.0 every 0.5 s.
( n=0; while :; do echo "vqscope-tick $n" >"$VPORT"; n=$((n + 1)); usleep 500000; done ) &

# ---- the devices variant (vqscope.devices=more): virtio-scsi, 9p, input, balloon
if grep -q 'vqscope.devices=more' /proc/cmdline; then
    while read -r m; do
        insmod "/lib/modules/$m.ko" || fail "insmod $m"
    done </lib/modules/load-order-devices
    # An evdev node by the input device's name (QEMU Virtio Keyboard / QEMU Virtio Tablet).
    find_input() { # $1 = name -> sets INPUT
        for e in /sys/class/input/event*; do
            [ "$(cat "$e/device/name" 2>/dev/null)" = "$1" ] && [ -c "/dev/input/${e##*/}" ] &&
                { INPUT=/dev/input/${e##*/}; return 0; }
        done
        return 1
    }
    balloon_bound() { ls /sys/bus/virtio/drivers/virtio_balloon/ 2>/dev/null | grep -q virtio; }
    wait_for test -b /dev/sda                 || fail "virtio-scsi: no /dev/sda"
    mount -t 9p -o trans=virtio,version=9p2000.L,ro vqshare /mnt/share ||
        fail "virtio-9p: mount of vqshare failed"
    wait_for find_input "QEMU Virtio Keyboard" || fail "virtio-input: no keyboard"
    KBD=$INPUT
    wait_for find_input "QEMU Virtio Tablet"   || fail "virtio-input: no tablet"
    TABLET=$INPUT
    wait_for balloon_bound                    || fail "virtio-balloon: no device"
    # virtio-scsi: one 4 KiB read (a different place each time) ~4 times a second.
    SD_BLOCKS=$(( $(cat /sys/block/sda/size) / 8 ))
    ( n=0; while :; do
          dd if=/dev/sda of=/dev/null bs=4096 count=1 skip=$(( (n * 89) % SD_BLOCKS )) \
             iflag=direct 2>/dev/null
          n=$((n + 1)); usleep 250000
      done ) &
    # virtio-9p: walk, open, read and list the share twice a second (no cache: every one is a
    # message to the device).
    ( while :; do
          cat /mnt/share/hello.txt /mnt/share/sub/deep.txt >/dev/null
          head -c 300 /mnt/share/lines.txt >/dev/null
          ls -l /mnt/share >/dev/null
          usleep 500000
      done ) &
    # virtio-input: the keyboard's caps-lock LED on and off once a second (struct input_event:
    # 16 bytes of time, then type, code, value): EV_LED LED_CAPSL v, EV_SYN SYN_REPORT 0.
    Z8='\0\0\0\0\0\0\0\0'
    ( v=1; while :; do
          printf "$Z8$Z8\021\0\001\0\00$v\0\0\0$Z8$Z8$Z8" >"$KBD"
          v=$((1 - v)); sleep 1
      done ) &
    echo "VQSCOPE-DEVICES scsi=/dev/sda 9p=/mnt/share keyboard=$KBD tablet=$TABLET"
fi

echo "VQSCOPE-READY"
while :; do sleep 3600; done
INIT
chmod 755 "$initrd/init"

( cd "$initrd" && find . | LC_ALL=C sort | cpio -o -H newc --owner=0:0 --quiet ) |
    gzip -9n >"$WORK/initramfs.gz"

# ---------------------------------------------------------------- the 9p share
mkdir -p "$WORK/share/sub"
echo "hello from the vqscope bench share" >"$WORK/share/hello.txt"
echo "deep inside the vqscope bench share" >"$WORK/share/sub/deep.txt"
for n in $(seq 0 255); do echo "VQSCOPE-9P $n"; done >"$WORK/share/lines.txt"

# ---------------------------------------------------------------- disks
# disk.img: sector n begins with "VQSCOPE-SECTOR-<n>\n", the rest of the sector is zero.
perl -e '
    my $sectors = $ARGV[0] * 2048;
    for my $n (0 .. $sectors - 1) {
        my $s = "VQSCOPE-SECTOR-$n\n";
        print $s, "\0" x (512 - length $s);
    }' "$DISK_MIB" >"$WORK/disk.img"

# fw-disk.img: sector 0 is this boot sector (16-bit, loaded at 0x7c00), as assembled by
# GNU as --32 / ld -Ttext=0x7c00 --oformat binary:
#   cli; xor ax,ax; mov ds/es/ss,ax; mov sp,0x7c00; sti
#   mov [drive],dl; xor di,di; xor bp,bp
# read:
#   mov ax,0x0201; mov cx,di; and cx,15; inc cx      ; read 1 sector, sector 1..16
#   xor dh,dh; mov dl,[drive]; mov bx,0x8000; int 0x13; jc fail
#   inc di; test bp,bp; jnz wait; inc bp; mov si,ready; call print   ; first time only
# wait:
#   mov cx,4; w: hlt; loop w; jmp read               ; 4 timer ticks (~0.22 s)
# fail: mov si,error; call print; halt: hlt; jmp halt
# print: mov dx,0x402; p1: lodsb; test al,al; jz p2; out dx,al; jmp p1; p2: ret
# drive: db 0; ready: "VQSCOPE-READY\n",0; error: "VQSCOPE-ERROR int13 read failed\n",0
# ... padding, 0x55 0xaa at offset 510.
BOOT_HEX='fa31c08ed88ec08ed0bc007cfb8816547c31ff31edb8010289f983e10f4130f68a16547cbb0080cd'\
'1372144785ed750745be557ce81100b90400f4e2fdebd6be647ce80300f4ebfdba0204ac84c07403ee'\
'ebf8c300565153434f50452d52454144590a00565153434f50452d4552524f5220696e743133207265'\
'6164206661696c65640a00'
perl -e '
    my ($hex, $mib) = @ARGV;
    my $boot = pack("H*", $hex);
    print $boot, "\0" x (510 - length $boot), "\x55\xaa";
    for my $n (1 .. $mib * 2048 - 1) {
        my $s = "VQSCOPE-FW-SECTOR-$n\n";
        print $s, "\0" x (512 - length $s);
    }' "$BOOT_HEX" "$FW_DISK_MIB" >"$WORK/fw-disk.img"

# ---------------------------------------------------------------- publish
cp "$vmlinuz" "$WORK/vmlinuz"
for f in vmlinuz initramfs.gz disk.img fw-disk.img; do
    mv -f "$WORK/$f" "$DIR/$f"
done
rm -rf "$DIR/share"
mv "$WORK/share" "$DIR/share"
echo "$script_hash" >"$STAMP"
log "built in $DIR: vmlinuz ($kver), initramfs.gz, disk.img (${DISK_MIB} MiB), fw-disk.img, share/"
