/// Guest-physical memory: a ``SlotMap`` paired with the ``MemoryReader`` of its backing address space.
/// Reads that cross slots are split; a read touching an address no slot holds throws
/// `.guestUnmapped` and reads nothing into the caller's view of success.
public struct GuestMemory {
    public let map: SlotMap
    public let reader: any MemoryReader

    public init(map: SlotMap, reader: any MemoryReader) {
        self.map = map
        self.reader = reader
    }

    /// Fills `buffer` from guest-physical `gpa`.
    public func read(at gpa: GuestPhysicalAddress, into buffer: UnsafeMutableRawBufferPointer) throws(MemoryError) {
        guard buffer.count > 0 else { return }
        // The common case, one slot, without an allocation.
        if let i = map.slotIndex(containing: gpa) {
            let slot = map.slots[i]
            let offset = gpa.rawValue - slot.guest.rawValue
            if UInt64(buffer.count) <= slot.size - offset {
                return try reader.read(at: slot.host &+ offset, into: buffer)
            }
        }
        var requests: [MemoryReadRequest] = []
        var done = 0
        for piece in try map.pieces(from: gpa, count: buffer.count) {
            requests.append(MemoryReadRequest(address: piece.host, buffer: UnsafeMutableRawBufferPointer(rebasing: buffer[done..<done + piece.count])))
            done += piece.count
        }
        try rethrowing(MemoryError.self) { try requests.withUnsafeMutableBufferPointer { try reader.read($0) } }
    }

    /// Reads several guest-physical ranges in one batch (one system call for a live process).
    public func read(_ ranges: [(gpa: GuestPhysicalAddress, buffer: UnsafeMutableRawBufferPointer)]) throws(MemoryError) {
        var requests: [MemoryReadRequest] = []
        requests.reserveCapacity(ranges.count)
        for range in ranges where range.buffer.count > 0 {
            var done = 0
            for piece in try map.pieces(from: range.gpa, count: range.buffer.count) {
                requests.append(MemoryReadRequest(address: piece.host, buffer: UnsafeMutableRawBufferPointer(rebasing: range.buffer[done..<done + piece.count])))
                done += piece.count
            }
        }
        try rethrowing(MemoryError.self) { try requests.withUnsafeMutableBufferPointer { try reader.read($0) } }
    }

    /// Reads several guest-physical ranges in one batch, each on its own: `failures[i]` is why
    /// range `i` was not read (an address no slot holds, or the backing read failed), `nil` when it
    /// was (``MemoryReader/readEach(_:)``). Never throws.
    public func readEach(_ ranges: [(gpa: GuestPhysicalAddress, buffer: UnsafeMutableRawBufferPointer)]) -> [MemoryError?] {
        var failures = [MemoryError?](repeating: nil, count: ranges.count)
        var requests: [MemoryReadRequest] = []
        var owner: [Int] = []
        requests.reserveCapacity(ranges.count)
        owner.reserveCapacity(ranges.count)
        for (i, range) in ranges.enumerated() where range.buffer.count > 0 {
            do throws(MemoryError) {
                var done = 0
                for piece in try map.pieces(from: range.gpa, count: range.buffer.count) {
                    requests.append(MemoryReadRequest(address: piece.host,
                                                      buffer: UnsafeMutableRawBufferPointer(rebasing: range.buffer[done..<done + piece.count])))
                    owner.append(i)
                    done += piece.count
                }
            } catch {
                failures[i] = error
            }
        }
        let pieceFailures = requests.withUnsafeMutableBufferPointer { reader.readEach($0) }
        for (k, failure) in pieceFailures.enumerated() where failure != nil && failures[owner[k]] == nil {
            failures[owner[k]] = failure
        }
        return failures
    }

    /// `count` bytes from `gpa`.
    public func bytes(at gpa: GuestPhysicalAddress, count: Int) throws(MemoryError) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        try rethrowing(MemoryError.self) { try result.withUnsafeMutableBytes { try read(at: gpa, into: $0) } }
        return result
    }

    /// A little-endian integer at `gpa` (virtio is little-endian on every modern device).
    public func load<T: FixedWidthInteger>(_: T.Type = T.self, at gpa: GuestPhysicalAddress) throws(MemoryError) -> T {
        var value: T = 0
        try rethrowing(MemoryError.self) { try withUnsafeMutableBytes(of: &value) { try read(at: gpa, into: $0) } }
        return T(littleEndian: value)
    }
}
