import Glibc
import Synchronization
import VQCore

/// One block of simulated guest memory: an anonymous private mapping in this process, as QEMU keeps
/// a RAM block (`pc.ram`) or a ROM (`pc.bios`). The only memory the simulated guest writes.
///
/// The mapping sits between two inaccessible guard pages, as QEMU's `qemu_ram_mmap` leaves them, so
/// that the kernel never merges it with a neighbouring mapping: `/proc/PID/maps` shows it as one
/// `rw-p` line of exactly ``size`` bytes, which is how the `maps` slot source finds guest RAM.
///
/// Stores are little-endian (virtio 1.x rings are). Publishing order between stores is the caller's
/// business: ``publish()`` is a release fence, ``acquire()`` an acquire fence.
final class GuestRAM: @unchecked Sendable {
    /// QEMU's name for the block (`pc.ram`, `pc.bios`).
    let name: String
    /// Bytes in the block.
    let size: UInt64
    /// Where the block starts in this process.
    let hostAddress: UInt64
    private let base: UnsafeMutableRawPointer
    private let reservation: (start: UnsafeMutableRawPointer, length: Int)

    static let pageSize: UInt64 = 4096

    /// Maps `size` bytes (a whole number of pages) of zeroed memory named `name`.
    init(name: String, size: UInt64) throws(DemoError) {
        guard size > 0, size % Self.pageSize == 0, size <= 1 << 40 else {
            throw .invalidConfiguration("a memory block must be a positive whole number of pages, not \(size) bytes")
        }
        let guardBytes = Int(Self.pageSize)
        let length = Int(size) + 2 * guardBytes
        let reserved = mmap(nil, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let reserved, reserved != MAP_FAILED else {
            throw .system("mmap of \(Hex.humanSize(size)) for \(name)", errno)
        }
        let inside = reserved + guardBytes
        let mapped = mmap(inside, Int(size), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0)
        guard let mapped, mapped == inside else {
            let code = errno
            munmap(reserved, length)
            throw .system("mmap of \(Hex.humanSize(size)) for \(name)", code)
        }
        self.name = name
        self.size = size
        self.base = mapped
        self.hostAddress = UInt64(UInt(bitPattern: mapped))
        self.reservation = (reserved, length)
    }

    deinit { munmap(reservation.start, reservation.length) }

    @inline(__always)
    private func pointer(_ offset: UInt64, _ count: Int) -> UnsafeMutableRawPointer {
        precondition(offset <= size && UInt64(count) <= size - offset, "\(name): access at \(Hex.string(offset)) +\(count) is outside the block")
        return base + Int(offset)
    }

    /// Stores `value` little-endian at byte `offset` of the block.
    @inline(__always)
    func store<T: FixedWidthInteger>(_ value: T, at offset: UInt64) {
        pointer(offset, MemoryLayout<T>.size).storeBytes(of: value.littleEndian, as: T.self)
    }

    /// The little-endian integer at byte `offset` of the block.
    @inline(__always)
    func load<T: FixedWidthInteger>(_: T.Type = T.self, at offset: UInt64) -> T {
        T(littleEndian: UnsafeRawPointer(pointer(offset, MemoryLayout<T>.size)).loadUnaligned(as: T.self))
    }

    /// Copies `bytes` to byte `offset` of the block.
    func write(_ bytes: [UInt8], at offset: UInt64) {
        guard !bytes.isEmpty else { return }
        let target = pointer(offset, bytes.count)
        bytes.withUnsafeBytes { target.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    /// `count` bytes from byte `offset` of the block.
    func read(at offset: UInt64, count: Int) -> [UInt8] {
        guard count > 0 else { return [] }
        let source = UnsafeRawPointer(pointer(offset, count))
        return [UInt8](UnsafeRawBufferPointer(start: source, count: count))
    }

    /// Reads one byte of every page in `offset ..< offset + count`, so that the kernel maps them
    /// (to the shared zero page while they are untouched) before anyone looks. Writes nothing.
    func touch(at offset: UInt64, count: Int) {
        guard count > 0 else { return }
        let start = UnsafeRawPointer(pointer(offset, count))
        var page = 0
        var sink: UInt8 = 0
        while page < count {
            sink &+= start.load(fromByteOffset: page, as: UInt8.self)
            page += Int(Self.pageSize)
        }
        withExtendedLifetime(sink) {}
    }

    /// A release fence: every store before it is visible to a reader that sees a store after it.
    /// Put it between writing a ring entry (or descriptor) and publishing its index (or flags).
    @inline(__always)
    static func publish() { atomicMemoryFence(ordering: .releasing) }

    /// An acquire fence: loads after it see at least what was published before the index or flags
    /// loaded before it.
    @inline(__always)
    static func acquire() { atomicMemoryFence(ordering: .acquiring) }
}
