#!/usr/bin/env python3
"""Writes the hand-made seeds of each fuzz target into Tests/Fuzz/corpus/<target>/seed-*: real
rings, requests, images and text in the input formats the targets' headers describe. Run once when a
format changes; the fuzzer adds what it finds (scripts/fuzz.sh with FUZZ_KEEP=1)."""
import os, struct

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

def put(target, name, data):
    d = os.path.join(root, target); os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f: f.write(bytes(data))

def desc(addr, length, flags=0, nxt=0):           # split descriptor
    return struct.pack("<QIHH", addr, length, flags, nxt)
def pdesc(addr, length, bid, flags):               # packed descriptor
    return struct.pack("<QIHH", addr, length, bid, flags)
NEXT, WRITE, INDIRECT, AVAIL, USED = 1, 2, 4, 1 << 7, 1 << 15
SIZES = [1, 2, 4, 8, 16, 32, 64, 128, 256, 3, 5, 100, 0, 1024, 32768, 65535]

def ram(size, pieces):
    b = bytearray(size)
    for at, data in pieces: b[at:at + len(data)] = data
    return b

# Split rings: N=8 at the standard layout (desc 0, avail 128, used 152), buffers at 0x800.
def split_ring(n, chains, avail_idx, used_idx, used_ids, table_extra=()):
    d = bytearray(16 * n)
    for i, (a, l, f, nx) in chains.items(): d[16 * i:16 * i + 16] = desc(a, l, f, nx)
    avail = 16 * n; used = (avail + 6 + 2 * n + 3) // 4 * 4
    heads = [0, 3, 5, 6, 7]
    av = struct.pack("<HH", 0, avail_idx) + b"".join(struct.pack("<H", heads[i % len(heads)]) for i in range(n)) + b"\0\0"
    us = struct.pack("<HH", 0, used_idx) + b"".join(struct.pack("<II", used_ids[i % len(used_ids)], 512) for i in range(n)) + b"\0\0"
    return ram(0x1000, [(0, d), (avail, av), (used, us)] + list(table_extra))
chains = {0: (0x800, 16, NEXT, 1), 1: (0x810, 512, NEXT | WRITE, 2), 2: (0xa10, 1, WRITE, 0),
          3: (0xc00, 48, INDIRECT, 0), 5: (0x900, 64, 0, 0), 6: (0x940, 64, NEXT, 4), 4: (0x980, 64, WRITE, 0), 7: (0x9c0, 8, 0, 0)}
table = desc(0xd00, 16, NEXT, 1) + desc(0xd10, 256, NEXT | WRITE, 2) + desc(0xe10, 1, WRITE, 0)
r = split_ring(8, chains, 5, 2, [0, 3], [(0xc00, table)])
put("SplitRing", "n8", bytes([3, 0b11, 0, 0, 0, 0, 0, 0]) + r)
put("SplitRing", "n8-torn-small", bytes([3, 0b111010, 0, 0, 0, 0, 0, 0]) + r)
put("SplitRing", "n8-custom", bytes([3, 0b110, 0, 0, 128, 0, 0, 2]) + r[:0x100] + ram(0x100, [(0, r[152:152 + 70])]) + r[0x200:])
loop = {0: (0x800, 16, NEXT, 1), 1: (0x810, 16, NEXT, 0), 2: (0x820, 16, INDIRECT | NEXT, 3), 3: (0xc00, 0x7fff0, INDIRECT, 0)}
put("SplitRing", "n4-hostile", bytes([2, 0b1011, 0, 0, 0, 0, 0, 0]) + split_ring(4, loop, 0xffff, 0, [7, 0x10000]))
put("SplitRing", "n3-bad-size", bytes([9, 0, 0, 0, 0, 0, 0, 0]) + split_ring(3, {0: (0x800, 16, 0, 0)}, 1, 0, [0]))

# Packed rings: N=8, wrap counter 1: slots 0-1 used, 2-4 one chain, 5 indirect, 6-7 free.
def packed(entries, n=8):
    d = bytearray(16 * n)
    for i, e in entries.items(): d[16 * i:16 * i + 16] = pdesc(*e)
    return d
