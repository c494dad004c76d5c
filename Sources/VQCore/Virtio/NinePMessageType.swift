/// The type byte of a 9P2000.L message (Linux include/net/9p/9p.h, `enum p9_msg_t`): requests
/// (T) are even, their replies (R) the next odd number.
public struct NinePMessageType: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let rlerror = NinePMessageType(rawValue: 7)
    public static let tlopen = NinePMessageType(rawValue: 12)
    public static let rlopen = NinePMessageType(rawValue: 13)
    public static let tgetattr = NinePMessageType(rawValue: 24)
    public static let rgetattr = NinePMessageType(rawValue: 25)
    public static let treaddir = NinePMessageType(rawValue: 40)
    public static let rreaddir = NinePMessageType(rawValue: 41)
    public static let tversion = NinePMessageType(rawValue: 100)
    public static let rversion = NinePMessageType(rawValue: 101)
    public static let tattach = NinePMessageType(rawValue: 104)
    public static let rattach = NinePMessageType(rawValue: 105)
    public static let rerror = NinePMessageType(rawValue: 107)
    public static let tflush = NinePMessageType(rawValue: 108)
    public static let twalk = NinePMessageType(rawValue: 110)
    public static let rwalk = NinePMessageType(rawValue: 111)
    public static let tread = NinePMessageType(rawValue: 116)
    public static let rread = NinePMessageType(rawValue: 117)
    public static let twrite = NinePMessageType(rawValue: 118)
    public static let rwrite = NinePMessageType(rawValue: 119)
    public static let tclunk = NinePMessageType(rawValue: 120)

    /// Whether 9P2000.L uses this number (as a request or its reply).
    public var isKnown: Bool { Self.bases[rawValue & 0xfe] != nil }

    /// Whether this is a request (T, even) rather than a reply (R, odd).
    public var isRequest: Bool { rawValue & 1 == 0 }

    /// `Twalk`, `Rlerror`...; `type 200` for a number 9P2000.L does not use.
    public var description: String {
        guard let base = Self.bases[rawValue & 0xfe] else { return "type \(rawValue)" }
        return (isRequest ? "T" : "R") + base
    }

    private static let bases: [UInt8: String] = [
        6: "lerror", 8: "statfs", 12: "lopen", 14: "lcreate", 16: "symlink", 18: "mknod", 20: "rename",
        22: "readlink", 24: "getattr", 26: "setattr", 30: "xattrwalk", 32: "xattrcreate", 40: "readdir",
        50: "fsync", 52: "lock", 54: "getlock", 70: "link", 72: "mkdir", 74: "renameat", 76: "unlinkat",
        100: "version", 102: "auth", 104: "attach", 106: "error", 108: "flush", 110: "walk", 112: "open",
        114: "create", 116: "read", 118: "write", 120: "clunk", 122: "remove", 124: "stat", 126: "wstat",
    ]
}
