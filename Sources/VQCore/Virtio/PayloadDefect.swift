/// What is wrong with a device message a decoder was given: too short for its fields, or fields
/// that contradict each other or the buffer. A decoder names it instead of trapping or guessing.
public enum PayloadDefect: Sendable, Hashable, CustomStringConvertible {
    /// The message needs `needed` bytes for its fields but only `present` were there.
    case truncated(needed: Int, present: Int)
    /// The message's fields make no sense (a size smaller than its header, a count past its bytes).
    case malformed(String)

    public var description: String {
        switch self {
        case .truncated(let needed, let present): return "truncated: \(present) of \(needed) bytes"
        case .malformed(let why): return "malformed: \(why)"
        }
    }
}
