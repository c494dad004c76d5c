/// Real command lines of QEMU 7.2 processes started by libvirt 9.0 (Debian 12), read from
/// /proc/PID/cmdline of transient TCG domains booting the bench guest: a virtio-blk disk
/// (read-only), a packed virtio-net interface and virtio-rng. Taken 2026-12-03.
enum LibvirtCommandLines {
    /// pc machine, 256 MiB in `memory-backend-ram` pc.ram (`<memory unit='MiB'>256</memory>`).
    static let basic: [String] = [
        #"/usr/bin/qemu-system-x86_64"#,
        #"-name"#, #"guest=h15-basic,debug-threads=on"#,
        #"-S"#,
        #"-object"#, #"{"qom-type":"secret","id":"masterKey0","format":"raw","file":"/var/lib/libvirt/qemu/domain-1-h15-basic/master-key.aes"}"#,
        #"-machine"#, #"pc-i440fx-7.2,usb=off,dump-guest-core=off,memory-backend=pc.ram"#,
        #"-accel"#, #"tcg"#,
        #"-cpu"#, #"qemu64"#,
        #"-m"#, #"256"#,
        #"-object"#, #"{"qom-type":"memory-backend-ram","id":"pc.ram","size":268435456}"#,
        #"-overcommit"#, #"mem-lock=off"#,
        #"-smp"#, #"1,sockets=1,cores=1,threads=1"#,
        #"-uuid"#, #"5e1a401f-1571-428a-9b04-61b85432b942"#,
        #"-display"#, #"none"#,
        #"-no-user-config"#,
        #"-nodefaults"#,
        #"-chardev"#, #"socket,id=charmonitor,fd=29,server=on,wait=off"#,
        #"-mon"#, #"chardev=charmonitor,id=monitor,mode=control"#,
        #"-rtc"#, #"base=utc"#,
        #"-no-shutdown"#,
        #"-no-acpi"#,
        #"-boot"#, #"strict=on"#,
        #"-kernel"#, #"/var/lib/libvirt/images/h15/vmlinuz"#,
        #"-initrd"#, #"/var/lib/libvirt/images/h15/initramfs.gz"#,
        #"-append"#, #"console=ttyS0 quiet"#,
        #"-device"#, #"{"driver":"piix3-usb-uhci","id":"usb","bus":"pci.0","addr":"0x1.0x2"}"#,
        #"-blockdev"#, #"{"driver":"file","filename":"/var/lib/libvirt/images/h15/disk.img","node-name":"libvirt-1-storage","auto-read-only":true,"discard":"unmap"}"#,
        #"-blockdev"#, #"{"node-name":"libvirt-1-format","read-only":true,"driver":"raw","file":"libvirt-1-storage"}"#,
        #"-device"#, #"{"driver":"virtio-blk-pci","bus":"pci.0","addr":"0x3","drive":"libvirt-1-format","id":"virtio-disk0","bootindex":1}"#,
        #"-netdev"#, #"{"type":"user","id":"hostnet0"}"#,
        #"-device"#, #"{"driver":"virtio-net-pci","packed":true,"netdev":"hostnet0","id":"net0","mac":"52:54:00:c5:9d:88","bus":"pci.0","addr":"0x2"}"#,
        #"-add-fd"#, #"set=0,fd=30,opaque=serial0-source"#,
        #"-chardev"#, #"file,id=charserial0,path=/dev/fdset/0,append=on"#,
        #"-device"#, #"{"driver":"isa-serial","chardev":"charserial0","id":"serial0","index":0}"#,
        #"-audiodev"#, #"{"id":"audio1","driver":"none"}"#,
        #"-object"#, #"{"qom-type":"rng-random","id":"objrng0","filename":"/dev/urandom"}"#,
        #"-device"#, #"{"driver":"virtio-rng-pci","rng":"objrng0","id":"rng0","bus":"pci.0","addr":"0x4"}"#,
        #"-sandbox"#, #"on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"#,
        #"-msg"#, #"timestamp=on"#,
    ]

