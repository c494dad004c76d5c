/// One virtio-blk request followed from submission to completion.
public struct TracedBlockRequest: Sendable, Hashable {
    /// The virtqueue it went through.
    public var queueIndex: Int
    /// Head descriptor (split) or buffer ID (packed).
    public var id: UInt32
    /// The request header: type, sector, and the data length between header and status.
    public var request: BlockRequest
    /// When the driver made it available and when the device returned it (the caller's clock);
    /// `completed` is nil for a request still in flight when the trace ended.
    public var submitted: Double
    public var completed: Double?

    /// Seconds from submission to completion, as the polls saw them.
    public var latency: Double? { completed.map { $0 - submitted } }
}

/// Turns the buffers of a virtio-blk queue, as a ``QueueTap`` reads them, into requests: the
/// 16-byte header read when the driver makes a request available, the status byte read when the
/// device returns it. Requests made available before the trace started are not traced (their
/// submission was not seen); they are counted in ``untimed``.
public struct BlockRequestTracer: Sendable {
    /// The plan of a tap on a virtio-blk queue.
    public static let plan = QueueTap.Plan(driverBytes: 16, deviceBytes: .lastByte)

    /// Requests whose header or status could not be read soundly, or that lapped the ring.
    public private(set) var missed = 0
    /// Completions of requests submitted before the trace started.
    public private(set) var untimed = 0

    public init() {}

    /// The requests `outputs` completed, in ring order.
    public mutating func requests(from outputs: [QueueTap.Output], queueIndex: Int) -> [TracedBlockRequest] {
        var done: [TracedBlockRequest] = []
        for output in outputs {
            switch output {
            case .available(let b):
                if b.missed != nil { missed += 1 }
            case .used(let c):
                // A buffer not seen made available, or recorded when the trace started: untimed;
                // one whose header could not be read was counted when it was made available.
                guard let b = c.buffer else { untimed += 1; continue }
                guard let header = b.driverBytes else {
                    if b.missed == nil { untimed += 1 }
                    continue
                }
                guard var request = Self.request(header: header, chain: b.chain) else { missed += 1; continue }
                if let status = c.deviceBytes?.first { request.status = status } else { missed += 1; continue }
                done.append(TracedBlockRequest(queueIndex: queueIndex, id: c.id, request: request, submitted: b.time, completed: c.time))
            case .lapped(let ring, let count):
                if ring == .avail { missed += count }
            }
        }
        return done
    }

    /// The requests of a tap still in flight (at the end of a trace), with no completion.
    public func pending(_ buffers: [QueueTap.Buffer], queueIndex: Int) -> [TracedBlockRequest] {
        buffers.compactMap { b in
            guard let header = b.driverBytes, let request = Self.request(header: header, chain: b.chain) else { return nil }
            return TracedBlockRequest(queueIndex: queueIndex, id: UInt32(b.id), request: request, submitted: b.time, completed: nil)
        }
    }

    /// A request from its header and chain: data is everything between the 16-byte header and
    /// the status byte.
    static func request(header: [UInt8], chain: Chain) -> BlockRequest? {
        let total = chain.readableBytes &+ chain.writableBytes
        return BlockRequest(header: header, dataLength: total >= 17 ? total - 17 : 0, status: nil)
    }
}
