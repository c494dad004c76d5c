/// Where QEMU's `VirtQueueElement` (include/hw/virtio/virtio.h) keeps the fields the eBPF probes
/// read, in bytes. The probes' first pops are checked against the rings (``ProbeSession/check(_:ring:)``): a
/// layout that gives impossible heads or counts is refused.
public struct VirtQueueElementLayout: Sendable, Hashable {
    public var index: UInt32
    public var outCount: UInt32
    public var inCount: UInt32
    public var inAddresses: UInt32
    public var outAddresses: UInt32
    public var inVectors: UInt32
    public var outVectors: UInt32

    public init(index: UInt32, outCount: UInt32, inCount: UInt32, inAddresses: UInt32, outAddresses: UInt32, inVectors: UInt32, outVectors: UInt32) {
        self.index = index
        self.outCount = outCount
        self.inCount = inCount
        self.inAddresses = inAddresses
        self.outAddresses = outAddresses
        self.inVectors = inVectors
        self.outVectors = outVectors
    }

    /// QEMU 7.2: index, len, ndescs, out_num, in_num (unsigned ints), then in_addr, out_addr
    /// (hwaddr *), in_sg, out_sg (struct iovec *).
    public static let qemu7 = VirtQueueElementLayout(index: 0, outCount: 12, inCount: 16, inAddresses: 24, outAddresses: 32, inVectors: 40, outVectors: 48)
}
