import ArgumentParser
import Glibc
import VQCore
import VQDemo
import VQTUI

/// `vqscope demo`: the inspector on a built-in simulated guest, in a child process that answers
/// QMP like QEMU, opened through the same --pid path as a real VM. Needs nothing but the package.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Inspect a built-in simulated guest: no QEMU or root needed.",
        discussion: """
            The simulated guest is a child process holding 64 MiB of "guest RAM" with a virtio-net \
            device (split rings), a virtio-blk device (split ring, indirect tables) and a second \
            virtio-net with packed rings, all busy. vqscope opens it like a QEMU process: QMP for \
            the devices and the slot map, /proc/PID/mem for the memory. It stops when vqscope exits.
            """)

    @OptionGroup var display: DisplayOptions

    @Flag(help: "Do not open the inspector: print the simulated guest's PID and QMP socket and keep it running until interrupted, for the other commands (`vqscope queues --pid PID`).")
    var serve = false

    func run() throws {
        guard let executable = Self.ownExecutable() else {
            Failure.printError("cannot find vqscope's own executable (/proc/self/exe)")
            throw ExitCode(Failure.unusable)
        }
        let guest: DemoGuestLauncher
        do { guest = try DemoGuestLauncher.launch(executable: executable, directory: Self.temporaryDirectory) } catch {
            Failure.printError("the simulated guest did not start: \(error)")
            throw ExitCode(Failure.unusable)
        }
        defer { guest.terminate() }

        if serve {
            StopSignals.install()
            Output.standardOutput.write("""
                simulated guest: pid \(guest.pid), QMP \(guest.qmpPath)
                try: vqscope queues --pid \(guest.pid)    (Ctrl-C stops it)

                """)
            Output.standardOutput.flush()
            while StopSignals.pending == 0 && kill(guest.pid, 0) == 0 { usleep(100_000) }
            return
        }
        let target: Target
        do { target = try Target.open(TargetSpec(pid: guest.pid)) } catch {
            Failure.printError("cannot open the simulated guest: \(error)")
            throw ExitCode(Failure.unusable)
        }
        let terminal = try Failure.reporting { () throws(TerminalError) in try NcursesTerminal() }
        try display.run(LiveSource(target: target, title: "demo: simulated guest, pid \(guest.pid), 64 MiB"), on: terminal)
    }

    /// Where the simulated guest's private directory (its QMP sockets) goes: $TMPDIR or /tmp.
    static var temporaryDirectory: String {
        getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
    }

    /// The path of the running vqscope binary, which the simulated guest runs as.
    static func ownExecutable() -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
