import VQCore

/// Reads the numbers typed at the `g` and `/` prompts. The prompts ask for hex: `0x1000`, `1000h`
/// and a bare `1000` are all 0x1000 (a `_` may group digits).
enum HexInput {
    static func parse(_ text: String) -> UInt64? {
        let trimmed = text.filter { $0 != " " && $0 != "_" }
        guard !trimmed.isEmpty else { return nil }
        let lower = trimmed.lowercased()
        if lower.hasPrefix("0x") || lower.hasSuffix("h") { return Hex.parseAddress(lower) }
        return UInt64(lower, radix: 16)
    }
}
