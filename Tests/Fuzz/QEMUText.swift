// Fuzz target: the text vqscope reads from QEMU and /proc: ProcessMapping.parse (/proc/PID/maps),
// FlatView.parse (`info mtree -f`) and QMPSlotSource.parseHostAddress (`gpa2hva`). Input: [0] which
// address space FlatView looks for (bit 0: "memory" or "I/O"); then the text (invalid UTF-8 repaired
// as String(decoding:) does).
import VQCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let space = input.u8() & 1 == 0 ? "memory" : "I/O"
    let text = String(decoding: input.rest(), as: UTF8.self)
    let lines = text.split(whereSeparator: \.isNewline).count

    let mappings = ProcessMapping.parse(text)
    require(mappings.count <= lines, "\(mappings.count) mappings from \(lines) lines")
    for m in mappings {
        require(m.start < m.end, "mapping \(m.start)-\(m.end)")
        _ = m.isAnonymous
        _ = m.size
    }

    if let ranges = try? FlatView.parse(text, addressSpace: space) {
        require(ranges.count <= lines, "\(ranges.count) ranges from \(lines) lines")
        for r in ranges {
            require(r.last >= r.start, "range \(r.start)-\(r.last)")
            _ = r.size
            _ = r.isMemory
        }
    }

    for line in text.split(whereSeparator: \.isNewline).prefix(64) { _ = QMPSlotSource.parseHostAddress(String(line)) }
    return 0
}
