import ArgumentParser
import VQCore

/// The options every command that reads a guest takes, in one place.
struct TargetOptions: ParsableArguments {
    @Option(name: .long, help: "A live QEMU process to inspect.")
    var pid: Int32?

    @Option(name: .long, help: ArgumentHelp("A running libvirt domain to inspect, by name or UUID (instead of --pid).", valueName: "domain"))
    var libvirt: String?

    @Flag(name: .customLong("no-libvirt"), help: "Never talk to QEMU through libvirt's monitor pass-through (a domain's own QMP sockets stay allowed).")
    var noLibvirt = false

    @Option(name: .long, help: ArgumentHelp("A guest memory image: QEMU's dump-guest-memory ELF, or a raw RAM file with --base.", valueName: "file"))
    var image: String?

    @Option(name: .long, help: ArgumentHelp("Guest-physical address of a raw image's first byte.", valueName: "gpa"),
            transform: { text in
                guard let value = Hex.parseAddress(text) else { throw ValidationError("--base: '\(text)' is not an address") }
                return value
            })
    var base: UInt64?

    @Option(name: .long, help: ArgumentHelp("Where the slot map comes from: auto (QMP, else KVM slots, else /proc maps), qmp, kvm or maps.", valueName: "source"))
    var slots: SlotSourceChoice = .auto

    @Option(name: .long, help: ArgumentHelp("A QMP socket to use instead of those on QEMU's command line.", valueName: "path"))
    var qmp: String?

    @Flag(name: .customLong("no-qmp"), help: "Never talk to QEMU: pure introspection from /proc and memory.")
    var noQMP = false

    @Option(name: .customLong("qmp-timeout"), help: ArgumentHelp("Milliseconds to wait for a QMP answer.", valueName: "ms"))
    var qmpTimeout: Int32 = 2000

    func validate() throws {
        if [pid != nil, image != nil, libvirt != nil].filter({ $0 }).count > 1 { throw ValidationError("--pid, --libvirt and --image name one target: give one") }
        if libvirt != nil && noQMP && noLibvirt { throw ValidationError("--libvirt needs libvirt's pass-through or another QMP route; --no-libvirt with --no-qmp leaves none") }
        if base != nil && image == nil { throw ValidationError("--base goes with --image") }
        if noQMP && (qmp != nil || slots == .qmp) { throw ValidationError("--no-qmp forbids --qmp and --slots qmp") }
        if image != nil && slots != .auto { throw ValidationError("--slots applies to --pid; an image's own headers give its slot map") }
        // poll(2) waits forever on a negative time-out: a silent QMP peer would hang vqscope.
        guard (1...3_600_000).contains(qmpTimeout) else { throw ValidationError("--qmp-timeout must be 1 to 3600000 ms") }
    }

    var spec: TargetSpec {
        var spec = TargetSpec(pid: pid, imagePath: image, base: base, slots: slots, qmpPath: qmp, noQMP: noQMP)
        spec.noLibvirt = noLibvirt
        spec.qmpTimeoutMilliseconds = qmpTimeout
        return spec
    }

    /// Opens the target, or prints one line saying why not and exits 2. Through libvirt's
    /// pass-through it says so once, on standard error.
    func open() throws -> Target {
        let target = try Failure.reporting { () throws(TargetError) in
            var spec = spec
            if let libvirt { spec.pid = try LibvirtDomain.process(named: libvirt).pid }
            return try Target.open(spec)
        }
        if target.qmp?.libvirtDomain != nil, let domain = target.process?.libvirtDomain {
            Output.standardError.write("vqscope: note: \(Target.libvirtRouteNote(domain))\n")
        }
        return target
    }
}

extension SlotSourceChoice: ExpressibleByArgument {}

/// How commands end on a failure: one line on stderr naming the problem, then a non-zero exit.
enum Failure {
    /// Exit status for a target that cannot be used at all.
    static let unusable: Int32 = 2
    /// Exit status when the command ran but some addresses were not translated or read.
    static let partial: Int32 = 1

    static func reporting<T, E: Error>(_ body: () throws(E) -> T) throws -> T {
        do { return try body() } catch {
            printError("\(error)")
            throw ExitCode(unusable)
        }
    }

    static func printError(_ message: String) {
        Output.standardError.write("vqscope: \(message)\n")
    }
}
