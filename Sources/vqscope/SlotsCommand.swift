import ArgumentParser
import VQCore

struct SlotsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slots", abstract: "Show the slot map: which guest-physical ranges live where in the host.")

    @OptionGroup var target: TargetOptions
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let t = try target.open()
        let map = t.memory.map
        let hostKey = t.process == nil ? "offset" : "hva"
        if json {
            printJSON(.object([
                ("source", .string(t.source.rawValue)),
                ("slots", .array(map.slots.map { s in
                    .object([("gpa", .uint(s.guest.rawValue)), ("size", .uint(s.size)), (hostKey, .uint(s.host)),
                             ("name", .string(s.name)), ("kind", .string(s.kind.rawValue))])
                })),
                ("notes", .array((t.notes + t.slotNotes).map { .string($0) })),
            ]))
            return
        }
        let out = Output.standardOutput
        out.write("slot map of \(t.title), from \(t.source.rawValue)\n")
        for note in t.notes + t.slotNotes { out.write("  (\(note))\n") }
        printTable(["GUEST-PHYSICAL", "SIZE", t.process == nil ? "FILE-OFFSET" : "HOST-VIRTUAL", "NAME"], map.slots.map { s in
            ["\(Hex.padded(s.guest.rawValue))-\(Hex.padded(s.guestEnd - 1))", Hex.humanSize(s.size), Hex.string(s.host),
             s.kind == .ram ? s.name : "\(s.name) (\(s.kind.rawValue))"]
        })
    }
}
