import XCTest
@testable import VQCore

/// libvirt 9.0's real command lines (``LibvirtCommandLines``): JSON `-object`, `-device`,
/// `-blockdev`, `-netdev` beside key=value options, read as QEMU reads them.
final class LibvirtCommandLineTests: XCTestCase {
    typealias Monitor = QEMUCommandLine.QMPMonitor

    func testBasicDomainMachineAndRAM() {
        let q = QEMUCommandLine(arguments: LibvirtCommandLines.basic)
        XCTAssertEqual(q.name, "h15-basic")
        XCTAssertEqual(q.uuid, "5e1a401f-1571-428a-9b04-61b85432b942")
        XCTAssertEqual(q.architecture, "x86_64")
        XCTAssertEqual(q.machineType, "pc-i440fx-7.2")
        XCTAssertEqual(q.machineFamily, "pc")
        XCTAssertEqual(q.accelerator, "tcg")
        XCTAssertEqual(q.ramSize, 256 << 20)
        XCTAssertTrue(q.ramSizeGiven)
        XCTAssertEqual(q.memoryBackendID, "pc.ram")
        XCTAssertEqual(q.memoryBackends, [.init(type: "memory-backend-ram", id: "pc.ram", size: 268_435_456, path: nil, shared: false)])
        XCTAssertEqual(q.numaMemoryDevices, [])
    }

    func testBasicDomainMonitorIsADescriptorNotAPath() {
        let q = QEMUCommandLine(arguments: LibvirtCommandLines.basic)
        XCTAssertEqual(q.qmpMonitors, [Monitor(chardevID: "charmonitor", path: nil, fileDescriptor: 29)])
        XCTAssertEqual(q.qmpSockets, [], "libvirt's monitor has no path on the command line")
    }

    func testBasicDomainDevicesBlockdevsAndNetdevs() throws {
        let q = QEMUCommandLine(arguments: LibvirtCommandLines.basic)
        let devices = q.options("-device")
        XCTAssertEqual(devices.map { $0["driver"] }, ["piix3-usb-uhci", "virtio-blk-pci", "virtio-net-pci", "isa-serial", "virtio-rng-pci"])
        XCTAssertTrue(devices.allSatisfy { $0.syntax == .json })
        let blk = devices[1]
        XCTAssertEqual(blk.pairs.map(\.0), ["driver", "bus", "addr", "drive", "id", "bootindex"])
        XCTAssertEqual(blk["drive"], "libvirt-1-format")
        XCTAssertEqual(blk["bootindex"], "1", "a JSON number becomes its decimal text")
        let net = devices[2]
        XCTAssertEqual(net["packed"], "on", "a JSON true becomes on")
        XCTAssertEqual(net["mac"], "52:54:00:c5:9d:88")
        XCTAssertEqual(net["netdev"], "hostnet0")
        XCTAssertEqual(devices[4]["rng"], "objrng0")

        let blockdevs = q.options("-blockdev")
        XCTAssertEqual(blockdevs.map { $0["node-name"] }, ["libvirt-1-storage", "libvirt-1-format"])
        XCTAssertEqual(blockdevs[0]["filename"], "/var/lib/libvirt/images/h15/disk.img")
        XCTAssertEqual(blockdevs[0]["auto-read-only"], "on")
        XCTAssertEqual(blockdevs[1]["read-only"], "on")
        XCTAssertEqual(blockdevs[1]["file"], "libvirt-1-storage")

        let netdevs = q.options("-netdev")
        XCTAssertEqual(netdevs, [QEMUOptions("user,id=hostnet0", impliedKey: "type")])
        XCTAssertEqual(q.options("-object").map { $0["qom-type"] }, ["secret", "memory-backend-ram", "rng-random"])
        // Key=value options read the same way through options(_:).
        XCTAssertEqual(q.options("-machine").first?["memory-backend"], "pc.ram")
        XCTAssertEqual(q.options("-M").first?["type"], "pc-i440fx-7.2")
        XCTAssertEqual(q.options("-chardev").map { $0["backend"] }, ["socket", "file"])
        XCTAssertEqual(q.options("-append"), [QEMUOptions("console=ttyS0 quiet")])
    }

    func testNUMADomainWithMemfdBackends() {
        let q = QEMUCommandLine(arguments: LibvirtCommandLines.numa)
        XCTAssertEqual(q.name, "h15-numa")
        XCTAssertNil(q.memoryBackendID)
        XCTAssertEqual(q.memoryBackends, [
            .init(type: "memory-backend-memfd", id: "ram-node0", size: 128 << 20, path: nil, shared: true),
            .init(type: "memory-backend-memfd", id: "ram-node1", size: 128 << 20, path: nil, shared: true),
        ])
        XCTAssertEqual(q.numaMemoryDevices, ["ram-node0", "ram-node1"])
        XCTAssertEqual(q.ramSize, 256 << 20)
    }

