import VQCore

extension RingProblem {
    /// How a problem is shown: a torn read or an ignored hint is a warning (the guest was busy, or
    /// a caller's guess was off); everything else the ring holds is an error.
    var severity: CellStyle.Role {
        switch self {
        case .torn, .badHint: return .warning
        default: return .error
        }
    }

    /// The mark in front of a problem: `✗` for errors, `!` for warnings.
    var mark: String { severity == .error ? "✗" : "!" }

    /// The descriptor the problem points at, when it points at one.
    var position: DescriptorPosition? {
        switch self {
        case let .loop(_, at), let .nestedIndirect(_, at, _), let .indirectWithNext(_, at), let .indirectInList(_, at),
             let .indirectLength(_, at, _), let .indirectEmpty(_, at), let .indirectTooLarge(_, at, _, _),
             let .indirectUnread(_, at, _, _), let .addressUnmapped(_, at, _, _, _), let .iovaUnmapped(_, at, _, _, _, _),
             let .hugeLength(_, at, _),
             let .zeroLength(_, at), let .readableAfterWritable(_, at), let .chainUnterminated(_, at),
             let .sharedDescriptor(_, at, _):
            return at
        case let .nextOutOfRange(_, from, _, _):
            return from
        default:
            return nil
        }
    }
}

/// Where the problems of a snapshot point, for marking rows.
struct ProblemIndex: Sendable {
    /// Worst severity per descriptor of the queue's own table (or ring slot).
    private(set) var descriptors: [UInt16: CellStyle.Role] = [:]
    /// Worst severity per entry of each indirect table.
    private(set) var tableEntries: [GuestPhysicalAddress: [UInt16: CellStyle.Role]] = [:]

    init(_ problems: [RingProblem]) {
        for problem in problems {
            guard let at = problem.position else { continue }
            if let table = at.table {
                tableEntries[table, default: [:]][at.index] = Self.worse(tableEntries[table]?[at.index], problem.severity)
            } else {
                descriptors[at.index] = Self.worse(descriptors[at.index], problem.severity)
            }
        }
    }

    /// The role of the worst problem at `position`, if any.
    func role(at position: DescriptorPosition) -> CellStyle.Role? {
        if let table = position.table { return tableEntries[table]?[position.index] }
        return descriptors[position.index]
    }

    private static func worse(_ a: CellStyle.Role?, _ b: CellStyle.Role) -> CellStyle.Role {
        a == .error || b == .error ? .error : b
    }
}