p = packed({0: (0x800, 64, 0, AVAIL | USED), 1: (0x840, 64, 1, AVAIL | USED | WRITE),
            2: (0x880, 16, 2, AVAIL | NEXT), 3: (0x890, 512, 2, AVAIL | NEXT | WRITE), 4: (0xa90, 1, 2, AVAIL | WRITE),
            5: (0xc00, 48, 3, AVAIL | INDIRECT)})
events = ram(0x10, [(0, struct.pack("<HH", 2 | 0x8000, 0)), (8, struct.pack("<HH", 6 | 0x8000, 0))])
body = ram(0x1000, [(0, p), (0x100, events), (0xc00, pdesc(0xd00, 16, 0, 0) + pdesc(0xd10, 256, 0, WRITE) + pdesc(0xe10, 1, 0, WRITE))])
put("PackedRing", "n8", bytes([3, 0b1010, 2, 0, 0, 1, 8, 1]) + body)
put("PackedRing", "n8-inorder-nohint", bytes([3, 0b01100001, 0, 0, 0, 1, 8, 1]) + body)
wrapped = packed({i: (0x800 + 64 * i, 64, i, (AVAIL if i < 4 else USED)) for i in range(8)})
put("PackedRing", "n8-wrapped", bytes([3, 0b11110, 4, 0, 0, 1, 8, 1]) + ram(0x1000, [(0, wrapped)]))
put("PackedRing", "n4-hostile", bytes([2, 0b100010, 9, 0, 0xff, 0xff, 0, 1]) +
    ram(0x1000, [(0, packed({0: (0x800, 16, 0, AVAIL | NEXT), 1: (0xc00, 0xffffffff, 0, AVAIL | INDIRECT | NEXT),
                             2: (0x1000000, 0, 5, AVAIL), 3: (0xc00, 32, 0, USED | INDIRECT)}, 4))]))

# Chains: the table at 0 of guest RAM.
put("Chain", "split", bytes([0, 7, 0, 0]) + r)
put("Chain", "split-indirect", bytes([0b1010, 7, 3, 0]) + r)
put("Chain", "packed", bytes([1, 7, 2, 0]) + body)
put("Chain", "packed-indirect-bounded", bytes([0b1111, 7, 5, 2]) + body)
selfref = desc(0, 64, INDIRECT) + desc(0x800, 16, NEXT, 0) + desc(0, 32, INDIRECT | NEXT, 3) + desc(0x10, 0, WRITE | INDIRECT, 0)
put("Chain", "split-self", bytes([0b1000, 3, 0, 0]) + selfref)

# Payloads: device, queue index, queue count - 1, options, completed length, elements, RAM.
def payload(dev, qi, qc, opts, completed, elems, pieces):
    h = bytes([dev, qi, qc - 1, opts]) + struct.pack("<I", completed) + bytes([len(elems)])
    return h + b"".join(struct.pack("<IHB", a, l, w) for a, l, w in elems) + ram(0x1000, pieces)
blk = struct.pack("<IIQ", 1, 0, 2048)
put("Payload", "blk-write", payload(0, 0, 1, 3, 513, [(0x100, 16, 0), (0x200, 512, 0), (0x400, 1, 1)], [(0x100, blk), (0x400, b"\0")]))
put("Payload", "blk-getid", payload(0, 0, 1, 2, 0, [(0x100, 16, 0), (0x200, 20, 1), (0x400, 1, 1)], [(0x100, struct.pack("<IIQ", 8, 0, 0))]))
eth = bytes.fromhex("525400123456525400abcdef0800") + bytes.fromhex("4500003c1c4640004006b1e6c0a80001c0a800c7") + \
      bytes.fromhex("0050c7a8000000000000000050022000917c0000")
