/// A QEMU option value as `(key, value)` pairs, in either of the two syntaxes QEMU reads:
///
/// - `key=value,key=value` (`,,` escapes a comma), with the first bare word bound to an implied
///   key (`-machine q35,accel=kvm` → `type=q35`) and later bare words taken as flags (`on`);
/// - JSON, for a value that starts with `{` (`-object {"qom-type":"memory-backend-ram","id":"pc.ram","size":268435456}`,
///   as libvirt writes `-object`, `-device`, `-blockdev`, `-netdev`): each member is a pair,
///   numbers as decimal text, `true`/`false` as `on`/`off`, nested objects and arrays flattened to
///   dotted keys as QEMU's key=value syntax writes them (`file.driver`, `cpus.0`), `null` left out.
///   The implied key needs no binding: its JSON member has the same name (`qom-type`, `driver`).
///   JSON that does not parse, or is not an object, gives no pairs (QEMU refuses it).
public struct QEMUOptions: Hashable, Sendable {
    public private(set) var pairs: [(String, String)] = []
    /// Which syntax the value was written in.
    public let syntax: Syntax

    /// The syntax of an option value.
    public enum Syntax: Hashable, Sendable {
        /// `key=value,...`.
        case keyValue
        /// A JSON object.
        case json
        /// Starts with `{` but is not a JSON object.
        case invalidJSON
    }

    public init(_ text: String, impliedKey: String? = nil) {
        if text.hasPrefix("{") {
            guard case .object(let members)? = try? JSON.parse(text) else {
                syntax = .invalidJSON
                return
            }
            syntax = .json
            for (key, value) in members { Self.flatten(value, key: key, into: &pairs) }
            return
        }
        syntax = .keyValue
        var parts: [String] = []
        var current = ""
        var chars = Array(text)
        var i = 0
        while i < chars.count {
            if chars[i] == "," {
                if i + 1 < chars.count, chars[i + 1] == "," { current.append(","); i += 2; continue }
                parts.append(current); current = ""
            } else {
                current.append(chars[i])
            }
            i += 1
        }
        parts.append(current)
        chars.removeAll()
        for (index, part) in parts.enumerated() where !part.isEmpty {
            if let eq = part.firstIndex(of: "=") {
                pairs.append((String(part[..<eq]), String(part[part.index(after: eq)...])))
            } else if index == 0, let impliedKey {
                pairs.append((impliedKey, part))
            } else {
                pairs.append((part, "on"))  // QEMU's bare flags: `server`, `share`
            }
        }
    }

    /// A JSON member as key=value pairs: scalars as QEMU's key=value syntax writes them, containers
    /// flattened under dotted keys.
    private static func flatten(_ value: JSON, key: String, into pairs: inout [(String, String)]) {
        switch value {
        case .null: break
        case .bool(let b): pairs.append((key, b ? "on" : "off"))
        case .int(let i): pairs.append((key, String(i)))
        case .uint(let u): pairs.append((key, String(u)))
        case .double(let d): pairs.append((key, "\(d)"))
        case .string(let s): pairs.append((key, s))
        case .array(let items):
            for (index, item) in items.enumerated() { flatten(item, key: key + "." + String(index), into: &pairs) }
        case .object(let members):
            for (member, item) in members { flatten(item, key: key + "." + member, into: &pairs) }
        }
    }

    /// The last value given for `key` (QEMU lets later ones win).
    public subscript(key: String) -> String? {
        pairs.last(where: { $0.0 == key })?.1
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.pairs.elementsEqual(b.pairs) { $0 == $1 }
    }

    public func hash(into hasher: inout Hasher) {
        for (k, v) in pairs { hasher.combine(k); hasher.combine(v) }
    }
}
