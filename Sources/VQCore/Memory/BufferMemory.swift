/// A ``MemoryReader`` over bytes held in memory: the backend of unit tests, fuzzing and examples.
/// Addresses run from `base` to `base + bytes.count`; anything outside throws `.backingUnmapped`.
public struct BufferMemory: MemoryReader, Sendable {
    public var base: UInt64
    public var bytes: [UInt8]

    public init(base: UInt64 = 0, bytes: [UInt8]) {
        self.base = base
        self.bytes = bytes
    }

    /// A zero-filled buffer of `count` bytes at `base`.
    public init(base: UInt64 = 0, count: Int) {
        self.init(base: base, bytes: [UInt8](repeating: 0, count: count))
    }

    public func read(_ requests: UnsafeMutableBufferPointer<MemoryReadRequest>) throws(MemoryError) {
        for request in requests {
            let count = UInt64(request.buffer.count)
            guard request.address >= base else { throw .backingUnmapped(request.address) }
            let offset = request.address - base
            guard offset <= UInt64(bytes.count), count <= UInt64(bytes.count) - offset else {
                throw .backingUnmapped(request.address)
            }
            bytes.withUnsafeBytes { source in
                request.buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[Int(offset)..<Int(offset + count)]))
            }
        }
    }

    /// Stores `value` little-endian at `address` (test set-up; the buffer is the test's own).
    public mutating func store<T: FixedWidthInteger>(_ value: T, at address: UInt64) {
        var little = value.littleEndian
        withUnsafeBytes(of: &little) { raw in
            let start = Int(address - base)
            for (i, byte) in raw.enumerated() { bytes[start + i] = byte }
        }
    }

    /// Stores `data` at `address`.
    public mutating func store(_ data: [UInt8], at address: UInt64) {
        let start = Int(address - base)
        bytes.replaceSubrange(start..<start + data.count, with: data)
    }
}
