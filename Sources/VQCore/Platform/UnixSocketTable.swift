/// The Unix sockets of a network namespace, from `/proc/PID/net/unix`: which path each socket
/// inode is bound to. A process's `/proc/PID/fd/N` names a socket only by inode
/// (`socket:[33048]`); this table gives its path, for a listening socket and for each connection
/// accepted on it alike.
public struct UnixSocketTable: Hashable, Sendable {
    /// Bound path by socket inode; abstract sockets start with `@`.
    public var paths: [UInt64: String]

    /// Parses `/proc/net/unix`: a header line, then `Num RefCount Protocol Flags Type St Inode Path`
    /// per socket, the path (which may hold spaces) last and absent for an unbound socket.
    ///
    /// The kernel writes a path's bytes as they are, newlines too, so anyone who binds a socket can
    /// add lines that look like other sockets. A real inode has one line: an inode on two lines is
    /// left out rather than believed.
    public init(parsing text: String) {
        paths = [:]
        var seen: Set<UInt64> = []
        var repeated: Set<UInt64> = []
        for line in text.split(separator: "\n").dropFirst() {
            var rest = Substring(line)
            var fields: [Substring] = []
            while fields.count < 7 {
                rest = rest.drop(while: { $0 == " " })
                guard let end = rest.firstIndex(of: " ") else { fields.append(rest); rest = ""; break }
                fields.append(rest[..<end])
                rest = rest[end...]
            }
            let path = rest.dropFirst()  // the one space the kernel writes before a path
            guard fields.count == 7, let inode = UInt64(fields[6]), inode != 0 else { continue }
            if !seen.insert(inode).inserted {
                repeated.insert(inode)
            } else if !path.isEmpty {
                paths[inode] = String(path)
            }
        }
        for inode in repeated { paths[inode] = nil }
    }

    /// The socket inode a `/proc/PID/fd/N` link names (`socket:[33048]` → 33048), or nil for
    /// anything that is not a socket.
    public static func socketInode(link: String) -> UInt64? {
        guard link.hasPrefix("socket:["), link.hasSuffix("]") else { return nil }
        return UInt64(link.dropFirst("socket:[".count).dropLast())
    }

    /// The table of the network namespace process `pid` is in, or nil if it cannot be read.
    public static func of(pid: Int32) -> UnixSocketTable? {
        guard case .success(let bytes) = Sys.readFile("/proc/\(pid)/net/unix") else { return nil }
        return UnixSocketTable(parsing: String(decoding: bytes, as: UTF8.self))
    }
}