net_hdr = bytes(12)
put("Payload", "net-tx", payload(1, 1, 3, 2, 0, [(0x100, 12 + len(eth), 0)], [(0x100, net_hdr + eth)]))
put("Payload", "net-rx", payload(1, 0, 2, 3, 12 + len(eth), [(0x100, 1526, 1)], [(0x100, net_hdr + eth)]))
put("Payload", "net-legacy-arp", payload(1, 1, 2, 0, 0, [(0x100, 10, 0), (0x200, 42, 0)],
    [(0x200, bytes.fromhex("ffffffffffff525400123456" "0806" "0001080006040001525400123456c0a80001000000000000c0a800c7"))]))
put("Payload", "console", payload(3, 1, 2, 3, 14, [(0x100, 64, 0), (0x200, 64, 1)], [(0x100, b"hello, world\r\n"), (0x200, b"login: ")]))
put("Payload", "rng", payload(4, 0, 1, 3, 16, [(0x100, 64, 1)], [(0x100, bytes(range(16)))]))
# Device indexes in the Payload target's list: 5 virtio-gpu, 6 virtio-scsi, 8 virtio-9p, 9 virtio-input,
# 10 virtio-balloon, 11 vhost-vsock, 12 vhost-user-fs. Options: bit 2 SCSI T10 PI, bits 3-5 balloon queues.
lun = bytes([1, 0, 0x40, 1, 0, 0, 0, 0])
cmd = lun + struct.pack("<QBBB", 7, 0, 0, 0) + bytes([0x28, 0, 0, 0, 8, 0, 0, 0, 8, 0]).ljust(32, b"\0")
sense = bytes([0x70, 0, 5, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x24, 0])
resp = struct.pack("<IIHBB", len(sense), 0, 0, 2, 0) + sense.ljust(96, b"\0")
put("Payload", "scsi-read10-check", payload(6, 2, 4, 3, 108, [(0x100, 51, 0), (0x200, 108, 1), (0x400, 512, 1)], [(0x100, cmd), (0x200, resp)]))
put("Payload", "scsi-pi", payload(6, 3, 4, 6, 0, [(0x100, 59, 0)], [(0x100, cmd[:19] + struct.pack("<II", 8, 0) + cmd[19:])]))
put("Payload", "scsi-tmf", payload(6, 0, 4, 3, 1, [(0x100, 24, 0), (0x200, 1, 1)],
    [(0x100, struct.pack("<II", 0, 5) + lun + struct.pack("<Q", 0)), (0x200, b"\x0a")]))
put("Payload", "scsi-an", payload(6, 0, 4, 3, 5, [(0x100, 16, 0), (0x200, 5, 1)], [(0x100, struct.pack("<I", 1) + lun + struct.pack("<I", 0x10))]))
put("Payload", "scsi-event", payload(6, 1, 4, 3, 16, [(0x100, 16, 1)], [(0x100, struct.pack("<I", 1) + lun + struct.pack("<I", 1))]))
def p9(t, tag, body): return struct.pack("<IBH", 7 + len(body), t, tag) + body
def s9(text): return struct.pack("<H", len(text)) + text
twalk = p9(110, 3, struct.pack("<IIH", 0, 1, 2) + s9(b"usr") + s9(b"lib"))
rwalk = p9(111, 3, struct.pack("<H", 2) + bytes(26))
put("Payload", "9p-walk", payload(8, 0, 1, 3, len(rwalk), [(0x100, len(twalk), 0), (0x200, 256, 1)], [(0x100, twalk), (0x200, rwalk)]))
tread = p9(116, 6, struct.pack("<IQI", 2, 0, 4096))
put("Payload", "9p-read-lerror", payload(8, 0, 1, 3, 11, [(0x100, len(tread), 0), (0x200, 11, 1), (0x300, 4096, 1)],
    [(0x100, tread), (0x200, p9(7, 6, struct.pack("<I", 2)))]))
