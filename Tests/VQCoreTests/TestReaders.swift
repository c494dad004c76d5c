import VQCore

/// Counts batched reads (each one system call for a live process), to check how many a decoder makes.
final class CountingReader: MemoryReader {
    var inner: BufferMemory
    var calls = 0
    init(_ inner: BufferMemory) { self.inner = inner }
    func read(_ requests: UnsafeMutableBufferPointer<MemoryReadRequest>) throws(MemoryError) {
        calls += 1
        try inner.read(requests)
    }
}

/// Serves reads from a buffer and, after serving a read that covers the two bytes at `watched`,
/// changes them, at most `changes` times: the guest writing while a ring is read.
final class ChangingReader: MemoryReader {
    enum Change {
        /// Flip the USED bit of a packed descriptor's flags word: a device marking it.
        case flipUsedBit
        /// Add 1 to a little-endian u16: a guest index moving.
        case incrementIndex
    }

    var inner: BufferMemory
    let watched: UInt64
    let change: Change
    var changes: Int
    var calls = 0

    init(_ inner: BufferMemory, watched: UInt64, changes: Int, change: Change) {
        self.inner = inner
        self.watched = watched
        self.changes = changes
        self.change = change
    }

    func read(_ requests: UnsafeMutableBufferPointer<MemoryReadRequest>) throws(MemoryError) {
        calls += 1
        for i in requests.indices {
            try inner.read(UnsafeMutableBufferPointer(rebasing: requests[i..<i + 1]))
            let r = requests[i]
            if changes > 0, r.address <= watched, watched + 2 <= r.address + UInt64(r.buffer.count) {
                let offset = Int(watched - inner.base)
                switch change {
                case .flipUsedBit:
                    inner.bytes[offset + 1] ^= 0x80
                case .incrementIndex:
                    let value = UInt16(inner.bytes[offset]) | UInt16(inner.bytes[offset + 1]) << 8
                    inner.store(value &+ 1, at: watched)
                }
                changes -= 1
            }
        }
    }
}
