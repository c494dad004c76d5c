import ArgumentParser
import Glibc
import VQCore
import VQTUI

/// The live inspector: `vqscope` alone picks a QEMU process; `--pid` or `--image` opens one.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a guest's virtio rings live in the terminal (the default command).",
        discussion: """
            With no target, lists the QEMU processes on this host to pick from. Keys: ? shows them all; \
            q quits. The VM is paused only when you press s (step) and continued with c; vqscope \
            continues a VM it paused when it exits.
            """)

    @OptionGroup var target: TargetOptions
    @OptionGroup var display: DisplayOptions
    @OptionGroup var eventOptions: EventOptions

    func run() throws {
        var spec = target.spec
        if spec.pid != nil || spec.imagePath != nil || target.libvirt != nil {
            let opened = try target.open()
            let terminal = try Failure.reporting { () throws(TerminalError) in try NcursesTerminal() }
            return try display.run(LiveSource(target: opened, probes: eventOptions.starter(opened)), on: terminal)
        }
        let processes = QEMUProcess.all()
        guard !processes.isEmpty else {
            Failure.printError("no QEMU processes found on this host; start one, or try `vqscope demo`")
            throw ExitCode(Failure.unusable)
        }
        let terminal = try Failure.reporting { () throws(TerminalError) in try NcursesTerminal() }
        var picker = ProcessPicker(entries: processes.map { p in
            let name = p.commandLine.name.map { "\($0), " } ?? ""
            let domain = p.libvirtDomain.map { ", libvirt domain \($0.name)" } ?? ""
            return ProcessPicker.Entry(pid: p.pid, description: "\(name)\(p.accelerator), \(Hex.humanSize(p.commandLine.ramSize)), \(p.executable)\(domain)")
        })
        guard let pid = InspectorLoop.pick(&picker, on: terminal) else {
            terminal.restore()
            return
        }
        spec.pid = pid
        let opened: Target
        do { opened = try Target.open(spec) } catch {
            terminal.restore()
            Failure.printError("\(error)")
            throw ExitCode(Failure.unusable)
        }
        try display.run(LiveSource(target: opened, probes: eventOptions.starter(opened)), on: terminal)
    }
}

/// Options of the terminal display, shared by `inspect` and `demo`.
struct DisplayOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Frames a second (the + and - keys change it).", valueName: "hz"))
    var refresh: Double = 10

    @Flag(help: .hidden) var stats = false

    func validate() throws {
        guard refresh >= 0.5 && refresh <= 60 else { throw ValidationError("--refresh must be between 0.5 and 60 frames a second") }
    }

    /// Runs the inspector until `q` or a signal, then restores the terminal and says what it did.
    func run(_ source: any InspectorSource, on terminal: NcursesTerminal) throws {
        let inspector = Inspector(source: source, options: InspectorOptions(refreshHz: refresh))
        let outcome = InspectorLoop.run(inspector, on: terminal)
        if let message = outcome.message { Output.standardError.write("vqscope: \(message)\n") }
        if stats { Output.standardError.write("vqscope: \(outcome.statistics)\n") }
        if outcome.signal != 0 { throw ExitCode(128 + outcome.signal) }
    }
}