put("Payload", "9p-version", payload(8, 0, 1, 2, 0, [(0x100, 21, 0)], [(0x100, p9(100, 0xffff, struct.pack("<I", 8192) + s9(b"9P2000.L")))]))
ev = lambda t, c, v: struct.pack("<HHI", t, c, v)
put("Payload", "input-key", payload(9, 0, 2, 3, 24, [(0x100, 24, 1)], [(0x100, ev(4, 4, 30) + ev(1, 30, 1) + ev(0, 0, 0))]))
put("Payload", "input-led", payload(9, 1, 2, 2, 0, [(0x100, 16, 0)], [(0x100, ev(0x11, 1, 1) + ev(0, 0, 0))]))
put("Payload", "balloon-inflate", payload(10, 0, 3, 2, 0, [(0x100, 1024, 0)], [(0x100, b"".join(struct.pack("<I", 0x12345 + i) for i in range(8)))]))
stats = b"".join(struct.pack("<HQ", t, v) for t, v in [(0, 0), (1, 0), (2, 17), (3, 9000), (4, 112 << 20), (5, 1 << 30), (6, 500 << 20), (7, 64 << 20), (8, 0), (9, 0)])
put("Payload", "balloon-stats", payload(10, 2, 3, 0b1010, 0, [(0x100, len(stats), 0)], [(0x100, stats)]))
put("Payload", "balloon-report", payload(10, 2, 4, 0b100011, 0, [(0x1000, 0x1000, 1), (0x2000, 0x2000, 1)], []))
ctrl = struct.pack("<IHH", 1, 7, 1) + b"org.qemu.guest_agent.0\0"
put("Payload", "serial-port-name", payload(2, 2, 8, 3, len(ctrl), [(0x100, 4096, 1)], [(0x100, ctrl)]))
put("Payload", "serial-resize", payload(2, 3, 8, 2, 0, [(0x100, 12, 0)], [(0x100, struct.pack("<IHHHH", 0, 5, 0, 132, 43))]))
vsock = struct.pack("<QQIIIHHIII", 3, 2, 1025, 5000, 5, 1, 5, 0, 262144, 0) + b"hello"
put("Payload", "vsock-tx", payload(11, 1, 3, 2, 0, [(0x100, 44, 0), (0x200, 5, 0)], [(0x100, vsock[:44]), (0x200, vsock[44:])]))
put("Payload", "vsock-rx", payload(11, 0, 3, 3, 49, [(0x100, 4140, 1)], [(0x100, vsock)]))
put("Payload", "vsock-event", payload(11, 2, 3, 3, 4, [(0x100, 4, 1)], []))
fuse_read = struct.pack("<IIQQIIIHH", 80, 15, 8, 5, 0, 0, 311, 0, 0) + struct.pack("<QQIIQII", 1, 8192, 4096, 0, 0, 0, 0)
put("Payload", "fs-read", payload(12, 1, 2, 3, 4112, [(0x100, 80, 0), (0x200, 16, 1), (0x300, 4096, 1)],
    [(0x100, fuse_read), (0x200, struct.pack("<IiQ", 4112, 0, 8))]))
put("Payload", "fs-lookup-enoent", payload(12, 0, 2, 3, 16, [(0x100, 46, 0), (0x200, 144, 1)],
    [(0x100, struct.pack("<IIQQIIIHH", 46, 1, 42, 1, 1000, 100, 311, 0, 0) + b"hello\0"), (0x200, struct.pack("<IiQ", 16, -2, 42))]))
gpu = lambda t, flags=0, fence=0: struct.pack("<IIQIB3x", t, flags, fence, 0, 0)
put("Payload", "gpu-flush", payload(5, 0, 2, 3, 24, [(0x100, 48, 0), (0x200, 24, 1)], [(0x100, gpu(0x104, 1, 12)), (0x200, gpu(0x1100, 1, 12))]))

# ELF core files: two or three PT_LOAD segments.
def elf(segments, phentsize=56):
    off = 64 + phentsize * len(segments)
    hdr = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9) + struct.pack("<HHIQQQIHHHHHH", 4, 62, 1, 0, 64, 0, 0, 64, phentsize, len(segments), 0, 0, 0)
    ph, data = b"", b""
    for paddr, content in segments:
        ph += struct.pack("<IIQQQQQQ", 1, 0, off + len(data), 0, paddr, len(content), len(content), 0) + bytes(phentsize - 56)
        data += content
    return hdr + ph + data
