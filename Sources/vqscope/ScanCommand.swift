import ArgumentParser
import VQCore

struct ScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Find split and packed virtqueues by scanning guest RAM (no QMP needed).",
        discussion: "Skips pages that are not resident in a live process; uses both cores.")

    @OptionGroup var target: TargetOptions
    @Option(help: "Report rings scoring at least this.") var minimumScore: Int = RingScanner.defaultMinimumScore
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let t = try target.open()
        // Progress on standard error while the scan runs, when it is a terminal; cleared before any output.
        let line = ProgressLine()
        let scanned = Result { () throws in try RingScanner.scan(t, minimumScore: minimumScore, progress: line.scanProgress) }
        line.finish()
        let result = try Failure.reporting { () throws in try scanned.get() }
        if json {
            printJSON(.object([
                ("rings", .array(result.rings.map { r in
                    .object([("layout", .string(r.location.layout.rawValue)), ("num", .uint(UInt64(r.location.size))),
                             ("desc", .uint(r.location.descriptors.rawValue)), ("avail", .uint(r.location.driverArea.rawValue)),
                             ("used", .uint(r.location.deviceArea.rawValue)), ("avail_idx", .uint(UInt64(r.availIndex))),
                             ("used_idx", .uint(UInt64(r.usedIndex))), ("device_guess", .string(r.deviceGuess)),
                             ("score", .int(Int64(r.score))), ("guess_score", .int(Int64(r.guessScore))), ("stale", r.stale.map { .bool($0) } ?? .null),
                             ("liveness", .string(r.liveness))])
                })),
                ("bytes_scanned", .uint(result.bytesScanned)), ("seconds", .double(result.seconds)),
                ("liveness_window", .double(result.livenessWindow)),
                ("slot_notes", .array(t.slotNotes.map { .string($0) })),
            ]))
            return
        }
        Output.standardOutput.write("scanned \(Hex.humanSize(result.bytesScanned)) of \(t.title) in \(String(format6: result.seconds)) s\n")
        for note in t.slotNotes { Output.standardOutput.write("(\(note))\n") }
        printTable(["DESC", "AVAIL", "USED", "NUM", "AVAIL-IDX", "USED-IDX", "GUESS", "SCORE", "STALE"], result.rings.map { r in
            [Hex.string(r.location.descriptors.rawValue), Hex.string(r.location.driverArea.rawValue), Hex.string(r.location.deviceArea.rawValue),
             String(r.location.size), String(r.availIndex), String(r.usedIndex), r.deviceGuess ?? "?", String(r.score), r.staleWord]
        })
        let stale = result.rings.filter { $0.stale == true }
        if !stale.isEmpty {
            Output.standardOutput.write("stale (nothing shows them in use): "
                                        + stale.map { "\(Hex.string($0.location.descriptors.rawValue)): \($0.liveness ?? "")" }.joined(separator: "; ") + "\n")
        }
    }
}

extension ScannedRing {
    /// The STALE column: `yes`, `no`, or `unknown` when not judged (an image).
    var staleWord: String { stale.map { $0 ? "yes" : "no" } ?? "unknown" }
}