    /// two NUMA cells of 128 MiB, `<memoryBacking><source type='memfd'/><access mode='shared'/>`: one `memory-backend-memfd` per node.
    static let numa: [String] = [
        #"/usr/bin/qemu-system-x86_64"#,
        #"-name"#, #"guest=h15-numa,debug-threads=on"#,
        #"-S"#,
        #"-object"#, #"{"qom-type":"secret","id":"masterKey0","format":"raw","file":"/var/lib/libvirt/qemu/domain-2-h15-numa/master-key.aes"}"#,
        #"-machine"#, #"pc-i440fx-7.2,usb=off,dump-guest-core=off"#,
        #"-accel"#, #"tcg"#,
        #"-cpu"#, #"qemu64"#,
        #"-m"#, #"256"#,
        #"-overcommit"#, #"mem-lock=off"#,
        #"-smp"#, #"2,sockets=2,cores=1,threads=1"#,
        #"-object"#, #"{"qom-type":"memory-backend-memfd","id":"ram-node0","share":true,"size":134217728}"#,
        #"-numa"#, #"node,nodeid=0,cpus=0,memdev=ram-node0"#,
        #"-object"#, #"{"qom-type":"memory-backend-memfd","id":"ram-node1","share":true,"size":134217728}"#,
        #"-numa"#, #"node,nodeid=1,cpus=1,memdev=ram-node1"#,
        #"-uuid"#, #"10799986-0e70-4885-84f1-8b5b44aefd8b"#,
        #"-display"#, #"none"#,
        #"-no-user-config"#,
        #"-nodefaults"#,
        #"-chardev"#, #"socket,id=charmonitor,fd=29,server=on,wait=off"#,
        #"-mon"#, #"chardev=charmonitor,id=monitor,mode=control"#,
        #"-rtc"#, #"base=utc"#,
        #"-no-shutdown"#,
        #"-no-acpi"#,
        #"-boot"#, #"strict=on"#,
        #"-kernel"#, #"/var/lib/libvirt/images/h15/vmlinuz"#,
        #"-initrd"#, #"/var/lib/libvirt/images/h15/initramfs.gz"#,
        #"-append"#, #"console=ttyS0 quiet"#,
        #"-device"#, #"{"driver":"piix3-usb-uhci","id":"usb","bus":"pci.0","addr":"0x1.0x2"}"#,
        #"-blockdev"#, #"{"driver":"file","filename":"/var/lib/libvirt/images/h15/disk.img","node-name":"libvirt-1-storage","auto-read-only":true,"discard":"unmap"}"#,
        #"-blockdev"#, #"{"node-name":"libvirt-1-format","read-only":true,"driver":"raw","file":"libvirt-1-storage"}"#,
        #"-device"#, #"{"driver":"virtio-blk-pci","bus":"pci.0","addr":"0x3","drive":"libvirt-1-format","id":"virtio-disk0","bootindex":1}"#,
        #"-netdev"#, #"{"type":"user","id":"hostnet0"}"#,
        #"-device"#, #"{"driver":"virtio-net-pci","packed":true,"netdev":"hostnet0","id":"net0","mac":"52:54:00:50:4a:6e","bus":"pci.0","addr":"0x2"}"#,
        #"-add-fd"#, #"set=0,fd=30,opaque=serial0-source"#,
        #"-chardev"#, #"file,id=charserial0,path=/dev/fdset/0,append=on"#,
        #"-device"#, #"{"driver":"isa-serial","chardev":"charserial0","id":"serial0","index":0}"#,
        #"-audiodev"#, #"{"id":"audio1","driver":"none"}"#,
        #"-object"#, #"{"qom-type":"rng-random","id":"objrng0","filename":"/dev/urandom"}"#,
        #"-device"#, #"{"driver":"virtio-rng-pci","rng":"objrng0","id":"rng0","bus":"pci.0","addr":"0x4"}"#,
        #"-sandbox"#, #"on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"#,
        #"-msg"#, #"timestamp=on"#,
    ]

