/// One 9P2000.L message (size u32, type u8, tag u16, then the type's fields; little-endian,
/// strings as u16 length + bytes, qids 13 bytes): the header and the main fields of the messages
/// a Linux client sends most.
public struct NinePMessage: Sendable, Hashable {
    /// A qid: the server's identity of a file (type, version, path).
    public struct Qid: Sendable, Hashable, CustomStringConvertible {
        public var type: UInt8
        public var version: UInt32
        public var path: UInt64

        /// `dir:0x1c2a` (`dir`, `symlink`, `file`... from the type bits, then the path).
        public var description: String {
            let kind = type & 0x80 != 0 ? "dir" : type & 0x02 != 0 ? "symlink" : type & 0x04 != 0 ? "auth" : "file"
            return kind + ":0x" + String(path, radix: 16)
        }
    }

    /// The fields decoded for the message's type.
    public enum Body: Sendable, Hashable {
        case version(msize: UInt32, version: String)
        case attach(fid: UInt32, afid: UInt32, uname: String, aname: String, numericUname: UInt32?)
        /// Twalk: `names` holds the first names (at most ``maxNamesShown``), `nameCount` all.
        case walk(fid: UInt32, newfid: UInt32, nameCount: UInt16, names: [String])
        case walkReply(qidCount: UInt16)
        case lopen(fid: UInt32, flags: UInt32)
        case qidReply(qid: Qid, iounit: UInt32?)
        case read(fid: UInt32, offset: UInt64, count: UInt32)
        case write(fid: UInt32, offset: UInt64, count: UInt32)
        case readdir(fid: UInt32, offset: UInt64, count: UInt32)
        /// Rread, Rwrite, Rreaddir: the byte count.
        case countReply(count: UInt32)
        case getattr(fid: UInt32, mask: UInt64)
        case getattrReply(valid: UInt64, qid: Qid, mode: UInt32, size: UInt64?)
        case fid(UInt32)
        case flush(oldtag: UInt16)
        case lerror(errno: UInt32)
        /// A type whose fields are not decoded here (or a message with none).
        case other
    }

    /// Most names of a Twalk kept (9P's MAXWELEM is 16).
    public static let maxNamesShown = 16
    /// The header: size, type, tag.
    public static let headerSize = 7

    /// The size the message claims for itself, header included.
    public var size: UInt32
    public var type: NinePMessageType
    public var tag: UInt16
    /// The fields, as far as the bytes held them.
    public var body: Body
    /// A size smaller than the header, or past the buffer; fields cut short.
    public var defect: PayloadDefect?

    /// Decodes the message at the start of `bytes` (the first bytes of a buffer of `bufferLength`
    /// bytes in all, for checking the size field); nil when there are fewer than 7 bytes.
    public init?(_ bytes: [UInt8], bufferLength: UInt64? = nil) {
        var r = PayloadReader(bytes)
        guard let size = r.u32(), let type = r.u8(), let tag = r.u16() else { return nil }
        self.size = size
        self.type = NinePMessageType(rawValue: type)
        self.tag = tag
        body = .other
        if size < UInt32(Self.headerSize) {
            defect = .malformed("size \(size) is smaller than the 7-byte header")
        } else if let bufferLength, UInt64(size) > bufferLength {
            defect = .malformed("size \(size) is past the \(bufferLength)-byte buffer")
        }
        // The fields stop at the message's size, or at the bytes held, whichever comes first.
        var fields = PayloadReader(Array(bytes.prefix(max(Self.headerSize, Int(min(size, UInt32(clamping: bytes.count)))))), from: Self.headerSize)
        if let body = Self.body(of: self.type, &fields) {
            self.body = body
        } else if defect == nil {
            defect = UInt64(size) > UInt64(bytes.count)
                ? .truncated(needed: Int(size), present: bytes.count)
                : .malformed("\(self.type) fields run past its size \(size)")
        }
    }

