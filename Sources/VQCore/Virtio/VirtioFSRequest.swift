/// A virtio-fs request (virtio 1.2, 5.11.6): a FUSE request the driver writes in the
/// device-readable part (`fuse_in_header`: len, opcode, unique, nodeid, uid, gid, pid, then the
/// operation's arguments) and, once the device used the chain, the reply in the device-writable
/// part (`fuse_out_header`: len, error, unique). READ and WRITE also show their file handle,
/// offset and size (`fuse_read_in`, `fuse_write_in`).
public struct VirtioFSRequest: Sendable, Hashable {
    /// `fuse_in_header`.
    public struct InHeader: Sendable, Hashable {
        public var length: UInt32
        public var opcode: FUSEOpcode
        public var unique: UInt64
        public var nodeID: UInt64
        public var uid: UInt32
        public var gid: UInt32
        public var pid: UInt32
    }

    /// `fuse_out_header`.
    public struct OutHeader: Sendable, Hashable {
        public var length: UInt32
        /// 0, or a negative Linux errno.
        public var error: Int32
        public var unique: UInt64
    }

    /// READ's or WRITE's arguments.
    public struct ReadWrite: Sendable, Hashable {
        public var fileHandle: UInt64
        public var offset: UInt64
        public var size: UInt32

        public init(fileHandle: UInt64, offset: UInt64, size: UInt32) {
            self.fileHandle = fileHandle
            self.offset = offset
            self.size = size
        }
    }

    /// `fuse_in_header`'s size.
    public static let inHeaderSize = 40
    /// `fuse_out_header`'s size.
    public static let outHeaderSize = 16

    public var request: InHeader?
    public var readWrite: ReadWrite?
    public var reply: OutHeader?
    /// Whether the device used the chain.
    public var completed: Bool
    /// A header too short, a length field smaller than its header or past its part of the chain,
    /// a reply for another request.
    public var defect: PayloadDefect?

    /// Decodes the request from the first readable bytes (`readableLength` in all) and the reply
    /// from the first bytes the device wrote (`written`, nil while in flight; `writtenLength` in all).
    public init(readable: [UInt8], readableLength: UInt64, written: [UInt8]?, writtenLength: UInt64) {
        completed = written != nil
        var r = PayloadReader(readable)
        if let len = r.u32(), let opcode = r.u32(), let unique = r.u64(), let node = r.u64(), let uid = r.u32(), let gid = r.u32(),
           let pid = r.u32(), r.skip(4) {
            let header = InHeader(length: len, opcode: FUSEOpcode(rawValue: opcode), unique: unique, nodeID: node, uid: uid, gid: gid, pid: pid)
            request = header
            if header.opcode == .read || header.opcode == .write, let fh = r.u64(), let offset = r.u64(), let size = r.u32() {
                readWrite = ReadWrite(fileHandle: fh, offset: offset, size: size)
            }
            if len < UInt32(Self.inHeaderSize) {
                defect = .malformed("len \(len) is smaller than the 40-byte header")
            } else if UInt64(len) > readableLength {
                defect = .malformed("len \(len) is past the request's \(readableLength) bytes")
            }
        } else {
            defect = .truncated(needed: Self.inHeaderSize, present: readable.count)
        }
        guard let written else { return }
        var w = PayloadReader(written)
        guard let len = w.u32(), let error = w.u32(), let unique = w.u64() else {
            defect = defect ?? .truncated(needed: Self.outHeaderSize, present: written.count)
            return
        }
        reply = OutHeader(length: len, error: Int32(bitPattern: error), unique: unique)
        if let request, request.unique != unique {
            defect = defect ?? .malformed("reply unique \(unique) is not the request's \(request.unique)")
        } else if UInt64(len) > writtenLength {
            defect = defect ?? .malformed("reply len \(len) is past the \(writtenLength) bytes written")
        }
    }

    /// `fuse READ unique 42 node 5 uid 0 gid 0 pid 311 fh 1 offset 0 size 4096 → ok 4112 bytes`,
    /// `… → ENOENT`.
    public var summary: String {
        var s = "fuse"
        if let request {
            s += " \(request.opcode) unique \(request.unique) node \(request.nodeID) uid \(request.uid) gid \(request.gid) pid \(request.pid)"
            if let rw = readWrite { s += " fh \(rw.fileHandle) offset \(rw.offset) size \(rw.size)" }
        }
        if let reply {
            s += " → " + (reply.error == 0 ? "ok \(reply.length) bytes" : LinuxErrorName.name(-Int64(reply.error)))
        } else if completed {
            s += " → (no reply header)"
        }
        if let defect { s += " (\(defect))" }
        return s
    }
}
