/// A QEMU option value in QEMU's `key=value,key=value` syntax (`,,` escapes a comma), with the
/// first bare word bound to an implied key (`-machine q35,accel=kvm` → `type=q35`).
public struct QEMUOptions: Hashable, Sendable {
    public private(set) var pairs: [(String, String)] = []

    public init(_ text: String, impliedKey: String? = nil) {
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
