/// Which virtqueue a `VirtQueue *` (or a `VirtIODevice *` and queue number, or a host notifier)
/// seen by the eBPF probes is, decided by what QEMU's memory holds: the ring addresses in the
/// VirtQueue struct (QEMU's `VRing`: desc, avail, used, consecutive 64-bit fields) against the
/// rings QMP or a RAM scan gives. The struct's offsets are derived from the first VirtQueue that
/// holds a known ring's three addresses, then checked on every other one: a VirtQueue holding them
/// elsewhere, or a size that disagrees, is refused (``VirtQueueMapError``), never guessed.
public final class VirtQueueMap {
    /// A ring the guest set up, as QMP (or a scan) reports it.
    public struct Ring: Sendable, Hashable {
        public var descriptors: UInt64
        public var driverArea: UInt64
        public var deviceArea: UInt64
        public var size: UInt16
        /// The queue's number within its device.
        public var queueNumber: Int

        public init(descriptors: UInt64, driverArea: UInt64, deviceArea: UInt64, size: UInt16, queueNumber: Int) {
            self.descriptors = descriptors
            self.driverArea = driverArea
            self.deviceArea = deviceArea
            self.size = size
            self.queueNumber = queueNumber
        }
    }

    /// Bytes read of each VirtQueue (QEMU 7.2's struct is about 150 bytes).
    public static let structWindow = 384

    public let rings: [Ring]
    private let read: (UInt64, Int) -> [UInt8]?
    /// Where the VRing's desc field sits in a VirtQueue (avail and used follow it).
    public private(set) var ringOffset: Int?
    /// Where the VirtQueue's `vdev` pointer sits (derived from the first kick by device).
    public private(set) var deviceOffset: Int?
    /// Where the host notifier sits in a VirtQueue (derived from the first ioeventfd kick).
    public private(set) var notifierOffset: Int?
    private var byPointer: [UInt64: Int?] = [:]
    private var bytesByPointer: [UInt64: [UInt8]] = [:]
    private var byDevice: [DeviceQueue: Int?] = [:]
    private var byNotifier: [UInt64: Int?] = [:]

    private struct DeviceQueue: Hashable { var device: UInt64; var queue: UInt32 }

    /// `read(address, count)` reads QEMU's memory (nil: unreadable).
    public init(rings: [Ring], read: @escaping (UInt64, Int) -> [UInt8]?) {
        self.rings = rings
        self.read = read
    }

    /// The index in ``rings`` of the queue the event is about; nil when its VirtQueue holds no
    /// ring this map knows (a queue QMP did not list, or not set up yet).
    public func ring(for subject: ProbeEvent.Subject) throws(VirtQueueMapError) -> Int? {
        if let last, last.subject == subject { return last.ring }
        let ring: Int?
        switch subject {
        case .virtQueue(let p): ring = try self.ring(virtQueue: p)
        case .device(let d, let n): ring = try self.ring(device: d, queue: n)
        case .hostNotifier(let p): ring = try self.ring(notifier: p)
        }
        // Only a ring found is kept: a subject not known yet is asked again.
        if let ring { last = (subject, ring) }
        return ring
    }

    /// The last subject named and its ring: events come in runs about one queue (a kick, a pop,
    /// a fill, a flush, an interrupt), and the run's first answers for the rest.
    private var last: (subject: ProbeEvent.Subject, ring: Int)?

    /// The offsets in `bytes` (a VirtQueue) where a ring's desc, avail and used addresses sit
    /// one after another, lowest first, with the ring's index. Pure: unit-tested on bytes.
    public static func ringPlacements(in bytes: [UInt8], rings: [Ring]) -> [(offset: Int, ring: Int)] {
        var found: [(offset: Int, ring: Int)] = []
        var offset = 0
        while offset + 24 <= bytes.count {
            let desc = u64(bytes, offset)
            if desc != 0 {
                for (k, r) in rings.enumerated() where r.descriptors == desc && r.driverArea == u64(bytes, offset + 8) && r.deviceArea == u64(bytes, offset + 16) {
                    found.append((offset, k))
                }
            }
            offset += 8
        }
        return found
    }

    /// Whether the ring's size sits as a 32-bit field in the 16 bytes before its addresses
    /// (QEMU's VRing: num, num_default, align, then desc).
    public static func sizePrecedes(_ bytes: [UInt8], ringOffset: Int, size: UInt16) -> Bool {
        stride(from: max(0, ringOffset - 16), to: ringOffset, by: 4).contains { u32(bytes, $0) == UInt32(size) }
    }

    private func bytes(of pointer: UInt64) -> [UInt8]? {
        if let b = bytesByPointer[pointer] { return b }
        guard let b = read(pointer, Self.structWindow), b.count == Self.structWindow else { return nil }
        bytesByPointer[pointer] = b
        return b
    }

