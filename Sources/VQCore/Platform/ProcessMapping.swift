/// One line of `/proc/PID/maps`: a range of a process's virtual memory and what backs it.
public struct ProcessMapping: Hashable, Sendable {
    public var start: UInt64
    public var end: UInt64
    public var readable: Bool
    public var writable: Bool
    public var executable: Bool
    /// `s` (shared) rather than `p` (private, copy-on-write).
    public var shared: Bool
    public var offset: UInt64
    public var inode: UInt64
    /// The file, `[heap]`, `[stack]`..., or empty for anonymous memory.
    public var path: String
    /// The file's device (`00:01`), which with ``inode`` names the file (two processes that map the
    /// same device and inode share its memory).
    public var device: String = ""

    public var size: UInt64 { end - start }
    public var isAnonymous: Bool { path.isEmpty || path == "[heap]" || path.hasPrefix("/memfd:") || path.hasPrefix("[anon") }

    public func contains(_ address: UInt64) -> Bool { address >= start && address < end }

    /// Parses the text of `/proc/PID/maps`; lines that do not parse are skipped.
    public static func parse(_ text: String) -> [ProcessMapping] {
        text.split(whereSeparator: \.isNewline).compactMap(parse(line:))
    }

    /// Parses one line: `7f00-7f80 rw-p 00000000 00:00 0   [heap]`.
    public static func parse<S: StringProtocol>(line: S) -> ProcessMapping? {
        var fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
        guard fields.count >= 5 else { return nil }
        let range = fields[0].split(separator: "-")
        let perms = Array(fields[1].utf8)
        guard range.count == 2,
              let start = UInt64(range[0], radix: 16), let end = UInt64(range[1], radix: 16), start < end,
              perms.count == 4,
              let offset = UInt64(fields[2], radix: 16),
              let inode = UInt64(fields[4])
        else { return nil }
        let path = fields.count > 5 ? String(fields.removeLast()).trimmingSpaces : ""
        return ProcessMapping(start: start, end: end,
                              readable: perms[0] == UInt8(ascii: "r"), writable: perms[1] == UInt8(ascii: "w"),
                              executable: perms[2] == UInt8(ascii: "x"), shared: perms[3] == UInt8(ascii: "s"),
                              offset: offset, inode: inode, path: path, device: String(fields[3]))
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" || s.last == "\n" { s = s.dropLast() }
        return String(s)
    }
}
