/// `vqscope capture` without the file: follows the queues of virtio-net devices (frames) or
/// virtio-blk devices (requests) with a ``QueueTap`` each, and hands what they give, frame by frame
/// or request by request, to the caller.
///
/// Only what happens after ``start()`` is captured: it records where the rings are and what is in
/// flight. Behind an IOMMU, each queue's buffers in flight keep the pages they reached when made
/// available (``IOVAPins``), so what the device wrote is read even after the guest unmapped them.
public final class CaptureSession {
    /// What is captured.
    public enum Kind: Sendable { case network, block }

    /// One thing captured.
    public enum Record: Sendable {
        /// A network frame of device `device` (a position in ``devices``).
        case frame(device: Int, CapturedFrame)
        /// A block request of device `device`, on `queue`.
        case request(device: Int, queue: Virtqueue, TracedBlockRequest)
    }

    /// Why the capture could not start.
    public enum StartError: Error, CustomStringConvertible {
        /// No queue of the devices can be captured.
        case nothingToCapture
        /// A ring cannot be followed.
        case target(TargetError)
        /// The rings could not be read.
        case memory(MemoryError)

        public var description: String {
            switch self {
            case .nothingToCapture: return "no active queue to capture"
            case .target(let e): return e.description
            case .memory(let e): return "\(e)"
            }
        }
    }

    /// A captured queue with its device and tap.
    private struct Tapped {
        var device: Int
        var queue: Virtqueue
        var tap: QueueTap
        var pins = IOVAPins()
        /// The ring's memory walked after the last poll that moved (behind an IOMMU).
        var walked: RingMemory?
    }

    public let target: Target
    public let list: QueueList
    public let kind: Kind
    public let devices: [VirtioDevice]
    /// Frames put together per device (network).
    public private(set) var assemblers: [NetFrameAssembler]
    /// Requests traced per device (block).
    public private(set) var tracers: [BlockRequestTracer]
    /// One line for each queue not captured, and why.
    public private(set) var notCaptured: [String] = []
    private var tapped: [Tapped] = []
    private var watcher: RingWatcher?
    private let iommuViews: Bool

    /// A capture of `devices` (all of `kind`) of `target`, keeping `snapLength` bytes of each frame.
    public init(target: Target, list: QueueList, kind: Kind, devices: [VirtioDevice], snapLength: Int) {
        self.target = target
        self.list = list
        self.kind = kind
        self.devices = devices
        assemblers = devices.map { NetFrameAssembler(format: VirtioNetHeader.Format(features: $0.features), snapLength: snapLength) }
        tracers = devices.map { _ in BlockRequestTracer() }
        for (d, dev) in devices.enumerated() {
            var highest = (dev.queues.map(\.index).max() ?? -1) + 1
            if dev.origin == .scan { highest += highest % 2 } // scanned: no control queue among them
            for q in dev.queues {
                let plan = kind == .network ? assemblers[d].plan(queueIndex: q.index, queueCount: highest) : BlockRequestTracer.plan
                guard let plan else { continue }
                if let problem = q.location.sizeProblem {
                    notCaptured.append("\(q.label) \(problem): not captured")
                    continue
                }
                // Through the memory the device reaches by DMA; a queue whose IOVAs cannot be translated is not captured.
                let memory: GuestMemory
                do throws(IOMMUTranslationError) { memory = try target.ringMemory(for: q, in: list).memory } catch {
                    notCaptured.append("\(q.label): not captured: \(error)")
                    continue
                }
                tapped.append(Tapped(device: d, queue: q, tap: QueueTap(memory: memory, location: q.location, plan: plan)))
            }
        }
        iommuViews = tapped.contains { $0.tap.memory.map.isIOVA }
    }

    /// Whether any queue is captured.
    public var hasQueues: Bool { !tapped.isEmpty }
    /// The queues captured, each with its device's index in ``devices``.
    public var capturedQueues: [(device: Int, queue: Virtqueue)] { tapped.map { ($0.device, $0.queue) } }

    /// Records where the rings are now, then what is in flight: only what comes after is captured.
    public func start(at wall: Double) throws(StartError) {
        guard !tapped.isEmpty else { throw .nothingToCapture }
        let watcher: RingWatcher
        do throws(TargetError) {
            watcher = try RingWatcher(memories: tapped.map(\.tap.memory), queues: tapped.map(\.queue.location),
                                      deviceStates: tapped.map(\.queue.deviceState))
        } catch { throw .target(error) }
        do throws(MemoryError) {
            _ = try watcher.poll()
            for t in tapped { try t.tap.prime(at: wall) }
        } catch { throw .memory(error) }
        self.watcher = watcher
    }

    /// One poll: hands each frame or request to `emit`, queue by queue, until it returns false.
    /// Answers false when `emit` did (the caller has what it wants). Throws when the rings cannot
    /// be read.
    public func poll(at wall: Double, emit: (Record) -> Bool) throws(MemoryError) -> Bool {
        guard let watcher else { return true }
        let events = try watcher.poll()
        // Behind an IOMMU: the devices' mappings walked again after a poll that saw the rings
        // move, so the buffers it found made available are mapped in the views the taps read.
        if iommuViews && !events.isEmpty {
            target.refreshRings()
            for i in tapped.indices {
                tapped[i].walked = try? target.ringMemory(for: tapped[i].queue, in: list)
                if let ring = tapped[i].walked { tapped[i].tap.memory = tapped[i].pins.memory(ring, guest: target.memory) }
            }
        }
        var byQueue = [[RingEvent]](repeating: [], count: tapped.count)
        for e in events { byQueue[e.queue].append(e) }
        for i in tapped.indices {
            let outputs = tapped[i].tap.process(byQueue[i], packedRing: watcher.packedRing(i), at: wall)
            if let ring = tapped[i].walked {
                tapped[i].pins.update(tapped[i].tap.inFlight.map(\.chain), through: ring)
                tapped[i].walked = nil
            }
            if !outputs.isEmpty, !hand(outputs, of: i, to: emit) { return false }
        }
        return true
    }

    /// What the last poll held back, handed to `emit` until it returns false; false when it did.
    public func finish(at wall: Double, emit: (Record) -> Bool) -> Bool {
        for i in tapped.indices where !hand(tapped[i].tap.finish(at: wall), of: i, to: emit) { return false }
        return true
    }

    /// Block requests still in flight at the end, queue by queue.
    public func pendingRequests() -> [(device: Int, queue: Virtqueue, request: TracedBlockRequest)] {
        tapped.flatMap { t in
            tracers[t.device].pending(t.tap.inFlight, queueIndex: t.queue.index).map { (t.device, t.queue, $0) }
        }
    }

    /// Frames or requests missed so far (a ring lapped, a buffer taken back before it was read).
    public var missed: Int {
        kind == .network ? assemblers.reduce(0) { $0 + $1.missedReceived + $1.missedSent } : tracers.reduce(0) { $0 + $1.missed }
    }

    /// Ends every device's frame assembly (network): what is half put together is counted missed.
    public func finishAssembly() {
        for d in assemblers.indices { assemblers[d].finish() }
    }

    private func hand(_ outputs: [QueueTap.Output], of i: Int, to emit: (Record) -> Bool) -> Bool {
        let t = tapped[i]
        switch kind {
        case .network:
            for frame in assemblers[t.device].frames(from: outputs, queueIndex: t.queue.index) where !emit(.frame(device: t.device, frame)) {
                return false
            }
        case .block:
            for r in tracers[t.device].requests(from: outputs, queueIndex: t.queue.index) where !emit(.request(device: t.device, queue: t.queue, r)) {
                return false
            }
        }
        return true
    }
}
