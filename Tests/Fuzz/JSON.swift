// Fuzz target: JSON.parse (every QMP reply and event goes through it), and what vqscope reads out
// of QMP replies: what parses prints and parses back to the same value.
import VQCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    do {
        let value = try JSON.parse(bytes)
        if !hasNonFinite(value) {
            require((try? JSON.parse(value.text)) == value, "text does not parse back: \(value.text)")
            require((try? JSON.parse(value.prettyText)) == value, "pretty text does not parse back")
        }
        // As the QMP sources read replies.
        _ = QMPVirtioSource.parseFeatures(value["return"] ?? value)
        _ = value["return"]?["vring-desc"]?.uint64
        _ = value["return"]?["num-vqs"]?.int
        _ = value["return"]?.array?.compactMap { $0["name"]?.string }
        if let s = value["return"]?.string ?? value.string { _ = QMPSlotSource.parseHostAddress(s) }
    } catch {
        require(error.offset >= 0 && error.offset <= bytes.count, "error offset \(error.offset) of \(bytes.count)")
    }
    return 0
}

func hasNonFinite(_ value: JSON) -> Bool {
    switch value {
    case .double(let d): return !d.isFinite
    case .array(let items): return items.contains(where: hasNonFinite)
    case .object(let pairs): return pairs.contains { hasNonFinite($0.1) }
    default: return false
    }
}