put("ELFImage", "two", elf([(0, b"\xaa" * 256), (0x100000, b"\xbb" * 512)]))
put("ELFImage", "top", elf([(0xfffffffffffff000, b"\xcc" * 16), (0x1000, b"\xdd" * 64), (0x2000, b"")], 64))
put("ELFImage", "note", elf([(0, b"\x01" * 32)])[:64 + 56 + 16])

# JSON: QMP replies and events, and the odd corners.
for i, text in enumerate([
    '{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": "Debian 1:7.2"}, "capabilities": ["oob"]}}',
    '{"return": {"used-idx": 222, "vring-desc": 43974656, "vring-num": 256, "signalled-used-valid": true, "last-avail-idx": 222, "name": "virtio-blk"}, "id": 4}',
    '{"return": {"guest-features": {"transports": ["VIRTIO_RING_F_EVENT_IDX: Used & avail event fields", "VIRTIO_F_VERSION_1: Device compliant", "VIRTIO_F_RING_PACKED: x"]}, "num-vqs": 2}}',
    '{"return": [{"name": "virtio-blk", "path": "/machine/peripheral-anon/device[1]/virtio-backend"}]}',
    '{"return": "Host virtual address for 0x1000 (pc.ram) is 0x7f8ccbe01000\\r\\n"}',
    '[1, -2.5e-3, 1E400, "a\\"b\\\\c\\u00e9\\ud83d\\ude00\\ud800", true, false, null, [], {}, [[[[[]]]]], {"a": {"b": {"c": [0.1, -0]}}}]',
    '{"timestamp": {"seconds": 1795582382, "microseconds": 905498}, "event": "STOP"}',
    '{"error": {"class": "GenericError", "desc": "not found"}}',
]):
    put("JSON", "%d" % i, text.encode())

