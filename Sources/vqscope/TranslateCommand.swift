import ArgumentParser
import Glibc
import VQCore

struct TranslateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "translate",
        abstract: "Translate guest-physical addresses to host-virtual (and host-physical) addresses.",
        discussion: """
            With no address arguments, reads one address a line from standard input (bulk mode). \
            An address outside guest RAM gets no host address and a reason, never a guess; \
            the exit status is then 1.
            """)

    @OptionGroup var target: TargetOptions
    @Argument(help: "Guest-physical addresses (0x1000 or 4096). None: read standard input.")
    var addresses: [String] = []
    @Flag(help: "Also give host-physical addresses, from /proc/PID/pagemap (needs root for frame numbers).")
    var hpa = false
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        if hpa && target.image != nil { throw ValidationError("--hpa needs a live process (--pid)") }
    }

    func run() throws {
        let t = try target.open()
        let lookup = try hpa ? Failure.reporting { () throws(TargetError) in try HostPhysicalLookup(pid: t.process!.pid) } : nil
        var writer = TranslationWriter(map: t.memory.map, json: json, hostKey: t.process == nil ? "offset" : "hva", lookup: lookup)
        writer.begin(source: t.source)
        if addresses.isEmpty {
            StandardInputLines.forEach { line in writer.add(line) }
        } else {
            for address in addresses {
                var bytes = Array(address.utf8)
                bytes.withUnsafeMutableBufferPointer { writer.add(UnsafeBufferPointer($0)) }
            }
        }
        writer.end()
        if writer.untranslated > 0 { throw ExitCode(Failure.partial) }
    }
}

/// Streams translations as they are made: plain lines, or one JSON document written piece by piece.
/// Host-physical look-ups are batched (one page-map read per 4096 addresses).
struct TranslationWriter {
    let map: SlotMap
    let json: Bool
    let hostKey: String
    let lookup: HostPhysicalLookup?
    private let out = Output.standardOutput
    private(set) var untranslated = 0
    private var count = 0
    private var pending: [(gpa: UInt64?, slot: Int?, text: String?)] = []
    /// What repeats on every line, made once: the host key, each slot's region, each reason.
    private let hostKeyBytes: [UInt8]
    private let regions: [[UInt8]]
    private var reasons: [SlotMap.Unmapped: [UInt8]] = [:]

    init(map: SlotMap, json: Bool, hostKey: String, lookup: HostPhysicalLookup?) {
        self.map = map
        self.json = json
        self.hostKey = hostKey
        self.lookup = lookup
        hostKeyBytes = Array(",\"\(hostKey)\":".utf8)
        regions = map.slots.map { Array((json ? ",\"region\":" + JSON.string($0.name).text : $0.name).utf8) }
    }

    /// The reason an address has no host address, as this writer prints it (made once per reason).
    private mutating func reasonBytes(_ gpa: UInt64) -> [UInt8] {
        let key = map.unmapped(GuestPhysicalAddress(gpa))
        if let known = reasons[key] { return known }
        let text = map.reason(key)
        let bytes = Array((json ? ",\"reason\":" + JSON.string(text).text : "no host address: " + text).utf8)
        reasons[key] = bytes
        return bytes
    }

    func begin(source: SlotSource) {
        if json { out.write("{\"source\":\"\(source.rawValue)\",\"translations\":[") }
    }

    mutating func add(_ line: UnsafeBufferPointer<UInt8>) {
        // Trim spaces, tabs and a CR; skip blank lines.
        var start = 0, end = line.count
        while start < end, line[start] == 0x20 || line[start] == 0x09 { start += 1 }
        while end > start, line[end - 1] == 0x20 || line[end - 1] == 0x09 || line[end - 1] == 0x0d { end -= 1 }
        guard end > start else { return }
        let field = UnsafeBufferPointer(rebasing: line[start..<end])
        let gpa = Hex.parseAddress(bytes: field)
        let slot = gpa.flatMap { map.slotIndex(containing: GuestPhysicalAddress($0)) }
        if slot == nil { untranslated += 1 }
        let text = gpa == nil ? String(decoding: field, as: UTF8.self) : nil
        if lookup != nil {
            pending.append((gpa, slot, text))
            if pending.count >= 4096 { drain() }
        } else {
            emit(gpa: gpa, text: text, slot: slot, hpa: nil)
        }
    }

