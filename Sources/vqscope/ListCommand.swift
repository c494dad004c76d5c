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
                let access = p.qmpAccess
                return .object([
                    ("pid", .int(Int64(p.pid))),
                    ("name", .string(p.commandLine.name)),
                    ("executable", .string(p.executable)),
                    ("ram", .uint(p.commandLine.ramSize)),
                    ("machine", .string(p.commandLine.machineType)),
                    ("accelerator", .string(p.accelerator.description)),
                    ("simulated", .bool(p.accelerator == .simulated)),
                    ("qmp", .array(access.socketPaths.map { .string($0) })),
                    ("qmp_access", .string(access.kind)),
                    ("libvirt", p.libvirtDomain.map { d in
                        .object([
                            ("domain", .string(d.name)),
                            ("uuid", .string(d.uuid)),
                            ("uri", .string(d.connectionURI)),
                            ("monitor", .string(d.monitorSocketPath)),
                            ("monitor_fd", d.monitor.fileDescriptor.map { .int(Int64($0)) } ?? .null),
                        ])
                    } ?? .null),
                ])
            }))]))
            return
        }
        if processes.isEmpty {
            Output.standardOutput.write("no QEMU processes found (vqscope looks for qemu-system-* in /proc)\n")
            Output.standardOutput.flush()
            return
        }
        printTable(["PID", "NAME", "ACCEL", "RAM", "MACHINE", "LIBVIRT", "QMP"], processes.map { p in
            let access = p.qmpAccess
            let qmp = access.socketPaths.isEmpty ? access.kind : "socket " + access.socketPaths.joined(separator: ", ")
            return [String(p.pid), (p.commandLine.name ?? "-") + (p.accelerator == .simulated ? " (demo)" : ""), p.accelerator.description,
                    Hex.humanSize(p.commandLine.ramSize), p.commandLine.machineType ?? "default", p.libvirtDomain?.name ?? "-", qmp]
        })
    }
}

extension String {
    func ifEmpty(_ replacement: String) -> String { isEmpty ? replacement : self }
}
