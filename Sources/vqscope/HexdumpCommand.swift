import ArgumentParser
import VQCore

struct HexdumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hexdump", abstract: "Dump guest-physical memory, read through the slot map.")

    @OptionGroup var target: TargetOptions
    @Argument(help: "Guest-physical address.", transform: parseAddress) var gpa: UInt64
    @Argument(help: "Bytes to dump (at most 16 MiB).", transform: parseAddress) var length: UInt64 = 256
    @Flag(help: "Print JSON (the bytes as a hex string).") var json = false

    func validate() throws {
        guard length > 0, length <= 16 << 20 else { throw ValidationError("length must be 1 byte to 16 MiB") }
    }

    func run() throws {
        let t = try target.open()
        let bytes: [UInt8]
        do { bytes = try t.memory.bytes(at: GuestPhysicalAddress(gpa), count: Int(length)) } catch {
            Failure.printError("\(error)")
            throw ExitCode(Failure.partial)
        }
        if json {
            let hex = bytes.map { String($0, radix: 16).leftPadded(2) }.joined()
            let host = t.memory.map.hostAddress(of: GuestPhysicalAddress(gpa))
            printJSON(.object([("gpa", .uint(gpa)), (t.process == nil ? "offset" : "hva", .uint(host)),
                               ("length", .uint(length)), ("bytes", .string(hex))]))
            return
        }
        let out = Output.standardOutput
        for row in stride(from: 0, to: bytes.count, by: 16) {
            let slice = bytes[row..<min(row + 16, bytes.count)]
            out.write(Hex.padded(gpa &+ UInt64(row)) + "  ")
            for i in 0..<16 {
                out.write(i < slice.count ? String(slice[row + i], radix: 16).leftPadded(2) + " " : "   ")
                if i == 7 { out.write(" ") }
            }
            out.write(" |" + String(slice.map { (0x20..<0x7f).contains($0) ? Character(Unicode.Scalar($0)) : "." }) + "|\n")
        }
        out.flush()
    }
}

func parseAddress(_ text: String) throws -> UInt64 {
    guard let value = Hex.parseAddress(text) else { throw ValidationError("'\(text)' is not an address (write 0x1000 or 4096)") }
    return value
}
