import Foundation
import Glibc
import VQCore
@testable import VQDemo
import XCTest

/// The simulated guest's QMP server in this process, spoken to by VQCore's own QMP client and
/// sources, as the inspector speaks to a QEMU.
final class QMPServerTests: XCTestCase {
    private var guest: SimulatedGuest!
    private var server: DemoQMPServer!
    private var directory = ""
    private var first: String { directory + "/qmp.sock" }
    private var second: String { directory + "/qmp-2.sock" }

    override func setUpWithError() throws {
        guest = try SimulatedGuest()
        guest.advance(ticks: 300)
        directory = NSTemporaryDirectory() + "vqscope-qmp-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        server = try DemoQMPServer(guest: guest, socketPaths: [first, second])
        try server.start()
    }

    override func tearDownWithError() throws {
        server?.stop()
        if let server { XCTAssertFalse(FileManager.default.fileExists(atPath: server.socketPaths[0]), "stop removes the sockets") }
        try? FileManager.default.removeItem(atPath: directory)
    }

    func testDevicesAndQueuesAreWhatTheGuestHolds() throws {
        let client = try QMPClient(path: first, timeoutMilliseconds: 5000, policy: .unrestricted)
        XCTAssertEqual(client.version, "7.2.0")
        let devices = try QMPVirtioSource.devices(client: client)
        XCTAssertEqual(devices, guest.virtioDevices())
        XCTAssertEqual(devices.map(\.name), ["virtio-net", "virtio-blk", "virtio-net", "virtio-rng"])
        XCTAssertEqual(devices.map(\.pciAddress), ["00:03.0", "00:04.0", "00:05.0", "00:06.0"])
        XCTAssertEqual(devices.map(\.id), ["net0", "disk0", "net1", "rng0"])
        XCTAssertEqual(devices.map { $0.queues.map(\.location.size) }, [[256, 256, 64], [128], [256, 256, 64], [8]])
        XCTAssertEqual(devices[0].features, [.version1, .eventIndex, .netMergeableReceiveBuffers, .netControlQueue])
        XCTAssertEqual(devices[1].features, [.version1, .eventIndex, .indirectDescriptors])
        XCTAssertEqual(devices[2].features, [.version1, .eventIndex, .indirectDescriptors, .packedRing, .netMergeableReceiveBuffers, .netControlQueue])
        XCTAssertEqual(devices[0].status, ["VIRTIO_CONFIG_S_ACKNOWLEDGE", "VIRTIO_CONFIG_S_DRIVER", "VIRTIO_CONFIG_S_FEATURES_OK", "VIRTIO_CONFIG_S_DRIVER_OK"])
        // Linux's split layout: the avail ring after the table, the used ring 64-byte aligned after it.
        let rx = devices[0].queues[0].location
        XCTAssertEqual(rx.driverArea.rawValue - rx.descriptors.rawValue, 0x1000)
        XCTAssertEqual(rx.deviceArea.rawValue - rx.descriptors.rawValue, 0x1240)
        for queue in devices.flatMap(\.queues) {
            XCTAssertEqual(queue.location.descriptors.rawValue % 4096, 0, queue.label)
            XCTAssertGreaterThanOrEqual(queue.location.descriptors.rawValue, 0x100000, queue.label)
            XCTAssertLessThan(queue.location.deviceArea.rawValue, guest.ram.size, queue.label)
        }

        let status = try client.execute("x-query-virtio-status", arguments: .object([("path", .string(devices[2].path))]))
        let transports = status["guest-features"]?["transports"]?.array?.compactMap(\.string) ?? []
        XCTAssertEqual(transports.first, "VIRTIO_RING_F_EVENT_IDX: Used & avail. event fields enabled")
        XCTAssertTrue(transports.contains("VIRTIO_F_RING_PACKED: Device supports packed VQ layout"))
        XCTAssertTrue(status["guest-features"]?["dev-features"]?.array?.contains(.string("VIRTIO_NET_F_MAC: Device has given MAC address")) ?? false)
        XCTAssertEqual(status["num-vqs"]?.int, 3)
        XCTAssertEqual(status["device-id"]?.int, 1)
    }