    private func ring(virtQueue p: UInt64) throws(VirtQueueMapError) -> Int? {
        if let known = byPointer[p] { return known }
        guard let b = bytes(of: p) else { return nil }  // unreadable now: asked again next time
        let placements = Self.ringPlacements(in: b, rings: rings)
        guard let first = placements.first else {
            byPointer[p] = .some(nil)
            return nil
        }
        if let ringOffset, first.offset != ringOffset {
            throw VirtQueueMapError("the VirtQueue at \(Hex.string(p)) holds its ring addresses at +\(first.offset), other VirtQueues at +\(ringOffset): QEMU's VirtQueue layout is not what vqscope derived")
        }
        guard Self.sizePrecedes(b, ringOffset: first.offset, size: rings[first.ring].size) else {
            throw VirtQueueMapError("the VirtQueue at \(Hex.string(p)) holds the ring addresses of a queue of size \(rings[first.ring].size) but not that size before them: not a VRing vqscope knows")
        }
        ringOffset = first.offset
        byPointer[p] = first.ring
        return first.ring
    }

    private func ring(device d: UInt64, queue n: UInt32) throws(VirtQueueMapError) -> Int? {
        let key = DeviceQueue(device: d, queue: n)
        if let known = byDevice[key] { return known }
        // A VirtQueue already identified as queue n whose vdev field holds d.
        for (p, r) in byPointer {
            guard let r, rings[r].queueNumber == Int(n), let b = bytes(of: p) else { continue }
            let offsets = stride(from: 0, to: b.count - 7, by: 8).filter { Self.u64(b, $0) == d }
            guard let first = offsets.first else { continue }
            if let deviceOffset, deviceOffset != first {
                throw VirtQueueMapError("the VirtQueue at \(Hex.string(p)) holds its device pointer at +\(first), others at +\(deviceOffset): QEMU's VirtQueue layout is not what vqscope derived")
            }
            deviceOffset = first
            byDevice[key] = r
            return r
        }
        return nil  // no pop or completion of that queue seen yet: asked again next time
    }

    private func ring(notifier p: UInt64) throws(VirtQueueMapError) -> Int? {
        if let known = byNotifier[p] { return known }
        // Offset known: the VirtQueue that holds it is the one at p minus it, named by its rings
        // (nil: a queue this map does not list).
        if let notifierOffset {
            guard p >= UInt64(notifierOffset) else { return nil }
            let base = p - UInt64(notifierOffset)
            guard let b = bytes(of: base) else { return nil }
            guard let ringOffset, Self.looksLikeVRing(b, ringOffset: ringOffset) else {
                throw VirtQueueMapError("a host notifier at \(Hex.string(p)) has no VirtQueue +\(notifierOffset) below it, where other notifiers sit: not a VirtQueue vqscope knows")
            }
            let r = try ring(virtQueue: base)
            byNotifier[p] = .some(r)
            return r
        }
        // Not derived yet: the VirtQueue holding p is the nearest VRing below it in QEMU's memory
        // (VirtQueues of a device sit in one array, a struct apart, closer than the window read):
        // read there, not taken from the VirtQueues seen so far, whose nearest may be the one
        // before the holder. Derived only from a holder this map names.
        guard let ringOffset else { return nil }
        for offset in stride(from: ringOffset + 24, to: Self.structWindow, by: 4) where UInt64(offset) <= p {
            let base = p - UInt64(offset)
            guard base % 8 == 0, let window = read(base, ringOffset + 24), window.count == ringOffset + 24,
                  Self.looksLikeVRing(window, ringOffset: ringOffset) else { continue }
            let r = try ring(virtQueue: base)
            // The nearest VRing is a queue not listed: the notifier is not named, nothing derived.
            byNotifier[p] = .some(r)
            if r != nil { notifierOffset = offset }
            return r
        }
        return nil
    }

    /// Whether `bytes` (a VirtQueue) hold a VRing at `ringOffset`: a ring size (a power of two, at
    /// most 32768) in the 16 bytes before three ring addresses, none zero, each as aligned as the
    /// spec asks (desc 16, avail 2, used 4), all three within 1 TiB of each other (guest addresses;
    /// QEMU's heap pointers after them are far from any). Pure: unit-tested.
    public static func looksLikeVRing(_ bytes: [UInt8], ringOffset: Int) -> Bool {
        guard ringOffset >= 16, bytes.count >= ringOffset + 24 else { return false }
        let desc = u64(bytes, ringOffset), avail = u64(bytes, ringOffset + 8), used = u64(bytes, ringOffset + 16)
        guard desc != 0, avail != 0, used != 0, desc % 16 == 0, avail % 2 == 0, used % 4 == 0 else { return false }
        func near(_ a: UInt64, _ b: UInt64) -> Bool { (a > b ? a - b : b - a) < 1 << 40 }
        guard near(desc, avail), near(desc, used), near(avail, used) else { return false }
        return stride(from: ringOffset - 16, to: ringOffset, by: 4).contains { o in
            let n = u32(bytes, o)
            return n != 0 && n <= 32768 && n & (n - 1) == 0
        }
    }

    static func u64(_ b: [UInt8], _ o: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(b[o + $1]) << (8 * $1) } }
    static func u32(_ b: [UInt8], _ o: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(b[o + $1]) << (8 * $1) } }
}

/// QEMU's memory does not hold a VirtQueue where and as vqscope derived it: the probes' events
/// cannot be told apart by queue, and are refused.
public struct VirtQueueMapError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
