import VQCore

/// A command's arguments, checked as QEMU's QAPI visitors check them.
struct Arguments: Sendable {
    let object: JSON

    init(_ object: JSON) { self.object = object }

    /// Refuses any member not in `names`.
    func allow(_ names: [String]) throws(QMPFailure) {
        guard case .object(let members) = object else { return }
        for (key, _) in members where !names.contains(key) {
            throw QMPFailure(.generic, "Parameter '\(key)' is unexpected")
        }
    }

    func string(_ name: String) throws(QMPFailure) -> String {
        guard let value = object[name] else { throw QMPFailure(.generic, "Parameter '\(name)' is missing") }
        guard let text = value.string else { throw QMPFailure(.generic, "Invalid parameter type for '\(name)', expected: string") }
        return text
    }

    func integer(_ name: String, in range: ClosedRange<Int>) throws(QMPFailure) -> Int {
        guard let value = object[name] else { throw QMPFailure(.generic, "Parameter '\(name)' is missing") }
        guard value.isInteger else { throw QMPFailure(.generic, "Invalid parameter type for '\(name)', expected: integer") }
        guard let number = value.int, range.contains(number) else {
            throw QMPFailure(.generic, "Parameter '\(name)' expects uint\(range.upperBound > 255 ? 16 : 8)")
        }
        return number
    }
}