    /// q35 machine, `<memoryBacking>` memfd and shared: pc.ram is a `memory-backend-memfd`.
    static let memfd: [String] = [
        #"/usr/bin/qemu-system-x86_64"#,
        #"-name"#, #"guest=h15-memfd,debug-threads=on"#,
        #"-S"#,
        #"-object"#, #"{"qom-type":"secret","id":"masterKey0","format":"raw","file":"/var/lib/libvirt/qemu/domain-3-h15-memfd/master-key.aes"}"#,
        #"-machine"#, #"pc-q35-7.2,usb=off,dump-guest-core=off,memory-backend=pc.ram"#,
        #"-accel"#, #"tcg"#,
        #"-cpu"#, #"qemu64"#,
        #"-m"#, #"256"#,
        #"-object"#, #"{"qom-type":"memory-backend-memfd","id":"pc.ram","share":true,"x-use-canonical-path-for-ramblock-id":false,"size":268435456}"#,
        #"-overcommit"#, #"mem-lock=off"#,
        #"-smp"#, #"1,sockets=1,cores=1,threads=1"#,
        #"-uuid"#, #"9f84c96e-9206-4d13-82fd-b6735fcfc639"#,
        #"-display"#, #"none"#,
        #"-no-user-config"#,
        #"-nodefaults"#,
        #"-chardev"#, #"socket,id=charmonitor,fd=29,server=on,wait=off"#,
        #"-mon"#, #"chardev=charmonitor,id=monitor,mode=control"#,
        #"-rtc"#, #"base=utc"#,
        #"-no-shutdown"#,
        #"-no-acpi"#,
        #"-boot"#, #"strict=on"#,
        #"-kernel"#, #"/var/lib/libvirt/images/h15/vmlinuz"#,
        #"-initrd"#, #"/var/lib/libvirt/images/h15/initramfs.gz"#,
        #"-append"#, #"console=ttyS0 quiet"#,
        #"-device"#, #"{"driver":"pcie-root-port","port":8,"chassis":1,"id":"pci.1","bus":"pcie.0","multifunction":true,"addr":"0x1"}"#,
        #"-device"#, #"{"driver":"pcie-root-port","port":9,"chassis":2,"id":"pci.2","bus":"pcie.0","addr":"0x1.0x1"}"#,
        #"-device"#, #"{"driver":"pcie-root-port","port":10,"chassis":3,"id":"pci.3","bus":"pcie.0","addr":"0x1.0x2"}"#,
        #"-device"#, #"{"driver":"pcie-root-port","port":11,"chassis":4,"id":"pci.4","bus":"pcie.0","addr":"0x1.0x3"}"#,
        #"-device"#, #"{"driver":"pcie-root-port","port":12,"chassis":5,"id":"pci.5","bus":"pcie.0","addr":"0x1.0x4"}"#,
        #"-device"#, #"{"driver":"qemu-xhci","id":"usb","bus":"pci.2","addr":"0x0"}"#,
        #"-blockdev"#, #"{"driver":"file","filename":"/var/lib/libvirt/images/h15/disk.img","node-name":"libvirt-1-storage","auto-read-only":true,"discard":"unmap"}"#,
        #"-blockdev"#, #"{"node-name":"libvirt-1-format","read-only":true,"driver":"raw","file":"libvirt-1-storage"}"#,
        #"-device"#, #"{"driver":"virtio-blk-pci","bus":"pci.3","addr":"0x0","drive":"libvirt-1-format","id":"virtio-disk0","bootindex":1}"#,
        #"-netdev"#, #"{"type":"user","id":"hostnet0"}"#,
        #"-device"#, #"{"driver":"virtio-net-pci","packed":true,"netdev":"hostnet0","id":"net0","mac":"52:54:00:52:61:9a","bus":"pci.1","addr":"0x0"}"#,
        #"-add-fd"#, #"set=0,fd=30,opaque=serial0-source"#,
        #"-chardev"#, #"file,id=charserial0,path=/dev/fdset/0,append=on"#,
        #"-device"#, #"{"driver":"isa-serial","chardev":"charserial0","id":"serial0","index":0}"#,
        #"-audiodev"#, #"{"id":"audio1","driver":"none"}"#,
        #"-object"#, #"{"qom-type":"rng-random","id":"objrng0","filename":"/dev/urandom"}"#,
        #"-device"#, #"{"driver":"virtio-rng-pci","rng":"objrng0","id":"rng0","bus":"pci.4","addr":"0x0"}"#,
        #"-sandbox"#, #"on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"#,
        #"-msg"#, #"timestamp=on"#,
    ]