    /// The fields of a message of `type`, or nil when the bytes stop inside them.
    private static func body(of type: NinePMessageType, _ r: inout PayloadReader) -> Body? {
        switch type.rawValue {
        case 100, 101:
            guard let msize = r.u32(), let version = string(&r) else { return nil }
            return .version(msize: msize, version: version)
        case 104:
            guard let fid = r.u32(), let afid = r.u32(), let uname = string(&r), let aname = string(&r) else { return nil }
            return .attach(fid: fid, afid: afid, uname: uname, aname: aname, numericUname: r.u32())
        case 110:
            guard let fid = r.u32(), let newfid = r.u32(), let count = r.u16() else { return nil }
            var names: [String] = []
            for _ in 0..<min(Int(count), maxNamesShown) {
                guard let name = string(&r) else { return nil }
                names.append(name)
            }
            return .walk(fid: fid, newfid: newfid, nameCount: count, names: names)
        case 111:
            guard let count = r.u16() else { return nil }
            guard r.remaining >= 13 * min(Int(count), maxNamesShown) else { return nil }
            return .walkReply(qidCount: count)
        case 12:
            guard let fid = r.u32(), let flags = r.u32() else { return nil }
            return .lopen(fid: fid, flags: flags)
        case 13, 15:
            guard let qid = qid(&r), let iounit = r.u32() else { return nil }
            return .qidReply(qid: qid, iounit: iounit)
        case 105, 17, 19, 73:
            guard let qid = qid(&r) else { return nil }
            return .qidReply(qid: qid, iounit: nil)
        case 116, 118, 40:
            guard let fid = r.u32(), let offset = r.u64(), let count = r.u32() else { return nil }
            return type.rawValue == 116 ? .read(fid: fid, offset: offset, count: count)
                : type.rawValue == 118 ? .write(fid: fid, offset: offset, count: count) : .readdir(fid: fid, offset: offset, count: count)
        case 117, 119, 41:
            guard let count = r.u32() else { return nil }
            return .countReply(count: count)
        case 24:
            guard let fid = r.u32(), let mask = r.u64() else { return nil }
            return .getattr(fid: fid, mask: mask)
        case 25:
            guard let valid = r.u64(), let qid = qid(&r), let mode = r.u32() else { return nil }
            // uid, gid, nlink, rdev come before size.
            let size = r.skip(4 + 4 + 8 + 8) ? r.u64() : nil
            return .getattrReply(valid: valid, qid: qid, mode: mode, size: size)
        case 120, 122, 50, 8:
            guard let fid = r.u32() else { return nil }
            return .fid(fid)
        case 108:
            guard let oldtag = r.u16() else { return nil }
            return .flush(oldtag: oldtag)
        case 7:
            guard let errno = r.u32() else { return nil }
            return .lerror(errno: errno)
        default:
            return .other
        }
    }

    /// A 9P string (u16 length, bytes) for people; nil when its bytes are not all there.
    private static func string(_ r: inout PayloadReader) -> String? {
        guard let length = r.u16(), let bytes = r.take(Int(length)) else { return nil }
        return PayloadReader.printable(bytes, limit: 40)
    }

    private static func qid(_ r: inout PayloadReader) -> Qid? {
        guard let type = r.u8(), let version = r.u32(), let path = r.u64() else { return nil }
        return Qid(type: type, version: version, path: path)
    }

    /// Characters of a summary's fields: a request and its reply fit one line together.
    static let fieldsBudget = 90

    /// `Twalk tag 1 fid 0 newfid 1 "usr"/"lib"`, `Rlerror tag 3 ENOENT`.
    public var summary: String {
        var fields = self.fields
        if fields.count > Self.fieldsBudget { fields = String(fields.prefix(Self.fieldsBudget - 1)) + "…" }
        var s = "\(type) tag \(tag)" + fields
        if let defect { s += " (\(defect))" }
        return s
    }

    /// The decoded fields for people, each with a leading space.
    private var fields: String {
        var s = ""
        switch body {
        case .version(let msize, let version): s += " msize \(msize) \"\(version)\""
        case .attach(let fid, let afid, let uname, let aname, let n):
            s += " fid \(fid) afid \(afid == UInt32.max ? "NOFID" : String(afid)) uname \"\(uname)\" aname \"\(aname)\""
            if let n, n != UInt32.max { s += " n_uname \(n)" }
        case .walk(let fid, let newfid, let count, let names):
            s += " fid \(fid) newfid \(newfid) "
            if count == 0 { s += "(clone)" }
            // As many names as fit a line (9P allows 16 of up to 64 KiB each).
            var path = "", shown = 0
            for name in names where path.count + name.count < 60 {
                path += (shown == 0 ? "" : "/") + "\"\(name)\""
                shown += 1
            }
            s += path
            if Int(count) > shown { s += " …\(count) names" }
        case .walkReply(let count): s += " \(count) qid\(count == 1 ? "" : "s")"
        case .lopen(let fid, let flags): s += " fid \(fid) flags 0x" + String(flags, radix: 16)
        case .qidReply(let qid, let iounit): s += " qid \(qid)" + (iounit.map { " iounit \($0)" } ?? "")
        case .read(let fid, let offset, let count), .write(let fid, let offset, let count), .readdir(let fid, let offset, let count):
            s += " fid \(fid) offset \(offset) count \(count)"
        case .countReply(let count): s += " count \(count)"
        case .getattr(let fid, let mask): s += " fid \(fid) mask 0x" + String(mask, radix: 16)
        case .getattrReply(let valid, let qid, let mode, let size):
            s += " valid 0x" + String(valid, radix: 16) + " qid \(qid) mode 0" + String(mode, radix: 8) + (size.map { " size \($0)" } ?? "")
        case .fid(let fid): s += " fid \(fid)"
        case .flush(let oldtag): s += " oldtag \(oldtag)"
        case .lerror(let errno): s += " " + LinuxErrorName.name(Int64(errno))
        case .other: break
        }
        return s
    }
}
