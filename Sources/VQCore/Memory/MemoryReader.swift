/// One piece of a batched read: `buffer.count` bytes from `address` in a reader's address space.
public struct MemoryReadRequest {
    public var address: UInt64
    public var buffer: UnsafeMutableRawBufferPointer

    @inlinable public init(address: UInt64, buffer: UnsafeMutableRawBufferPointer) {
        self.address = address
        self.buffer = buffer
    }
}

/// Reads bytes from one address space: a live QEMU process's virtual memory, a memory image file,
/// or a buffer in memory. Backends implement the batched read, which either fills every request or
/// throws; everything else (single reads, typed reads, guest-physical reads through a ``SlotMap``)
/// is built on it.
///
/// A complete backend over a byte array:
/// ```swift
/// struct Bytes: MemoryReader {
///     var base: UInt64, bytes: [UInt8]
///     func read(_ requests: UnsafeMutableBufferPointer<MemoryReadRequest>) throws(MemoryError) {
///         for request in requests {
///             guard request.address >= base,
///                   request.address - base + UInt64(request.buffer.count) <= UInt64(bytes.count)
///             else { throw .backingUnmapped(request.address) }
///             let start = Int(request.address - base)
///             bytes[start..<start + request.buffer.count].withUnsafeBytes { request.buffer.copyMemory(from: $0) }
///         }
///     }
/// }
/// ```
/// (``BufferMemory`` is that backend, ready to use.)
public protocol MemoryReader {
    /// Fills every request's buffer from its address, or throws naming the first address that failed.
    /// A reader never writes to its target.
    func read(_ requests: UnsafeMutableBufferPointer<MemoryReadRequest>) throws(MemoryError)

    /// Fills every request it can and says, request by request, why the others were not read
    /// (memflow's `out_fail`): `failures[i]` is `nil` when request `i` was read. The buffers of
    /// failed requests hold anything. Never throws, so that a caller with many independent reads
    /// (indirect tables, page-table pages, page-map entries) gets every answer from one call
    /// instead of retrying one address at a time. The default reads the batch whole and, only
    /// when it fails, each request alone; backends whose batches stop at the first failure
    /// (``ProcessMemory``) go on after it instead.
    func readEach(_ requests: UnsafeMutableBufferPointer<MemoryReadRequest>) -> [MemoryError?]
}

extension MemoryReader {
    public func readEach(_ requests: UnsafeMutableBufferPointer<MemoryReadRequest>) -> [MemoryError?] {
        var failures = [MemoryError?](repeating: nil, count: requests.count)
        do { try read(requests) } catch {
            for i in requests.indices {
                do throws(MemoryError) { try read(UnsafeMutableBufferPointer(rebasing: requests[i...i])) } catch { failures[i] = error }
            }
        }
        return failures
    }
}

extension MemoryReader {
    /// Fills `buffer` from `address`.
    @inlinable
    public func read(at address: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(MemoryError) {
        guard buffer.count > 0 else { return }
        var request = MemoryReadRequest(address: address, buffer: buffer)
        try rethrowing(MemoryError.self) {
            try withUnsafeMutablePointer(to: &request) { try read(UnsafeMutableBufferPointer(start: $0, count: 1)) }
        }
    }

    /// `count` bytes from `address`.
    public func bytes(at address: UInt64, count: Int) throws(MemoryError) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        try rethrowing(MemoryError.self) { try result.withUnsafeMutableBytes { try read(at: address, into: $0) } }
        return result
    }
}