    func testSlotMapIsTheGuestsMemory() throws {
        let client = try QMPClient(path: first, timeoutMilliseconds: 5000, policy: .unrestricted)
        let map = try QMPSlotSource.slotMap(client: client)
        XCTAssertEqual(map, guest.slotMap)
        XCTAssertEqual(map.hostAddress(of: GuestPhysicalAddress(0x12_3456)), guest.ram.hostAddress + 0x12_3456)
        XCTAssertEqual(map.slots.filter { $0.name == "pc.ram" }.reduce(0) { $0 + $1.size }, guest.ram.size - 0x60000)
        XCTAssertNil(map.hostAddress(of: GuestPhysicalAddress(0xa0000)), "the VGA window is not RAM")
        // The reset vector, read through the map, is where a BIOS keeps it.
        let memory = GuestMemory(map: map, reader: ProcessMemory(pid: getpid()))
        XCTAssertEqual(try memory.bytes(at: GuestPhysicalAddress(0xffff0), count: 5), [0xea, 0x5b, 0xe0, 0x00, 0xf0])
        XCTAssertEqual(try memory.bytes(at: GuestPhysicalAddress(0xffff_fff0), count: 5), [0xea, 0x5b, 0xe0, 0x00, 0xf0])
    }

    func testHumanMonitorWording() throws {
        let client = try QMPClient(path: first, timeoutMilliseconds: 5000, policy: .unrestricted)
        XCTAssertEqual(try client.humanMonitorCommand("gpa2hva 0x1000"),
                       "Host virtual address for 0x1000 (pc.ram) is \(Hex.string(guest.ram.hostAddress + 0x1000))\r\n")
        XCTAssertEqual(try client.humanMonitorCommand("gpa2hva 0xa0000"), "Memory at address 0xa0000 is not RAM\r\n")
        XCTAssertEqual(try client.humanMonitorCommand("gpa2hva 0xd0000000"), "No memory is mapped at address 0xd0000000\r\n")
        let hpa = try client.humanMonitorCommand("gpa2hpa 0x1000")
        XCTAssertTrue(hpa.hasPrefix("Host physical address for 0x1000 (pc.ram) is 0x") || hpa == "Page not present\r\n", hpa)
        XCTAssertEqual(try client.humanMonitorCommand("info status"), "VM status: running\r\n")
        XCTAssertEqual(try client.humanMonitorCommand("frobnicate"), "unknown command: 'frobnicate'\r\n")
        let mtree = try client.humanMonitorCommand("info mtree -f")
        XCTAssertTrue(mtree.contains("  0000000000100000-0000000003ffffff (prio 0, ram): pc.ram @0000000000100000\r\n"), mtree)
        XCTAssertTrue(mtree.contains(" AS \"virtio-blk-pci\", root: bus master container\r\n"), mtree)
        XCTAssertEqual(try FlatView.parse(mtree, addressSpace: "I/O").last?.name, "pci-conf-data")
    }

    func testStopAndContFreezeTheGuestAndRaiseEvents() throws {
        let watcher = try QMPTestClient(path: second)
        try watcher.negotiate()
        let client = try QMPClient(path: first, timeoutMilliseconds: 5000, policy: .unrestricted)
        XCTAssertEqual(try client.execute("query-status"), .object([("status", .string("running")), ("singlestep", .bool(false)), ("running", .bool(true))]))

        try client.execute("stop")
        XCTAssertFalse(guest.isRunning)
        XCTAssertEqual(try client.execute("query-status")["status"], .string("paused"))
        let event = try XCTUnwrap(watcher.line(), "the other client hears STOP")
        XCTAssertEqual(try JSON.parse(event)["event"], .string("STOP"))
        let ticks = guest.ticks
        let before = ramBytes()
        guest.advance(ticks: 50)
        XCTAssertEqual(guest.ticks, ticks, "no tick runs while paused")
        XCTAssertTrue(before == ramBytes(), "paused, the guest changes no memory")
        try client.execute("stop")  // already paused: no second event

        try client.execute("cont")
        XCTAssertTrue(guest.isRunning)
        XCTAssertEqual(try watcher.line().map { try JSON.parse($0)["event"] }, .string("RESUME"))
        guest.advance(ticks: 50)
        XCTAssertEqual(guest.ticks, ticks + 50)
        XCTAssertFalse(before == ramBytes())
    }

