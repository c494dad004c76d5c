import ArgumentParser
import Glibc
import VQCore

struct CaptureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture",
        abstract: "Capture virtio-net frames into a pcapng file, or virtio-blk requests as JSON lines, while the guest runs.",
        discussion: """
            After tcpdump: `vqscope capture --pid P -w FILE` writes every frame the guest's virtio-net \
            devices send and receive to FILE (pcapng, one interface per device, each frame with its \
            direction and its virtio-net header in a comment, the header itself stripped), until -c \
            frames, --seconds, Ctrl-C, or the end of the target. tx frames are read from the chains the \
            driver makes available, rx frames from the buffers the device returns (merged buffers \
            joined), each as soon as a poll sees it; a frame is written only when the ring, read again \
            after its bytes, shows the buffer was not handed on meanwhile. At the end vqscope says how \
            many frames it missed (a ring that lapped between polls, a buffer reused before it was \
            read), as tcpdump reports drops, and the file's interface statistics say it too.
            With --device naming a virtio-blk device, each request becomes one JSON line when the device \
            completes it: time submitted and completed, type, sector, length, status, latency (as the \
            polls saw them); requests still in flight at the end get a line with "completed": null. \
            `-w -` writes to standard output (not a pcap to a terminal).
            As root (--events auto, the default, or bpf), frames and requests are taken from QEMU's own \
            events instead of polls (eBPF uprobes on virtqueue_pop, virtqueue_fill, virtqueue_flush and \
            the kick functions): a tx frame when QEMU pops it, an rx frame when QEMU fills the guest's \
            buffer, nothing missed between polls; a frame longer than the probes copy is written cut \
            short with its original length. One line says which mode is in use, and why not bpf.
            Without QMP (--no-qmp) the rings a RAM scan finds are captured, named by the scan's guess \
            (virtio-net rx and tx, virtio-blk), with the features a current Linux driver negotiates \
            with QEMU assumed. Progress is shown on standard error when it is a terminal.
            """)

    @OptionGroup var target: TargetOptions
    @Option(name: .long, help: ArgumentHelp("The device: a name (virtio-net, virtio-blk), id, PCI address or QOM path. Default: every virtio-net device.", valueName: "device"))
    var device: String?
    @Option(name: .customShort("w"), help: ArgumentHelp("Where to write: a file, or - for standard output.", valueName: "file"))
    var write: String
    @Option(name: .customShort("c"), help: "Stop after this many frames (requests).") var count: Int?
    @Option(name: .long, help: "Stop after this many seconds.") var seconds: Double?
    @Option(name: .long, help: ArgumentHelp("Milliseconds between polls: a fast device returns a buffer within a millisecond, and the driver may take it back at once.", valueName: "ms")) var interval: Double = 0.2
    @Option(name: .customShort("s"), help: ArgumentHelp("Bytes of each frame to keep (the rest is counted, not written).", valueName: "snaplen"))
    var snapLength: Int = 65535
    @OptionGroup var eventOptions: EventOptions

    func validate() throws {
        guard target.image == nil else { throw ValidationError("capture needs a live target (--pid): an image does not change") }
        guard target.pid != nil else { throw ValidationError("capture needs --pid") }
        if let count, count < 1 { throw ValidationError("-c must be at least 1") }
        if let seconds, !(seconds > 0) { throw ValidationError("--seconds must be more than 0") }
        guard interval >= 0.05, interval <= 60_000 else { throw ValidationError("--interval must be 0.05 to 60000 ms") }
        guard (64...262_144).contains(snapLength) else { throw ValidationError("-s must be 64 to 262144 bytes") }
        guard !write.isEmpty else { throw ValidationError("-w needs a file name, or - for standard output") }
    }

    typealias Kind = CaptureSession.Kind

    func run() throws {
        let t = try target.open()
        guard let process = t.process else { throw ExitCode(Failure.unusable) }
        let list = try QueueList.load(t)
        let (kind, devices) = try Self.select(device, from: list.source == .scan ? Self.scannedDevices(list) : list.devices, title: t.title)

        let session = CaptureSession(target: t, list: list, kind: kind, devices: devices, snapLength: snapLength)
        for line in session.notCaptured { Failure.printError(line) }
        guard session.hasQueues else {
            Failure.printError("\(devices.map(\.name).joined(separator: ", ")) of \(t.title) has no active queue to capture (is the driver loaded?)")
            throw ExitCode(Failure.unusable)
        }
        // Requests and frames from QEMU's own events when the probes can be had (only those that
        // see chains taken and completed), else polled; the mode in use is said in one line once
        // the output is open (bad input stays one line).
        let events: (session: ProbeSession?, mode: String)
        switch eventOptions.open(t, queues: session.capturedQueues.map(\.queue), groups: .capture) {
        case .success(let started): events = started
        case .failure(let refusal):
            Failure.printError(refusal.line)
            throw ExitCode(Failure.unusable)
        }
        let probes = events.session
        let control = SessionControl.signals()
        // Where the rings are now, then what is in flight: only what comes after is captured.
        let start = control.wallNow()
        do throws(CaptureSession.StartError) { try session.start(at: start) } catch {
            Failure.printError("\(error)")
            throw ExitCode(Failure.unusable)
        }

        // Only now, with the target known good, the output.
        let fd = try openOutput(kind: kind)
        Failure.printError("events: " + events.mode)
        let out = Output(fd: fd)
        let names = devices.map { $0.id ?? $0.pciAddress ?? $0.name }
        if kind == .network {
            out.write(block: Pcapng.sectionHeader(application: "vqscope"))
            for dev in devices {
                out.write(block: Pcapng.interfaceDescription(snapLength: UInt32(snapLength), name: dev.id ?? dev.pciAddress ?? dev.name,
                                                             description: dev.origin == .scan ? "\(dev.name) rings found by a RAM scan of QEMU PID \(process.pid)"
                                                                                       : "\(dev.name) \(dev.path) of QEMU PID \(process.pid)"))
            }
            out.flush()
        }
        let what = zip(devices, names).map { "\($0.name) \($1)" }.joined(separator: ", ")
        Output.standardError.write("capturing \(kind == .network ? "frames" : "requests") of \(what) (\(t.title)) to \(write == "-" ? "standard output" : write); Ctrl-C stops\n")

        if let probes {
            switch kind {
            case .block: try captureBlocks(from: probes, devices: devices, queues: session.capturedQueues, out: out, control: control)
            case .network:
                try captureFrames(from: probes, devices: devices, assemblers: session.assemblers, queues: session.capturedQueues,
                                  start: start, out: out, control: control)
            }
            if fd != 1 { close(fd) }
            return
        }
        let progress = ProgressLine()
        let begun = control.now()
        var captured = 0, received = 0, sent = 0
        var perDevice = [Int](repeating: 0, count: devices.count)
        var exitStatus: Int32 = 0
        var reachedCount = false

        /// Writes one frame or request; false once -c is reached.
        func emit(_ record: CaptureSession.Record) -> Bool {
            switch record {
            case .frame(let device, let frame):
                out.write(block: Pcapng.enhancedPacket(interface: UInt32(device), microseconds: UInt64(max(frame.time, 0) * 1e6),
                                                       data: frame.bytes, originalLength: frame.length,
                                                       direction: frame.direction, comment: frame.comment))
                perDevice[device] += 1
                if frame.direction == .inbound { received += 1 } else { sent += 1 }
            case .request(let device, let queue, let r):
                out.write(Self.json(r, device: devices[device], queue: queue).text + "\n")
            }
            captured += 1
            if let count, captured >= count { return false }
            return true
        }

        loop: while true {
            let finalPoll = control.shouldStop() || seconds.map { control.now() - begun >= $0 } ?? false
            do throws(MemoryError) {
                if try !session.poll(at: control.wallNow(), emit: emit) { reachedCount = true; break loop }
            } catch {
                progress.finish()
                out.flush()
                Failure.printError("\(error)")
                exitStatus = Failure.partial
                break loop
            }
            out.flush()
            if finalPoll { break }
            progress.update(kind == .network
                ? "\(captured) frames (rx \(received), tx \(sent)), \(session.missed) missed, \(String(format1: control.now() - begun)) s"
                : "\(captured) requests, \(session.missed) missed, \(String(format1: control.now() - begun)) s")
            control.sleep(interval / 1000)
        }
        progress.finish()
        // What the last poll held back.
        if exitStatus == 0 && !reachedCount && !session.finish(at: control.wallNow(), emit: emit) { reachedCount = true }

        // The end: statistics into the file, requests still in flight, and the counts on stderr.
        let end = control.wallNow()
        switch kind {
        case .network:
            session.finishAssembly()
            for (d, a) in session.assemblers.enumerated() {
                out.write(block: Pcapng.interfaceStatistics(interface: UInt32(d), microseconds: UInt64(end * 1e6), start: UInt64(start * 1e6),
                                                            received: UInt64(perDevice[d]),
                                                            dropped: UInt64(a.missedReceived + a.missedSent)))
            }
            out.flush()
            let missed = session.missed
            Output.standardError.write("\(captured) frame\(captured == 1 ? "" : "s") captured (rx \(received), tx \(sent))\n")
            var why: [String: Int] = [:]
            for a in session.assemblers { why.merge(a.missedBy, uniquingKeysWith: +) }
            let reasons = why.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            Output.standardError.write("\(missed) frame\(missed == 1 ? "" : "s") missed\(reasons.isEmpty ? "" : " (\(reasons))")\n")
        case .block:
            var pending = 0
            if exitStatus == 0 && !reachedCount {
                for p in session.pendingRequests() {
                    out.write(Self.json(p.request, device: devices[p.device], queue: p.queue).text + "\n")
                    pending += 1
                }
            }
            out.flush()
            let untimed = session.tracers.reduce(0) { $0 + $1.untimed }
            Output.standardError.write("\(captured) request\(captured == 1 ? "" : "s") traced, \(pending) still in flight at the end\n")
            Output.standardError.write("\(session.missed) missed (a ring lapped between polls, or the guest took a buffer back before vqscope read it; a shorter --interval misses fewer); \(untimed) completed that were submitted before the trace\n")
        }
        if fd != 1 { close(fd) }
        if exitStatus != 0 { throw ExitCode(exitStatus) }
    }

    /// Without QMP: the rings a RAM scan found, as one virtio-net device (its rx rings at even
    /// queue numbers, tx at odd ones, as the spec numbers them) and one virtio-blk device. The
    /// negotiated features are not known: a current driver's with QEMU's modern devices are
    /// assumed (VERSION_1 and MRG_RXBUF: 12-byte headers, merged receive buffers).
    static func scannedDevices(_ list: QueueList) -> [VirtioDevice] {
        func rings(_ guess: String) -> [Virtqueue] { list.devices.first { $0.name == guess }?.queues ?? [] }
        var devices: [VirtioDevice] = []
        let rx = rings("virtio-net-rx"), tx = rings("virtio-net-tx")
        if !rx.isEmpty || !tx.isEmpty {
            var net = VirtioDevice(name: "virtio-net", path: "", id: "scanned-net", deviceID: VirtioDeviceType.network.rawValue,
                                   features: [.version1, .netMergeableReceiveBuffers], origin: .scan)
            for (k, q) in rx.enumerated() { net.queues.append(Virtqueue(device: "virtio-net", path: "", index: 2 * k, location: q.location, origin: .scan)) }
            for (k, q) in tx.enumerated() { net.queues.append(Virtqueue(device: "virtio-net", path: "", index: 2 * k + 1, location: q.location, origin: .scan)) }
            devices.append(net)
        }
        let blk = rings("virtio-blk")
        if !blk.isEmpty {
            var d = VirtioDevice(name: "virtio-blk", path: "", id: "scanned-blk", deviceID: VirtioDeviceType.block.rawValue, features: [.version1],
                                 origin: .scan)
            d.queues = blk.enumerated().map { k, q in Virtqueue(device: "virtio-blk", path: "", index: k, location: q.location, origin: .scan) }
            devices.append(d)
        }
        return devices
    }

    /// The devices `name` selects (default: every virtio-net device), all of one kind.
    static func select(_ name: String?, from all: [VirtioDevice], title: String) throws -> (Kind, [VirtioDevice]) {
        let names = all.map { $0.id ?? $0.pciAddress ?? $0.name }.joined(separator: ", ")
        let chosen: [VirtioDevice]
        if let name {
            chosen = all.filter { d in
                d.name == name || d.path == name || d.id == name || d.pciAddress == name || d.pciAddress.map { "0000:" + $0 } == name
            }
            guard !chosen.isEmpty else {
                Failure.printError("no virtio device '\(name)' in \(title) (devices: \(names.isEmpty ? "none" : names))")
                throw ExitCode(Failure.unusable)
            }
        } else {
            chosen = all.filter { $0.deviceID == VirtioDeviceType.network.rawValue }
            guard !chosen.isEmpty else {
                Failure.printError("\(title) has no virtio-net device; name the device to capture with --device (devices: \(names.isEmpty ? "none" : names))")
                throw ExitCode(Failure.unusable)
            }
        }
        let types = Set(chosen.map(\.deviceID))
        guard types.count == 1, let type = types.first else {
            Failure.printError("'\(name ?? "")' names devices of different types: name one by id, PCI address or QOM path")
            throw ExitCode(Failure.unusable)
        }
        switch VirtioDeviceType(rawValue: type) {
        case .network?: return (.network, chosen)
        case .block?: return (.block, chosen)
        default:
            Failure.printError("\(chosen[0].name) carries neither frames nor block requests: capture takes a virtio-net or virtio-blk device")
            throw ExitCode(Failure.unusable)
        }
    }

    /// The file to write, created (truncated) only now; standard output for `-`, refused for a
    /// pcap when it is a terminal.
    func openOutput(kind: Kind) throws -> Int32 {
        if write == "-" {
            if kind == .network && isatty(1) != 0 {
                Failure.printError("will not write a pcapng file to a terminal: give -w FILE, or pipe it (-w - | tshark -r -)")
                throw ExitCode(Failure.unusable)
            }
            return 1
        }
        let fd = Glibc.open(write, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            Failure.printError("cannot write \(write): \(String(cString: strerror(errno)))")
            throw ExitCode(Failure.unusable)
        }
        return fd
    }

    /// One block request as a JSON line's object.
    static func json(_ r: TracedBlockRequest, device: VirtioDevice, queue: Virtqueue) -> JSON {
        func time(_ t: Double?) -> JSON { t.map { .double(($0 * 1e6).rounded() / 1e6) } ?? .null }
        return .object([
            ("queue", .string(queue.label)), ("device", .string(device.id ?? device.pciAddress ?? device.name)),
            ("id", .uint(UInt64(r.id))),
            ("type", .string(r.request.typeName)), ("sector", .uint(r.request.sector)), ("length", .uint(r.request.dataLength)),
            ("status", r.completed == nil ? .null : r.request.statusName.map { .string($0) } ?? .null),
            ("submitted", time(r.submitted)), ("completed", time(r.completed)),
            ("latency_us", r.latency.map { .int(Int64(($0 * 1e6).rounded())) } ?? .null),
        ])
    }
}

extension Output {
    /// Writes a block of bytes (a pcapng block).
    func write(block: [UInt8]) { block.withUnsafeBytes { write(bytes: $0) } }
}

extension String {
    /// One decimal place without Foundation.
    init(format1 value: Double) {
        let tenths = Int((value * 10).rounded())
        self = "\(tenths / 10).\(tenths % 10)"
    }
}