# QEMU and /proc text: byte 0 picks the flat view's address space.
maps = """55d1c8a00000-55d1c8e3c000 r--p 00000000 fd:01 1835123                    /usr/bin/qemu-system-x86_64
55d1ca26e000-55d1ca9b4000 rw-p 00000000 00:00 0                          [heap]
7f8ccbe00000-7f8d0be00000 rw-s 00000000 00:01 4096                       /memfd:pc.ram (deleted)
7f8d10000000-7f8d10021000 rw-p 00000000 00:00 0 
7ffd5a1c3000-7ffd5a1e4000 rw-p 00000000 00:00 0                          [stack]
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
"""
mtree = """FlatView #0
 AS "memory", root: system
 AS "cpu-memory-0", root: system
 Root memory region: system
  0000000000000000-000000000009ffff (prio 0, ram): pc.ram KVM
  00000000000a0000-00000000000bffff (prio 1, i/o): vga-lowmem
  00000000000c0000-00000000000dffff (prio 1, rom): pc.ram @00000000000c0000 KVM
  0000000000100000-000000000fffffff (prio 0, ram): pc.ram @0000000000100000 KVM
  00000000fffc0000-00000000ffffffff (prio 0, romd): pc.bios KVM

FlatView #1
 AS "I/O", root: io
 Root memory region: io
  0000000000000000-0000000000000007 (prio 0, i/o): dma-chan
  0000000000000cf8-0000000000000cfb (prio 0, i/o): pci-conf-idx
"""
put("QEMUText", "maps", b"\0" + maps.encode())
put("QEMUText", "mtree", b"\0" + mtree.encode())
put("QEMUText", "mtree-io", b"\1" + mtree.encode())
put("QEMUText", "gpa2hva", b"\0Host virtual address for 0x1000 (pc.ram) is 0x7f8ccbe01000\r\n")
# libvirt 9.0's command line of a domain (one argument a line), its /proc/PID/net/unix and status file.
libvirt = """-name
guest=h15-basic,debug-threads=on
-S
-object
{"qom-type":"secret","id":"masterKey0","format":"raw","file":"/var/lib/libvirt/qemu/domain-1-h15-basic/master-key.aes"}
-machine
pc-i440fx-7.2,usb=off,dump-guest-core=off,memory-backend=pc.ram
-accel
tcg
-cpu
qemu64
-m
256
-object
{"qom-type":"memory-backend-ram","id":"pc.ram","size":268435456}
-overcommit
mem-lock=off
-smp
1,sockets=1,cores=1,threads=1
-uuid
5e1a401f-1571-428a-9b04-61b85432b942
-display
none
-no-user-config
-nodefaults
-chardev
socket,id=charmonitor,fd=29,server=on,wait=off
-mon
chardev=charmonitor,id=monitor,mode=control
-rtc
base=utc
-no-shutdown
-no-acpi
-boot
strict=on
-kernel
/var/lib/libvirt/images/h15/vmlinuz
-initrd
/var/lib/libvirt/images/h15/initramfs.gz
-append
console=ttyS0 quiet
-device
{"driver":"piix3-usb-uhci","id":"usb","bus":"pci.0","addr":"0x1.0x2"}
-blockdev
{"driver":"file","filename":"/var/lib/libvirt/images/h15/disk.img","node-name":"libvirt-1-storage","auto-read-only":true,"discard":"unmap"}
-blockdev
{"node-name":"libvirt-1-format","read-only":true,"driver":"raw","file":"libvirt-1-storage"}
-device
{"driver":"virtio-blk-pci","bus":"pci.0","addr":"0x3","drive":"libvirt-1-format","id":"virtio-disk0","bootindex":1}
-netdev
{"type":"user","id":"hostnet0"}
-device
{"driver":"virtio-net-pci","packed":true,"netdev":"hostnet0","id":"net0","mac":"52:54:00:c5:9d:88","bus":"pci.0","addr":"0x2"}
-add-fd
set=0,fd=30,opaque=serial0-source
-chardev
file,id=charserial0,path=/dev/fdset/0,append=on
-device
{"driver":"isa-serial","chardev":"charserial0","id":"serial0","index":0}
-audiodev
{"id":"audio1","driver":"none"}
-object
{"qom-type":"rng-random","id":"objrng0","filename":"/dev/urandom"}
-device
{"driver":"virtio-rng-pci","rng":"objrng0","id":"rng0","bus":"pci.0","addr":"0x4"}
-sandbox
on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny
-msg
timestamp=on
"""
put("QEMUText", "libvirt-cmdline", b"\0" + libvirt.encode())
put("QEMUText", "net-unix", b"\0" + b"""Num       RefCount Protocol Flags    Type St Inode Path
00000000614e1561: 00000003 00000000 00000000 0001 03 82091
00000000a5766895: 00000002 00000000 00010000 0001 01 33048 /var/lib/libvirt/qemu/domain-1-h15-basic/monitor.sock
00000000a23fd8a7: 00000003 00000000 00000000 0001 03 32337 /var/lib/libvirt/qemu/domain-1-h15-basic/monitor.sock
""")
put("QEMUText", "libvirt-status", b"\0" + b"""<domstatus state='running' reason='booted' pid='8365'>
  <monitor path='/var/lib/libvirt/qemu/domain-1-h15-basic/monitor.sock' type='unix'/>
  <domain type='qemu' id='1'>
    <name>h15-basic</name>
    <uuid>5e1a401f-1571-428a-9b04-61b85432b942</uuid>
  </domain>
</domstatus>
""")

# KVMSlots: the [heap] with a KVMSlot array (stride 72, as_id at 56) at 0x100: used records point
# into the guest RAM mapping 0x7f1234100000 (4 MiB) and the ROM at 0x7f1234500000.
def kvm(stride, count, used, as_off):
    b = bytearray(0x100 + stride * count)
    for i in range(count):
        r = 0x100 + i * stride
        b[r + 24:r + 28] = struct.pack("<I", i)
        if i in used:
            gpa, size, host, flags = used[i]
            b[r:r + 24] = struct.pack("<QQQ", gpa, size, host)
            b[r + 28:r + 36] = struct.pack("<II", flags, flags)
            if as_off: b[r + as_off:r + as_off + 4] = struct.pack("<I", 0)
    return b
