/// A FUSE operation code (Linux include/uapi/linux/fuse.h, `enum fuse_opcode`), as virtio-fs
/// requests carry it.
public struct FUSEOpcode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let read = FUSEOpcode(rawValue: 15)
    public static let write = FUSEOpcode(rawValue: 16)

    /// `LOOKUP`, `READ`, `SETUPMAPPING`...; `opcode 99` for a number without a name.
    public var description: String {
        if rawValue == 4096 { return "CUSE_INIT" }
        if Int(rawValue) < Self.names.count, let name = Self.names[Int(rawValue)] { return name }
        return "opcode \(rawValue)"
    }

    private static let names: [String?] = [
        nil, "LOOKUP", "FORGET", "GETATTR", "SETATTR", "READLINK", "SYMLINK", nil, "MKNOD", "MKDIR",
        "UNLINK", "RMDIR", "RENAME", "LINK", "OPEN", "READ", "WRITE", "STATFS", "RELEASE", nil,
        "FSYNC", "SETXATTR", "GETXATTR", "LISTXATTR", "REMOVEXATTR", "FLUSH", "INIT", "OPENDIR", "READDIR", "RELEASEDIR",
        "FSYNCDIR", "GETLK", "SETLK", "SETLKW", "ACCESS", "CREATE", "INTERRUPT", "BMAP", "DESTROY", "IOCTL",
        "POLL", "NOTIFY_REPLY", "BATCH_FORGET", "FALLOCATE", "READDIRPLUS", "RENAME2", "LSEEK", "COPY_FILE_RANGE",
        "SETUPMAPPING", "REMOVEMAPPING", "SYNCFS", "TMPFILE", "STATX",
    ]
}
