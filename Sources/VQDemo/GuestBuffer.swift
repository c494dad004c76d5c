/// One buffer of a descriptor chain: where it lies in guest-physical memory, how long it is, and
/// whether the device writes it (VIRTQ_DESC_F_WRITE) or reads it.
struct GuestBuffer: Hashable, Sendable {
    var address: UInt64
    var length: UInt32
    var deviceWritable: Bool

    /// A buffer the device reads.
    static func readable(_ address: UInt64, _ length: Int) -> GuestBuffer {
        GuestBuffer(address: address, length: UInt32(length), deviceWritable: false)
    }

    /// A buffer the device writes.
    static func writable(_ address: UInt64, _ length: Int) -> GuestBuffer {
        GuestBuffer(address: address, length: UInt32(length), deviceWritable: true)
    }
}

/// A chain the device half of a queue took from the ring: the identifier it returns the chain by
/// (the head descriptor of a split ring, the buffer ID of a packed one) and its buffers in order.
struct FetchedChain: Hashable, Sendable {
    var id: UInt16
    var buffers: [GuestBuffer]

    /// The chain's device-writable buffers, in order.
    var writable: [GuestBuffer] { buffers.filter(\.deviceWritable) }
    /// The chain's device-readable buffers, in order.
    var readable: [GuestBuffer] { buffers.filter { !$0.deviceWritable } }
}

/// A chain the driver half got back from the device: the driver's own token for it and the length
/// the device wrote.
struct ReclaimedChain: Hashable, Sendable {
    var token: Int
    var length: UInt32
}
