import ArgumentParser
import VQCore

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the QEMU processes on this host.")

    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let processes = QEMUProcess.all()
        if json {
            printJSON(.object([("processes", .array(processes.map { p in
                .object([
                    ("pid", .int(Int64(p.pid))),
                    ("name", .string(p.commandLine.name)),
                    ("executable", .string(p.executable)),
                    ("ram", .uint(p.commandLine.ramSize)),
                    ("machine", .string(p.commandLine.machineType)),
                    ("accelerator", .string(p.accelerator)),
                    ("simulated", .bool(p.isSimulatedGuest)),
                    ("qmp", .array(Target.qmpSockets(of: p).map { .string($0) })),
                ])
            }))]))
            return
        }
        if processes.isEmpty {
            Output.standardOutput.write("no QEMU processes found (vqscope looks for qemu-system-* in /proc)\n")
            Output.standardOutput.flush()
            return
        }
        printTable(["PID", "NAME", "ACCEL", "RAM", "MACHINE", "QMP"], processes.map { p in
            [String(p.pid), (p.commandLine.name ?? "-") + (p.isSimulatedGuest ? " (demo)" : ""), p.accelerator, Hex.humanSize(p.commandLine.ramSize),
             p.commandLine.machineType ?? "default", Target.qmpSockets(of: p).joined(separator: ", ").ifEmpty("-")]
        })
    }
}

extension String {
    func ifEmpty(_ replacement: String) -> String { isEmpty ? replacement : self }
}