    /// two NUMA cells of 128 MiB in `memory-backend-ram`, `<maxMemory slots='4'>` 1 GiB: `-m size=262144k,slots=4,maxmem=1048576k`.
    static let maxmem: [String] = [
        #"/usr/bin/qemu-system-x86_64"#,
        #"-name"#, #"guest=h15-maxmem,debug-threads=on"#,
        #"-S"#,
        #"-object"#, #"{"qom-type":"secret","id":"masterKey0","format":"raw","file":"/var/lib/libvirt/qemu/domain-4-h15-maxmem/master-key.aes"}"#,
        #"-machine"#, #"pc-i440fx-7.2,usb=off,dump-guest-core=off"#,
        #"-accel"#, #"tcg"#,
        #"-cpu"#, #"qemu64"#,
        #"-m"#, #"size=262144k,slots=4,maxmem=1048576k"#,
        #"-overcommit"#, #"mem-lock=off"#,
        #"-smp"#, #"2,sockets=2,cores=1,threads=1"#,
        #"-object"#, #"{"qom-type":"memory-backend-ram","id":"ram-node0","size":134217728}"#,
        #"-numa"#, #"node,nodeid=0,cpus=0,memdev=ram-node0"#,
        #"-object"#, #"{"qom-type":"memory-backend-ram","id":"ram-node1","size":134217728}"#,
        #"-numa"#, #"node,nodeid=1,cpus=1,memdev=ram-node1"#,
        #"-uuid"#, #"2f97dbb8-a712-40e9-8c5c-11dce8739dc9"#,
        #"-display"#, #"none"#,
        #"-no-user-config"#,
        #"-nodefaults"#,
        #"-chardev"#, #"socket,id=charmonitor,fd=29,server=on,wait=off"#,
        #"-mon"#, #"chardev=charmonitor,id=monitor,mode=control"#,
        #"-rtc"#, #"base=utc"#,
        #"-no-shutdown"#,
        #"-no-acpi"#,
        #"-boot"#, #"strict=on"#,
        #"-kernel"#, #"/var/lib/libvirt/images/h15/vmlinuz"#,
        #"-initrd"#, #"/var/lib/libvirt/images/h15/initramfs.gz"#,
        #"-append"#, #"console=ttyS0 quiet"#,
        #"-device"#, #"{"driver":"piix3-usb-uhci","id":"usb","bus":"pci.0","addr":"0x1.0x2"}"#,
        #"-blockdev"#, #"{"driver":"file","filename":"/var/lib/libvirt/images/h15/disk.img","node-name":"libvirt-1-storage","auto-read-only":true,"discard":"unmap"}"#,
        #"-blockdev"#, #"{"node-name":"libvirt-1-format","read-only":true,"driver":"raw","file":"libvirt-1-storage"}"#,
        #"-device"#, #"{"driver":"virtio-blk-pci","bus":"pci.0","addr":"0x3","drive":"libvirt-1-format","id":"virtio-disk0","bootindex":1}"#,
        #"-netdev"#, #"{"type":"user","id":"hostnet0"}"#,
        #"-device"#, #"{"driver":"virtio-net-pci","packed":true,"netdev":"hostnet0","id":"net0","mac":"52:54:00:60:75:a3","bus":"pci.0","addr":"0x2"}"#,
        #"-add-fd"#, #"set=0,fd=30,opaque=serial0-source"#,
        #"-chardev"#, #"file,id=charserial0,path=/dev/fdset/0,append=on"#,
        #"-device"#, #"{"driver":"isa-serial","chardev":"charserial0","id":"serial0","index":0}"#,
        #"-audiodev"#, #"{"id":"audio1","driver":"none"}"#,
        #"-object"#, #"{"qom-type":"rng-random","id":"objrng0","filename":"/dev/urandom"}"#,
        #"-device"#, #"{"driver":"virtio-rng-pci","rng":"objrng0","id":"rng0","bus":"pci.0","addr":"0x4"}"#,
        #"-sandbox"#, #"on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"#,
        #"-msg"#, #"timestamp=on"#,
    ]
}

/// The head of libvirt 9.0's status file of the `basic` domain (/run/libvirt/qemu/h15-basic.xml,
/// 11 KiB), verbatim but for the capability flags left out where the comment says.
extension LibvirtCommandLines {
    static let basicStatusFile = #"""
<!--
WARNING: THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO BE
OVERWRITTEN AND LOST. Changes to this xml configuration should be made using:
  virsh edit h15-basic
or other application using the libvirt API.
-->

<domstatus state='running' reason='booted' pid='8365'>
  <monitor path='/var/lib/libvirt/qemu/domain-1-h15-basic/monitor.sock' type='unix'/>
  <namespaces>
    <mount/>
  </namespaces>
  <vcpus>
    <vcpu id='0' pid='8374'/>
  </vcpus>
  <qemuCaps>
    <flag name='kvm'/>
  <!-- (qemuCaps flags and the rest of the status left out) -->
  </qemuCaps>
  <domain type='qemu' id='1'>
    <name>h15-basic</name>
    <uuid>5e1a401f-1571-428a-9b04-61b85432b942</uuid>
    <memory unit='KiB'>262144</memory>
    <currentMemory unit='KiB'>262144</currentMemory>
    <vcpu placement='static'>1</vcpu>
  </domain>
</domstatus>
"""#

    /// /proc/8365/net/unix while the `basic` domain ran (the header, an unbound socket, and the
    /// monitor's two: libvirt's listening socket, fd 29 in QEMU, and QEMU's accepted connection).
    static let basicUnixSockets = """
        Num       RefCount Protocol Flags    Type St Inode Path
        00000000614e1561: 00000003 00000000 00000000 0001 03 82091
        00000000a5766895: 00000002 00000000 00010000 0001 01 33048 /var/lib/libvirt/qemu/domain-1-h15-basic/monitor.sock
        00000000a23fd8a7: 00000003 00000000 00000000 0001 03 32337 /var/lib/libvirt/qemu/domain-1-h15-basic/monitor.sock
        """

    /// readlink /proc/8365/fd/29 (the monitor's `fd=29`).
    static let basicMonitorLink = "socket:[33048]"
}
