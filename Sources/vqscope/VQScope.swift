import ArgumentParser
import VQCore

@main
struct VQScope: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vqscope",
        abstract: "Look into a running QEMU virtual machine's guest memory from the host, read-only.",
        discussion: """
            Targets: --pid PID (a live QEMU process; see `vqscope list`) or --image FILE (an ELF dump \
            from QEMU's dump-guest-memory, or a raw RAM file with --base GPA).
            Exit status: 0 on success, 1 when some addresses could not be translated or read, \
            2 when the target cannot be used (the error says why).
            """,
        subcommands: [InspectCommand.self, DemoCommand.self, ListCommand.self, SlotsCommand.self, TranslateCommand.self, HexdumpCommand.self, QueuesCommand.self, DumpCommand.self, WatchCommand.self, CaptureCommand.self, ScanCommand.self, DiagnoseCommand.self, DemoGuestCommand.self],
        defaultSubcommand: InspectCommand.self
    )
}
