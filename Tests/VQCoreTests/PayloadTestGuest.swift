import VQCore

/// A small guest for payload decoder tests: 64 KiB of RAM at guest-physical 0, buffers written
/// into it, and the chain that names them.
struct PayloadTestGuest {
    /// One buffer of the chain: where it is, what it holds, its length (at least the bytes), and
    /// whether the device may write it.
    struct Buffer {
        var address: UInt64
        var bytes: [UInt8]
        var length: UInt32
        var writable: Bool

        init(at address: UInt64, _ bytes: [UInt8], length: UInt32? = nil, writable: Bool = false) {
            self.address = address
            self.bytes = bytes
            self.length = length ?? UInt32(bytes.count)
            self.writable = writable
        }
    }

    static let host: UInt64 = 0x7f00_0000_0000
    static let ramSize = 0x10000

    let memory: GuestMemory
    let chain: Chain

    init(_ buffers: [Buffer]) {
        var ram = BufferMemory(base: Self.host, count: Self.ramSize)
        for b in buffers where b.address + UInt64(b.bytes.count) <= UInt64(Self.ramSize) {
            ram.bytes.replaceSubrange(Int(b.address)..<Int(b.address) + b.bytes.count, with: b.bytes)
        }
        let map = try! SlotMap(slots: [MemorySlot(guest: GuestPhysicalAddress(0), size: UInt64(Self.ramSize), host: Self.host, name: "pc.ram")])
        memory = GuestMemory(map: map, reader: ram)
        let elements = buffers.enumerated().map { i, b in
            Chain.Element(index: UInt16(i), address: GuestPhysicalAddress(b.address), length: b.length, isWritable: b.writable)
        }
        chain = Chain(head: 0, elements: elements,
                      readableBytes: elements.filter { !$0.isWritable }.reduce(0) { $0 + UInt64($1.length) },
                      writableBytes: elements.filter(\.isWritable).reduce(0) { $0 + UInt64($1.length) }, ringDescriptors: elements.count)
    }

    /// What `PayloadDecoder` makes of the chain for queue `index` of `device`.
    func decode(_ device: String, queue index: Int, queueCount: Int = 4, completed: UInt32? = nil,
                features: VirtioFeatures = [.version1]) -> DevicePayload? {
        PayloadDecoder.decode(chain, device: device, queueIndex: index, queueCount: queueCount, memory: memory,
                              completedLength: completed, features: features)
    }
}

/// Little-endian bytes of integers, for building device messages by hand.
enum LE {
    static func u16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8)] }
    static func u32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    static func u64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
}
