import XCTest
@testable import VQCore

final class QEMUCommandLineTests: XCTestCase {
    private func parse(_ line: String) -> QEMUCommandLine {
        QEMUCommandLine(arguments: line.split(separator: " ").map(String.init))
    }

    // MARK: QEMUOptions

    func testOptionsWithImpliedKey() {
        let o = QEMUOptions("q35,accel=kvm,usb=off", impliedKey: "type")
        XCTAssertEqual(o.pairs.map(\.0), ["type", "accel", "usb"])
        XCTAssertEqual(o.pairs.map(\.1), ["q35", "kvm", "off"])
        XCTAssertEqual(o["type"], "q35")
        XCTAssertEqual(o["accel"], "kvm")
        XCTAssertNil(o["missing"])
    }

    func testOptionsWithoutImpliedKeyTreatsBareWordsAsFlags() {
        let o = QEMUOptions("server,nowait,path=/p")
        XCTAssertEqual(o["server"], "on")
        XCTAssertEqual(o["nowait"], "on")
        XCTAssertEqual(o["path"], "/p")
        // Only the first bare word takes the implied key.
        let implied = QEMUOptions("/p,server,nowait", impliedKey: "path")
        XCTAssertEqual(implied["path"], "/p")
        XCTAssertEqual(implied["server"], "on")
        XCTAssertEqual(implied["nowait"], "on")
        XCTAssertEqual(implied.pairs.count, 3)
    }

    func testOptionsCommaEscaping() {
        let o = QEMUOptions("file,id=disk,,0,mem-path=/dev/shm/a,,b,,,share=on", impliedKey: "qom-type")
        XCTAssertEqual(o["qom-type"], "file")
        XCTAssertEqual(o["id"], "disk,0")
        XCTAssertEqual(o["mem-path"], "/dev/shm/a,b,")
        XCTAssertEqual(o["share"], "on")
        XCTAssertEqual(o.pairs.count, 4)
        XCTAssertEqual(QEMUOptions("a=,,")["a"], ",")
        XCTAssertEqual(QEMUOptions("a=x,,,,y")["a"], "x,,y")
    }

    func testOptionsLaterValuesWinAndEmptyPartsAreSkipped() {
        let o = QEMUOptions("a=1,b=2,,a=3,", impliedKey: nil)
        XCTAssertEqual(o["a"], "1")
        XCTAssertEqual(o["b"], "2,a=3")
        XCTAssertEqual(o.pairs.count, 2)
        XCTAssertEqual(QEMUOptions("a=1,,,b=2")["a"], "1,")
        XCTAssertEqual(QEMUOptions("a=1,,,b=2")["b"], "2")
        XCTAssertEqual(QEMUOptions("x=1,x=2")["x"], "2")
        XCTAssertEqual(QEMUOptions("k=v=w")["k"], "v=w")
        XCTAssertEqual(QEMUOptions("k=")["k"], "")
        XCTAssertEqual(QEMUOptions("").pairs.count, 0)
        XCTAssertEqual(QEMUOptions(",,,", impliedKey: "t").pairs.count, 1)
        XCTAssertEqual(QEMUOptions(",q35", impliedKey: "type")["q35"], "on", "the implied key belongs to the first part only")
    }

    func testOptionsEquality() {
        XCTAssertEqual(QEMUOptions("a=1,b=2"), QEMUOptions("a=1,b=2"))
        XCTAssertNotEqual(QEMUOptions("a=1,b=2"), QEMUOptions("b=2,a=1"))
        XCTAssertEqual(QEMUOptions("q35", impliedKey: "type"), QEMUOptions("type=q35"))
        XCTAssertEqual(Set([QEMUOptions("a=1"), QEMUOptions("a=1"), QEMUOptions("a=2")]).count, 2)
    }

    // MARK: QEMUOptions in JSON

