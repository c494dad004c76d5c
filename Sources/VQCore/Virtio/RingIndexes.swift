/// The driver's and the device's free-running ring indexes, read straight from guest memory in one
/// batched read: `avail.idx` and `used.idx` of a split ring. A packed ring keeps no such words in
/// memory (its positions live in the drivers' and devices' private state), so both are `nil`.
public struct RingIndexes: Sendable, Hashable {
    public var available: UInt16?
    public var used: UInt16?

    public init(available: UInt16?, used: UInt16?) {
        self.available = available
        self.used = used
    }

    public static func read(_ location: VirtqueueLocation, from memory: GuestMemory) throws(MemoryError) -> RingIndexes {
        guard location.layout == .split else { return RingIndexes(available: nil, used: nil) }
        var avail: UInt16 = 0, used: UInt16 = 0
        try rethrowing(MemoryError.self) {
            try withUnsafeMutableBytes(of: &avail) { a in
                try withUnsafeMutableBytes(of: &used) { u in
                    try memory.read([(location.driverArea.advanced(by: 2) ?? location.driverArea, a),
                                     (location.deviceArea.advanced(by: 2) ?? location.deviceArea, u)])
                }
            }
        }
        return RingIndexes(available: UInt16(littleEndian: avail), used: UInt16(littleEndian: used))
    }
}
