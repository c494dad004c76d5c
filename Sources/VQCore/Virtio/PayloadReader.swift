/// Little-endian reads from the front of the bytes a decoder was given: each read returns `nil`
/// past the end instead of trapping, so a decoder never reads beyond what it holds.
struct PayloadReader {
    /// The bytes being read.
    let bytes: [UInt8]
    /// How many bytes have been consumed.
    private(set) var offset = 0

    init(_ bytes: [UInt8], from offset: Int = 0) {
        self.bytes = bytes
        self.offset = min(max(0, offset), bytes.count)
    }

    /// Bytes not consumed yet.
    var remaining: Int { bytes.count - offset }

    /// An unsigned little-endian integer of `T`'s size, or `nil` when fewer bytes remain.
    mutating func integer<T: FixedWidthInteger & UnsignedInteger>(_: T.Type = T.self) -> T? {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { return nil }
        var value: T = 0
        for k in 0..<size { value |= T(bytes[offset + k]) << (8 * k) }
        offset += size
        return value
    }

    mutating func u8() -> UInt8? { integer() }
    mutating func u16() -> UInt16? { integer() }
    mutating func u32() -> UInt32? { integer() }
    mutating func u64() -> UInt64? { integer() }

    /// The next `count` bytes, or `nil` when fewer remain (nothing is consumed then).
    mutating func take(_ count: Int) -> ArraySlice<UInt8>? {
        guard count >= 0, remaining >= count else { return nil }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    /// Up to `count` bytes: as many as remain.
    mutating func takeUpTo(_ count: Int) -> ArraySlice<UInt8> {
        take(min(max(0, count), remaining)) ?? []
    }

    /// Skips `count` bytes; `false` (consuming nothing) when fewer remain.
    mutating func skip(_ count: Int) -> Bool { take(count) != nil }

    /// Bytes for people: printable ASCII kept, everything else `.`, at most `limit` characters
    /// (`…` marks a cut).
    static func printable<C: Collection>(_ bytes: C, limit: Int = 64) -> String where C.Element == UInt8 {
        var text = String(bytes.prefix(limit).map { (0x20..<0x7f).contains($0) ? Character(Unicode.Scalar($0)) : "." })
        if bytes.count > limit { text += "…" }
        return text
    }

    /// The text of a NUL-terminated (or NUL-padded) field for people.
    static func cString<C: Collection>(_ bytes: C, limit: Int = 64) -> String where C.Element == UInt8 {
        printable(bytes.prefix { $0 != 0 }, limit: limit)
    }
}