    func testErrorsAreQEMUs() throws {
        let client = try QMPClient(path: first, timeoutMilliseconds: 5000, policy: .unrestricted)
        func failure(_ command: String, _ arguments: JSON? = nil) -> QMPError? {
            do { try client.execute(command, arguments: arguments); return nil } catch { return error }
        }
        XCTAssertEqual(failure("nope"), .commandFailed(command: "nope", errorClass: "CommandNotFound", description: "The command nope has not been found"))
        XCTAssertEqual(failure("x-query-virtio-status"), .commandFailed(command: "x-query-virtio-status", errorClass: "GenericError", description: "Parameter 'path' is missing"))
        XCTAssertEqual(failure("x-query-virtio-status", .object([("path", .string("/machine/nothing"))])),
                       .commandFailed(command: "x-query-virtio-status", errorClass: "GenericError", description: "Path /machine/nothing is not a VirtIODevice"))
        XCTAssertEqual(failure("x-query-virtio-queue-status", .object([("path", .string("/machine/peripheral/disk0/virtio-backend")), ("queue", .int(1))])),
                       .commandFailed(command: "x-query-virtio-queue-status", errorClass: "GenericError", description: "Invalid virtqueue number 1"))
        XCTAssertEqual(failure("qom-get", .object([("path", .string("/machine/peripheral/nope")), ("property", .string("addr"))])),
                       .commandFailed(command: "qom-get", errorClass: "DeviceNotFound", description: "Device '/machine/peripheral/nope' not found"))
        XCTAssertEqual(failure("query-status", .object([("verbose", .bool(true))])),
                       .commandFailed(command: "query-status", errorClass: "GenericError", description: "Parameter 'verbose' is unexpected"))
        XCTAssertEqual(try client.execute("qom-get", arguments: .object([("path", .string("/machine/peripheral/net1")), ("property", .string("addr"))])), .int(0x28))
    }

    func testTheProtocolBeforeAndAroundCommands() throws {
        let raw = try QMPTestClient(path: first)
        let greeting = try JSON.parse(try XCTUnwrap(raw.line()))
        XCTAssertEqual(greeting["QMP"]?["version"]?["qemu"]?["major"]?.int, 7)
        XCTAssertEqual(greeting["QMP"]?["capabilities"], .array([]))
        raw.send("{\"execute\": \"query-status\", \"id\": 5}\n")
        XCTAssertEqual(raw.line(), #"{"error":{"class":"CommandNotFound","desc":"Expecting capabilities negotiation with 'qmp_capabilities'"},"id":5}"#)
        raw.send("{\"execute\": \"qmp_capabilities\"}\n")
        XCTAssertEqual(raw.line(), #"{"return":{}}"#)
        raw.send("{\"execute\": \"qmp_capabilities\"}\n")
        XCTAssertEqual(raw.line(), #"{"error":{"class":"CommandNotFound","desc":"Capabilities negotiation is already complete, command ignored"}}"#)
        raw.send("not json\n")
        XCTAssertTrue(raw.line()?.hasPrefix(#"{"error":{"class":"GenericError","desc":"JSON parse error"#) ?? false)
        raw.send("{\"arguments\": {}}\n")
        XCTAssertEqual(raw.line(), #"{"error":{"class":"GenericError","desc":"QMP input lacks member 'execute'"}}"#)
        raw.send("{\"execute\": \"query-name\", \"id\": \"x\"}\n")
        XCTAssertEqual(raw.line(), #"{"return":{"name":"vqscope-demo"},"id":"x"}"#)
        // A line without end, past the bound: an error, then the connection closes.
        raw.send(String(repeating: "x", count: DemoQMPServer.maxLineBytes + 70000))
        XCTAssertTrue(raw.line()?.contains("longer than") ?? false)
        XCTAssertNil(raw.line(timeout: 5), "the server hung up")
    }

    func testOneClientAtATimePerSocket() throws {
        do {
            let holder = try QMPClient(path: first, timeoutMilliseconds: 5000, policy: .unrestricted)
            XCTAssertThrowsError(try QMPClient(path: first, timeoutMilliseconds: 300)) { error in
                guard case .held(_, 300, nil)? = error as? QMPError else { return XCTFail("\(error)") }
            }
            XCTAssertNoThrow(try QMPClient(path: second, timeoutMilliseconds: 5000), "the other socket is free")
            XCTAssertEqual(try holder.execute("query-name")["name"], .string("vqscope-demo"))
        }
        // The holder is gone: the socket serves the next client.
        let next = try QMPClient(path: first, timeoutMilliseconds: 5000, policy: .unrestricted)
        XCTAssertEqual(try next.execute("query-version")["qemu"]?["minor"]?.int, 2)
    }

    /// All of guest RAM, for comparing before and after.
    private func ramBytes() -> [UInt8] {
        let pointer = UnsafeRawPointer(bitPattern: UInt(guest.ram.hostAddress))!
        return [UInt8](UnsafeRawBufferPointer(start: pointer, count: Int(guest.ram.size)))
    }
}