slots = {0: (0, 0xa0000, 0x7f1234100000, 0), 1: (0x100000, 0x300000, 0x7f1234200000, 0), 2: (0xfffc0000, 0x40000, 0x7f1234500000, 2)}
put("KVMSlots", "stride72", kvm(72, 10, slots, 56))
put("KVMSlots", "stride48", kvm(48, 12, slots, None))
put("KVMSlots", "stride88", kvm(88, 9, slots, 56))

# VTdWalk: Intel IOMMU tables in two pages of RAM (page 0 also at 1 MiB), so tables share pages:
# each table is a distinct guest-physical page (0x0, 0x1000, 0x100000) used at distinct indexes.
def vtd(options, bus, devfn, root_page, max_tables, iova, count, entries):
    b = bytearray(0x2000)
    for at, value in entries: b[at:at + 8] = struct.pack("<Q", value)
    return bytes([options, bus, devfn]) + struct.pack("<HBQI", root_page, max_tables, iova, count) + b
LARGE, RW = 1 << 7, 3
# Legacy, 4 levels (CAP 48-bit): root@0 → context@0x1000 (devfn 0x20) → PML4@0 [2] → PDPT@0x1000 [3]
# → PD@0x100000 [5] → a 2 MiB page at 0.
iova = 2 << 39 | 3 << 30 | 5 << 21 | 0x100
put("VTdWalk", "legacy-4-level-2m", vtd(0b010110, 0, 0x20, 0, 16, iova, 0x100, [
    (0x0, 0x1000 | 1), (0x1200, 0x0 | 1), (0x1208, 2 | 1 << 8),
    (0x10, 0x1000 | RW), (0x1018, 0x100000 | RW), (0x28, 0x0 | LARGE | RW)]))
# Legacy, 3 levels (CAP 39-bit): PDPT@0 [4] → PD@0x1000 [6] → PT@0x100000 [7] → the page at 0x1000.
iova = 4 << 30 | 6 << 21 | 7 << 12 | 0x10
put("VTdWalk", "legacy-3-level-4k", vtd(0b010010, 0, 0x20, 0, 16, iova, 0x20, [
    (0x0, 0x1000 | 1), (0x1200, 0x0 | 1), (0x1208, 1 | 1 << 8),
    (0x20, 0x1000 | RW), (0x1030, 0x100000 | RW), (0x38, 0x1000 | RW)]))
# Scalable, 4 levels: root@0 → context@0x1000 (32-byte entries, devfn 0x20 at 0x1400) → PASID
# directory@0x100000 [0] → PASID table@0x1000 [0]: second-level (PGTT 2), AW 2, PML4@0 [3] →
# PDPT@0x100000 [4] → PD@0x1000 [9] → a 2 MiB page at 0.
iova = 3 << 39 | 4 << 30 | 9 << 21 | 0x40
put("VTdWalk", "scalable-4-level", vtd(0b100111, 0, 0x20, 0, 16, iova, 0x40, [
    (0x0, 0x1000 | 1), (0x1400, 0x100000 | 1), (0x1000, 0x0 | 2 << 6 | 2 << 2 | 1), (0x1008, 5),
    (0x18, 0x100000 | RW), (0x20, 0x1000 | RW), (0x1048, 0x0 | LARGE | RW)]))
put("VTdWalk", "translation-off", vtd(0b000100, 0, 0x20, 0x99, 4, 0x1800, 0x400, []))
put("VTdWalk", "pass-through", vtd(0b000110, 0, 0x20, 0, 4, 0x100, 0x100, [(0x0, 0x1000 | 1), (0x1200, 2 << 2 | 1), (0x1208, 2)]))
# Every PML4 entry points back at the PML4.
put("VTdWalk", "loop", vtd(0b000110, 0, 0x20, 1, 63, 5 << 39 | 0x12345678, 0x10, [(0x1000, 0x0 | 1), (0x200, 0x0 | 1), (0x208, 2)] +
    [(8 * i, 0x0 | RW) for i in range(2, 512) if 8 * i != 0x200 and 8 * i != 0x208]))