    func testJSONMembersArePairs() {
        let o = QEMUOptions(#"{"qom-type":"memory-backend-ram","id":"pc.ram","size":268435456}"#, impliedKey: "qom-type")
        XCTAssertEqual(o.syntax, .json)
        XCTAssertEqual(o.pairs.map(\.0), ["qom-type", "id", "size"])
        XCTAssertEqual(o.pairs.map(\.1), ["memory-backend-ram", "pc.ram", "268435456"])
        XCTAssertEqual(o, QEMUOptions("memory-backend-ram,id=pc.ram,size=268435456", impliedKey: "qom-type"),
                       "the same pairs as key=value syntax, the implied key named")
        XCTAssertEqual(QEMUOptions("a=1").syntax, .keyValue)
    }

    func testJSONScalars() {
        let o = QEMUOptions(#"{"t":true,"f":false,"n":null,"neg":-5,"big":18446744073709551615,"d":1.5,"s":"a,b=c","e":""}"#)
        XCTAssertEqual(o["t"], "on")
        XCTAssertEqual(o["f"], "off")
        XCTAssertNil(o["n"], "null is left out")
        XCTAssertEqual(o["neg"], "-5")
        XCTAssertEqual(o["big"], "18446744073709551615")
        XCTAssertEqual(o["d"], "1.5")
        XCTAssertEqual(o["s"], "a,b=c", "no comma escaping in JSON")
        XCTAssertEqual(o["e"], "")
        XCTAssertEqual(o.pairs.count, 7)
    }

    func testJSONContainersFlattenToDottedKeys() {
        let o = QEMUOptions(#"{"driver":"qcow2","file":{"driver":"file","filename":"/a.qcow2","x":{"y":1}},"cpus":[0,2],"empty":{},"none":[]}"#)
        XCTAssertEqual(o.pairs.map(\.0), ["driver", "file.driver", "file.filename", "file.x.y", "cpus.0", "cpus.1"])
        XCTAssertEqual(o["file.filename"], "/a.qcow2")
        XCTAssertEqual(o["cpus.1"], "2")
        XCTAssertNil(o["file"])
    }

    func testJSONLaterMembersWinAndEscapesAreRead() {
        let o = QEMUOptions(#"{"id":"a","id":"b","path":"/tmp/\u00e9\"q\".sock"}"#)
        XCTAssertEqual(o["id"], "b")
        XCTAssertEqual(o["path"], "/tmp/\u{e9}\"q\".sock")
    }

    func testInvalidJSONGivesNoPairs() {
        for text in [#"{"id":"a""#, "{", #"{"id":}"#, #"{"a":1} x"#, "{id=a}"] {
            let o = QEMUOptions(text, impliedKey: "qom-type")
            XCTAssertEqual(o.syntax, .invalidJSON, text)
            XCTAssertEqual(o.pairs.count, 0, text)
        }
        // Only a leading brace means JSON, as QEMU decides.
        let spaced = QEMUOptions(#" {"a":1}"#, impliedKey: "type")
        XCTAssertEqual(spaced.syntax, .keyValue)
        XCTAssertEqual(spaced["type"], #" {"a":1}"#)
    }

    func testJSONOnTheOptionsVQScopeReads() {
        let q = QEMUCommandLine(arguments: [
            "qemu-system-x86_64",
            "-name", #"{"guest":"j1","debug-threads":true}"#,
            "-machine", #"{"type":"pc-q35-7.2","accel":"kvm","max-ram-below-4g":"1G","memory-backend":"ram0"}"#,
            "-object", #"{"qom-type":"memory-backend-file","id":"ram0","size":"2G","mem-path":"/dev/shm/j1","share":true}"#,
            "-numa", #"{"type":"node","nodeid":0,"memdev":"ram0"}"#,
            "-accel", #"{"accel":"tcg"}"#,
            "-chardev", #"{"backend":"socket","id":"qmp0","path":"/tmp/j1.sock","server":true,"wait":false}"#,
            "-mon", #"{"chardev":"qmp0","mode":"control"}"#,
        ])
        XCTAssertEqual(q.name, "j1")
        XCTAssertEqual(q.machineType, "pc-q35-7.2")
        XCTAssertEqual(q.maxRAMBelow4G, 1 << 30)
        XCTAssertEqual(q.memoryBackendID, "ram0")
        XCTAssertEqual(q.accelerator, "tcg", "-accel after -machine wins")
        XCTAssertEqual(q.memoryBackends, [.init(type: "memory-backend-file", id: "ram0", size: 2 << 30, path: "/dev/shm/j1", shared: true)])
        XCTAssertEqual(q.numaMemoryDevices, ["ram0"])
        XCTAssertEqual(q.ramSize, 2 << 30)
        XCTAssertEqual(q.qmpSockets, ["/tmp/j1.sock"])
        XCTAssertEqual(q.qmpMonitors, [.init(chardevID: "qmp0", path: "/tmp/j1.sock", fileDescriptor: nil)])
    }

    // MARK: Whole command lines

    func testRealisticCommandLine() {
        let line = "qemu-system-x86_64 -name guest=vm1,debug-threads=on -machine pc-q35-7.2,accel=kvm,max-ram-below-4g=1G -m 4608 "
            + "-qmp unix:/tmp/a.sock,server=on,wait=off -chardev socket,id=mon1,path=/tmp/b.sock,server=on,wait=off "
            + "-mon chardev=mon1,mode=control -object memory-backend-file,id=ram0,size=4G,mem-path=/dev/shm/x,share=on"
        let q = parse(line)
        XCTAssertEqual(q.architecture, "x86_64")
        XCTAssertEqual(q.name, "vm1")
        XCTAssertEqual(q.machineType, "pc-q35-7.2")
        XCTAssertEqual(q.machineFamily, "q35")
        XCTAssertEqual(q.accelerator, "kvm")
        XCTAssertEqual(q.maxRAMBelow4G, 1 << 30)
        XCTAssertEqual(q.ramSize, 4608 << 20)
        XCTAssertTrue(q.ramSizeGiven)
        XCTAssertNil(q.memoryBackendID)
        XCTAssertEqual(q.qmpSockets, ["/tmp/a.sock", "/tmp/b.sock"])
        XCTAssertEqual(q.memoryBackends, [QEMUCommandLine.MemoryBackend(
            type: "memory-backend-file", id: "ram0", size: 4 << 30, path: "/dev/shm/x", shared: true)])
        XCTAssertEqual(q.arguments.count, 15)
    }

    func testDefaults() {
        let q = QEMUCommandLine(arguments: ["/usr/bin/qemu-system-x86_64"])
        XCTAssertEqual(q.architecture, "x86_64")
        XCTAssertEqual(q.ramSize, 128 << 20)
        XCTAssertFalse(q.ramSizeGiven)
        XCTAssertNil(q.name)
        XCTAssertNil(q.machineType)
        XCTAssertEqual(q.machineFamily, "pc")
        XCTAssertNil(q.accelerator)
        XCTAssertNil(q.maxRAMBelow4G)
        XCTAssertEqual(q.qmpSockets, [])
        XCTAssertEqual(q.memoryBackends, [])

        let empty = QEMUCommandLine(arguments: [])
        XCTAssertNil(empty.architecture)
        XCTAssertEqual(empty.ramSize, 128 << 20)
        XCTAssertEqual(empty.machineFamily, "")
    }

    func testArchitectureFromExecutable() {
        XCTAssertEqual(QEMUCommandLine(arguments: ["qemu-system-aarch64"]).architecture, "aarch64")
        XCTAssertEqual(QEMUCommandLine(arguments: ["/opt/qemu/bin/qemu-system-i386"]).architecture, "i386")
        XCTAssertEqual(QEMUCommandLine(arguments: ["/opt/qemu/bin/qemu-system-i386"]).machineFamily, "pc")
        XCTAssertNil(QEMUCommandLine(arguments: ["/usr/libexec/qemu-kvm"]).architecture)
        XCTAssertEqual(QEMUCommandLine(arguments: ["/usr/bin/qemu-system-x86_64/"]).architecture, "x86_64")
        XCTAssertEqual(QEMUCommandLine(arguments: ["qemu-system-aarch64"]).machineFamily, "")
    }

    // MARK: -m

    func testMemorySizes() {
        XCTAssertEqual(parse("qemu-system-x86_64 -m 4608").ramSize, 4608 << 20)
        XCTAssertEqual(parse("qemu-system-x86_64 -m 4G").ramSize, 4 << 30)
        XCTAssertEqual(parse("qemu-system-x86_64 -m 512M").ramSize, 512 << 20)
        XCTAssertEqual(parse("qemu-system-x86_64 -m 4.5G").ramSize, 4_831_838_208)
        XCTAssertEqual(parse("qemu-system-x86_64 -m 1T").ramSize, 1 << 40)
        XCTAssertEqual(parse("qemu-system-x86_64 -m size=2G,slots=4,maxmem=8G").ramSize, 2 << 30)
        XCTAssertEqual(parse("qemu-system-x86_64 -m 2G,slots=4,maxmem=8G").ramSize, 2 << 30)
        XCTAssertEqual(parse("qemu-system-x86_64 -m size=4194304k").ramSize, 4 << 30)  // libvirt's form
        XCTAssertEqual(parse("qemu-system-x86_64 --m 1024").ramSize, 1 << 30)
        XCTAssertEqual(parse("qemu-system-x86_64 -m 1G -m 2G").ramSize, 2 << 30, "the last -m wins")
    }

    func testBadMemorySizeKeepsDefault() {
        let q = parse("qemu-system-x86_64 -m lots -name vm2")
        XCTAssertEqual(q.ramSize, 128 << 20)
        XCTAssertFalse(q.ramSizeGiven)
        XCTAssertEqual(q.name, "vm2", "the bad value is still consumed")
        let trailing = parse("qemu-system-x86_64 -m")
        XCTAssertEqual(trailing.ramSize, 128 << 20)
        XCTAssertFalse(trailing.ramSizeGiven)
    }

    // MARK: -machine, -accel, -enable-kvm

    func testMachine() {
        let pc = parse("qemu-system-x86_64 -M pc-i440fx-7.2")
        XCTAssertEqual(pc.machineType, "pc-i440fx-7.2")
        XCTAssertEqual(pc.machineFamily, "pc")
        XCTAssertNil(pc.accelerator)
        XCTAssertEqual(parse("qemu-system-x86_64 -machine q35").machineFamily, "q35")
        XCTAssertEqual(parse("qemu-system-x86_64 -machine type=q35,accel=tcg").machineType, "q35")
        XCTAssertEqual(parse("qemu-system-x86_64 -machine pc").machineFamily, "pc")
        XCTAssertEqual(parse("qemu-system-x86_64 -machine pc-1.0").machineFamily, "pc")
        XCTAssertEqual(parse("qemu-system-x86_64 -machine pc-0.15").machineFamily, "pc")
        XCTAssertEqual(parse("qemu-system-x86_64 -machine microvm").machineFamily, "microvm")
        XCTAssertEqual(parse("qemu-system-aarch64 -machine virt,gic-version=3").machineFamily, "virt")

        let accelOnly = parse("qemu-system-x86_64 -machine accel=kvm:tcg")
        XCTAssertNil(accelOnly.machineType)
        XCTAssertEqual(accelOnly.accelerator, "kvm")
        XCTAssertEqual(accelOnly.machineFamily, "pc")

        let backend = parse("qemu-system-x86_64 -machine q35,memory-backend=pc.ram,max-ram-below-4g=0x80000000")
        XCTAssertEqual(backend.memoryBackendID, "pc.ram")
        XCTAssertEqual(backend.maxRAMBelow4G, 0x8000_0000)
    }

    func testAccelerators() {
        XCTAssertEqual(parse("qemu-system-x86_64 -enable-kvm").accelerator, "kvm")
        XCTAssertEqual(parse("qemu-system-x86_64 --enable-kvm -m 1G").accelerator, "kvm")
        XCTAssertEqual(parse("qemu-system-x86_64 --enable-kvm -m 1G").ramSize, 1 << 30)
        XCTAssertEqual(parse("qemu-system-x86_64 -accel kvm").accelerator, "kvm")
        XCTAssertEqual(parse("qemu-system-x86_64 -accel tcg,thread=multi").accelerator, "tcg")
        XCTAssertEqual(parse("qemu-system-x86_64 -accel accel=hvf").accelerator, "hvf")
        XCTAssertEqual(parse("qemu-system-x86_64 -machine q35,accel=tcg -enable-kvm").accelerator, "kvm", "later wins")
        XCTAssertEqual(parse("qemu-system-x86_64 -enable-kvm -accel tcg").accelerator, "tcg")
    }

    // MARK: -name

    func testName() {
        XCTAssertEqual(parse("qemu-system-x86_64 -name vm2").name, "vm2")
        XCTAssertEqual(parse("qemu-system-x86_64 -name guest=vm3,process=qemu:vm3").name, "vm3")
        XCTAssertEqual(parse("qemu-system-x86_64 -name my,,vm").name, "my,vm")
        XCTAssertNil(parse("qemu-system-x86_64 -name debug-threads=on").name)
    }

    // MARK: QMP sockets

    func testQMPSockets() {
        XCTAssertEqual(parse("qemu-system-x86_64 -qmp unix:/p,server,nowait").qmpSockets, ["/p"])
        XCTAssertEqual(parse("qemu-system-x86_64 -qmp unix:/p").qmpSockets, ["/p"])
        XCTAssertEqual(parse("qemu-system-x86_64 -qmp unix:path=/q,server=on").qmpSockets, ["/q"])
        XCTAssertEqual(parse("qemu-system-x86_64 -qmp-pretty unix:/pretty.sock,server").qmpSockets, ["/pretty.sock"])
        XCTAssertEqual(parse("qemu-system-x86_64 -qmp unix:/tmp/a,,b.sock,server,nowait").qmpSockets, ["/tmp/a,b.sock"])
        XCTAssertEqual(parse("qemu-system-x86_64 --qmp unix:/dd").qmpSockets, ["/dd"])
        XCTAssertEqual(parse("qemu-system-x86_64 -qmp tcp:localhost:4444,server,nowait").qmpSockets, [])
        XCTAssertEqual(parse("qemu-system-x86_64 -qmp stdio").qmpSockets, [])
        XCTAssertEqual(parse("qemu-system-x86_64 -qmp unix:/1,server -qmp unix:/2,server").qmpSockets, ["/1", "/2"])
    }

    func testControlMonitorsOnChardevSockets() {
        let q = parse("qemu-system-x86_64 -mon chardev=c2,mode=control -chardev socket,id=c1,path=/c1.sock,server=on,wait=off "
            + "-chardev socket,id=c2,path=/c2.sock,server=on -mon chardev=c1,mode=readline "
            + "-chardev socket,id=c3,host=127.0.0.1,port=4444 -mon chardev=c3,mode=control "
            + "-chardev pty,id=c4,path=/dev/pts/4 -mon chardev=c4,mode=control "
            + "-chardev socket,id=c5,path=/c5.sock -mon c5,mode=control "
            + "-qmp unix:/direct.sock,server")
        // Direct -qmp sockets first, then control monitors in -mon order; readline monitors, TCP
        // sockets and non-socket chardevs are not QMP sockets.
        XCTAssertEqual(q.qmpSockets, ["/direct.sock", "/c2.sock", "/c5.sock"])
        XCTAssertEqual(parse("qemu-system-x86_64 -chardev socket,id=m,path=/m.sock -mon chardev=m").qmpSockets, [],
                       "-mon defaults to readline")
    }

    func testLibvirtStyleMonitor() {
        let args = [
            "/usr/bin/qemu-system-x86_64",
            "-name", "guest=fedora,debug-threads=on",
            "-S",
            "-object", "{\"qom-type\":\"secret\",\"id\":\"masterKey0\"}",
            "-machine", "pc-q35-8.1,usb=off,vmport=off,dump-guest-core=off,memory-backend=pc.ram,hpet=off,acpi=on",
            "-accel", "kvm",
            "-cpu", "host,migratable=on",
            "-m", "size=4194304k",
            "-object", "memory-backend-ram,id=pc.ram,size=4294967296",
            "-overcommit", "mem-lock=off",
            "-smp", "4,sockets=4,cores=1,threads=1",
            "-no-user-config",
            "-nodefaults",
            "-chardev", "socket,id=charmonitor,path=/var/lib/libvirt/qemu/domain-1-fedora/monitor.sock,server=on,wait=off",
            "-mon", "chardev=charmonitor,id=monitor,mode=control",
            "-rtc", "base=utc,driftfix=slew",
        ]
        let q = QEMUCommandLine(arguments: args)
        XCTAssertEqual(q.name, "fedora")
        XCTAssertEqual(q.machineType, "pc-q35-8.1")
        XCTAssertEqual(q.machineFamily, "q35")
        XCTAssertEqual(q.memoryBackendID, "pc.ram")
        XCTAssertEqual(q.accelerator, "kvm")
        XCTAssertEqual(q.ramSize, 4 << 30)
        XCTAssertEqual(q.memoryBackends, [QEMUCommandLine.MemoryBackend(
            type: "memory-backend-ram", id: "pc.ram", size: 4_294_967_296, path: nil, shared: false)])
        XCTAssertEqual(q.qmpSockets, ["/var/lib/libvirt/qemu/domain-1-fedora/monitor.sock"])
    }

    // MARK: Memory backends

    func testMemoryBackends() {
        let q = parse("qemu-system-x86_64 -object memory-backend-memfd,id=mem0,size=2G,share=yes "
            + "-object memory-backend-ram,id=mem1,size=512M "
            + "-object memory-backend-file,id=mem2,size=1G,mem-path=/hugepages,,x,share=off "
            + "-object memory-backend-file,id=mem3,mem-path=/dev/shm/y,share "
            + "-object memory-backend-ram,size=1G "
            + "-object iothread,id=io0 "
            + "-object qom-type=memory-backend-ram,id=mem4,size=1M,share=true")
        XCTAssertEqual(q.memoryBackends, [
            .init(type: "memory-backend-memfd", id: "mem0", size: 2 << 30, path: nil, shared: true),
            .init(type: "memory-backend-ram", id: "mem1", size: 512 << 20, path: nil, shared: false),
            .init(type: "memory-backend-file", id: "mem2", size: 1 << 30, path: "/hugepages,x", shared: false),
            .init(type: "memory-backend-file", id: "mem3", size: nil, path: "/dev/shm/y", shared: true),
            .init(type: "memory-backend-ram", id: "mem4", size: 1 << 20, path: nil, shared: true),
        ])
    }

    func testMemoryBackendSizesRAMWhenMIsAbsent() {
        let q = parse("qemu-system-x86_64 -machine q35,memory-backend=ram0 -object memory-backend-memfd,id=ram0,size=3G")
        XCTAssertEqual(q.ramSize, 3 << 30)
        XCTAssertFalse(q.ramSizeGiven)
        // An explicit -m takes precedence.
        let given = parse("qemu-system-x86_64 -m 2G -machine q35,memory-backend=ram0 -object memory-backend-memfd,id=ram0,size=3G")
        XCTAssertEqual(given.ramSize, 2 << 30)
        // A backend that is not the machine's does not size RAM.
        let other = parse("qemu-system-x86_64 -machine q35,memory-backend=ram0 -object memory-backend-memfd,id=ram1,size=3G")
        XCTAssertEqual(other.ramSize, 128 << 20)
    }

    // MARK: Option values are never read as options

    func testUnknownOptionsSkipTheirValues() {
        // A word starting with '-' after an unknown option is taken as the next option, so here the
        // first "-m" consumes the second as its (bad) value and "1G" is a stray word.
        let q = QEMUCommandLine(arguments: ["qemu-system-x86_64", "-append", "-m", "-m", "1G"])
        XCTAssertEqual(q.ramSize, 128 << 20)
        XCTAssertFalse(q.ramSizeGiven)
        let r = QEMUCommandLine(arguments: ["qemu-system-x86_64", "-kernel", "/boot/vmlinuz", "-append", "console=ttyS0 -m 64", "-m", "1G"])
        XCTAssertEqual(r.ramSize, 1 << 30)
        let s = QEMUCommandLine(arguments: ["qemu-system-x86_64", "-smp", "4", "-m", "2G", "-drive", "file=disk.img,if=virtio", "-enable-kvm"])
        XCTAssertEqual(s.ramSize, 2 << 30)
        XCTAssertEqual(s.accelerator, "kvm")
        let neg = QEMUCommandLine(arguments: ["qemu-system-x86_64", "-icount", "-5", "-m", "3G"])
        XCTAssertEqual(neg.ramSize, 3 << 30)
    }

    func testFlagsDoNotSwallowFollowingWords() {
        let q = QEMUCommandLine(arguments: ["qemu-system-x86_64", "-nographic", "-snapshot", "disk.img", "-S", "-m", "2G",
                                            "-daemonize", "-no-reboot", "-name", "flags"])
        XCTAssertEqual(q.ramSize, 2 << 30)
        XCTAssertEqual(q.name, "flags")
        // A positional disk image right after the executable.
        let p = QEMUCommandLine(arguments: ["qemu-system-x86_64", "disk.img", "-m", "1G"])
        XCTAssertEqual(p.ramSize, 1 << 30)
        // A flag whose next word is a positional argument.
        let f = QEMUCommandLine(arguments: ["qemu-system-x86_64", "-nographic", "disk.img", "-m", "1G"])
        XCTAssertEqual(f.ramSize, 1 << 30)
    }

    func testEquality() {
        XCTAssertEqual(parse("qemu-system-x86_64 -m 1G"), parse("qemu-system-x86_64 -m 1G"))
        XCTAssertNotEqual(parse("qemu-system-x86_64 -m 1G"), parse("qemu-system-x86_64 -m 1024"))
    }
}