    mutating func end() {
        drain()
        if json { out.write("\n]}\n") } else if count == 0 { out.write("no addresses given\n") }
        out.flush()
    }

    private mutating func drain() {
        guard let lookup, !pending.isEmpty else { return }
        let hosts = pending.compactMap { p in p.slot.map { HostVirtualAddress(map.slots[$0].host &+ (p.gpa! &- map.slots[$0].guest.rawValue)) } }
        var results = lookup.lookup(hosts).makeIterator()
        for p in pending {
            emit(gpa: p.gpa, text: p.text, slot: p.slot, hpa: p.slot == nil ? nil : results.next())
        }
        pending.removeAll(keepingCapacity: true)
    }

    private mutating func emit(gpa: UInt64?, text: String?, slot: Int?, hpa: Result<HostPhysicalAddress, PagemapError>?) {
        defer { count += 1 }
        let hva = slot.map { map.slots[$0].host &+ (gpa! &- map.slots[$0].guest.rawValue) }
        if json {
            if count == 0 { out.literal("\n{\"gpa\":") } else { out.literal(",\n{\"gpa\":") }
            if let gpa { out.decimal(gpa) } else { out.literal("null") }
            hostKeyBytes.withUnsafeBytes { out.write(bytes: $0) }
            if let hva { out.decimal(hva) } else { out.literal("null") }
            if lookup != nil {
                out.literal(",\"hpa\":")
                switch hpa {
                case .success(let a)?: out.decimal(a.rawValue)
                default: out.literal("null")
                }
                if case .failure(let e)? = hpa { out.write(",\"hpa_reason\":"); out.write(JSON.string(e.description).text) }
            }
            if let slot {
                regions[slot].withUnsafeBytes { out.write(bytes: $0) }
            } else {
                out.literal(",\"region\":null")
                if let gpa { reasonBytes(gpa).withUnsafeBytes { out.write(bytes: $0) } } else {
                    out.write(",\"reason\":"); out.write(JSON.string("'\(text ?? "")' is not an address").text)
                }
            }
            out.literal("}")
        } else {
            if let gpa { out.hex(gpa) } else { out.write(text ?? "") }
            out.byte(0x20); out.byte(0x20)
            if let hva { out.hex(hva) } else { out.write("-") }
            if lookup != nil {
                out.byte(0x20); out.byte(0x20)
                switch hpa {
                case .success(let a)?: out.hex(a.rawValue)
                case .failure(let e)?: out.write("-(\(e))")
                case nil: out.write("-")
                }
            }
            out.byte(0x20); out.byte(0x20)
            if let slot {
                regions[slot].withUnsafeBytes { out.write(bytes: $0) }
            } else if let gpa {
                reasonBytes(gpa).withUnsafeBytes { out.write(bytes: $0) }
            } else {
                out.write("no host address: '\(text ?? "")' is not an address")
            }
            out.newline()
        }
    }
}

/// Reads standard input a line at a time, in large blocks, without copying lines.
enum StandardInputLines {
    static func forEach(_ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var filled = 0
        while true {
            let read = buffer.withUnsafeMutableBytes { Sys.readSome(0, UnsafeMutableRawBufferPointer(rebasing: $0[filled...])) }
            guard case .success(let n) = read, n > 0 else { break }
            filled += n
            var lineStart = 0
            buffer.withUnsafeBufferPointer { all in
                var i = 0
                while i < filled {
                    if all[i] == 0x0a {
                        body(UnsafeBufferPointer(rebasing: all[lineStart..<i]))
                        lineStart = i + 1
                    }
                    i += 1
                }
            }
            if lineStart > 0 {
                buffer.withUnsafeMutableBytes { raw in
                    raw.baseAddress!.copyMemory(from: raw.baseAddress! + lineStart, byteCount: filled - lineStart)
                }
                filled -= lineStart
            } else if filled == buffer.count {
                // A line longer than the buffer: pass it on as it is (it will not parse) and go on.
                buffer.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[0..<filled])) }
                filled = 0
            }
        }
        if filled > 0 { buffer.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[0..<filled])) } }
    }
}
