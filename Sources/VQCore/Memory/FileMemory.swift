/// Reads a file by offset: the backend of memory images (an ELF dump, a raw RAM file).
/// The file is opened read-only; offsets past its end throw `.backingUnmapped`.
public final class FileMemory: MemoryReader, Sendable {
    public let path: String
    /// The file's size, or `nil` for files whose size says nothing (`/proc/PID/pagemap`).
    public let size: UInt64?
    private let fd: Int32

    /// Opens `path` read-only. `bounded: false` reads files whose `stat` size is meaningless.
    public init(path: String, bounded: Bool = true) throws(TargetError) {
        switch Sys.openReadOnly(path) {
        case .failure(let code): throw .cannotOpen(path: path, errno: code.rawValue)
        case .success(let fd):
            self.fd = fd
            self.path = path
            self.size = bounded ? (Sys.fileSize(fd) ?? 0) : nil
        }
    }

    deinit { Sys.close(fd) }

    public func read(_ requests: UnsafeMutableBufferPointer<MemoryReadRequest>) throws(MemoryError) {
        for r in requests { if let error = read(r) { throw error } }
    }

    /// One `pread` a request (that is what a file costs anyway), each failure its own.
    public func readEach(_ requests: UnsafeMutableBufferPointer<MemoryReadRequest>) -> [MemoryError?] {
        requests.map(read)
    }

    /// Reads one request; why it failed, or nil.
    private func read(_ r: MemoryReadRequest) -> MemoryError? {
        guard r.buffer.count > 0 else { return nil }
        if let size, !(r.address < size && UInt64(r.buffer.count) <= size - r.address) {
            return .backingUnmapped(r.address)
        }
        switch Sys.pread(fd, r.buffer, at: r.address) {
        case .success(let n) where n == r.buffer.count: return nil
        case .success(let n): return .backingUnmapped(r.address + UInt64(n))
        case .failure(let code): return .system(call: "pread \(path)", errno: code.rawValue)
        }
    }
}