    func testQ35DomainWithAMemfdBackend() {
        let q = QEMUCommandLine(arguments: LibvirtCommandLines.memfd)
        XCTAssertEqual(q.machineFamily, "q35")
        XCTAssertEqual(q.memoryBackendID, "pc.ram")
        XCTAssertEqual(q.memoryBackends, [.init(type: "memory-backend-memfd", id: "pc.ram", size: 256 << 20, path: nil, shared: true)])
        let backend = q.options("-object").first { $0["id"] == "pc.ram" }
        XCTAssertEqual(backend?["x-use-canonical-path-for-ramblock-id"], "off", "a JSON false becomes off")
    }

    func testMaxMemDomainSizesRAMInKiB() {
        let q = QEMUCommandLine(arguments: LibvirtCommandLines.maxmem)
        XCTAssertEqual(q.ramSize, 256 << 20, "-m size=262144k")
        XCTAssertEqual(q.options("-m").first?["maxmem"], "1048576k")
        XCTAssertEqual(q.numaMemoryDevices, ["ram-node0", "ram-node1"])
        XCTAssertEqual(q.memoryBackends.map(\.size), [128 << 20, 128 << 20])
    }

    // MARK: The slot map without QMP

    private func mapping(_ start: UInt64, _ size: UInt64, _ perms: String = "rw-p", path: String = "") -> ProcessMapping {
        ProcessMapping.parse(line: "\(String(start, radix: 16))-\(String(start + size, radix: 16)) \(perms) 00000000 00:00 0 \(path)")!
    }

    /// The basic domain's RAM is the JSON `-object`'s 256 MiB (before JSON was read: "memory
    /// backend 'pc.ram' has no size on the command line").
    func testMapsSlotSourceOnTheBasicDomain() throws {
        let q = QEMUCommandLine(arguments: LibvirtCommandLines.basic)
        let maps = [mapping(0x7f3b_4000_0000, 1 << 30, "rwxp"),  // TCG's code buffer
                    mapping(0x7f3c_0000_0000, 256 << 20), mapping(0x7f3d_0000_0000, 2 << 20)]
        let map = try MapsSlotSource.slotMap(commandLine: q, mappings: maps)
        XCTAssertEqual(Set(map.slots.map(\.name)), ["pc.ram"])
        XCTAssertEqual(map.hostAddress(of: GuestPhysicalAddress(0)), 0x7f3c_0000_0000)
        XCTAssertEqual(map.hostAddress(of: GuestPhysicalAddress(0x10_0000)), 0x7f3c_0010_0000)
        XCTAssertEqual(map.hostAddress(of: GuestPhysicalAddress(0xfff_f000)), 0x7f3c_0fff_f000)
        XCTAssertNil(map.hostAddress(of: GuestPhysicalAddress(256 << 20)))
    }

    /// The q35 domain's RAM is a memfd; an anonymous mapping of the same size is not it.
    func testMapsSlotSourceOnTheMemfdDomain() throws {
        let q = QEMUCommandLine(arguments: LibvirtCommandLines.memfd)
        let maps = [mapping(0x7f40_0000_0000, 256 << 20),
                    mapping(0x7f40_43ff_f000, 256 << 20, "rw-s", path: "/memfd:memory-backend-memfd (deleted)")]
        let map = try MapsSlotSource.slotMap(commandLine: q, mappings: maps)
        XCTAssertEqual(map.hostAddress(of: GuestPhysicalAddress(0x1000)), 0x7f40_4400_0000)
    }

    /// Two NUMA nodes' memfds of one size and one name (QEMU names every one
    /// `memory-backend-memfd`) cannot be told apart in /proc/PID/maps: refused, not guessed.
    func testMapsSlotSourceRefusesIndistinguishableNUMABackends() {
        let q = QEMUCommandLine(arguments: LibvirtCommandLines.numa)
        let maps = [mapping(0x7ff8_d7ffe000, 128 << 20, "rw-s", path: "/memfd:memory-backend-memfd (deleted)"),
                    mapping(0x7ff8_dffff000, 128 << 20, "rw-s", path: "/memfd:memory-backend-memfd (deleted)")]
        XCTAssertThrowsError(try MapsSlotSource.slotMap(commandLine: q, mappings: maps)) {
            XCTAssertTrue("\($0)".contains("2 mappings of exactly 128 MiB could be memory backend 'ram-node0'"), "\($0)")
        }
    }
}
