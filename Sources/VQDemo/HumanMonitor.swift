import Glibc
import VQCore

/// The simulated guest's human monitor (HMP), reached through QMP's `human-monitor-command`:
/// `info mtree -f`, `gpa2hva`, `gpa2hpa`, `info status`, `info version`, `info name`, `stop`,
/// `cont`, worded as QEMU 7.2 words them (lines end in CR LF, as QEMU's monitor sends them).
struct HumanMonitor: Sendable {
    let guest: SimulatedGuest

    /// What a command printed, and the events it raised.
    struct Output: Sendable {
        var text: String
        var events: [JSON] = []
    }

    func execute(_ commandLine: String) -> Output {
        let words = commandLine.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let command = words.first else { return Output(text: "") }
        let text: String
        var events: [JSON] = []
        switch command {
        case "info":
            switch words.dropFirst().first {
            case "mtree" where words.dropFirst(2).contains("-f"):
                text = guest.memory.flatViewText(busMasters: guest.deviceStates().map(\.identity.proxyType))
            case "status": text = "VM status: \(guest.isRunning ? "running" : "paused")\n"
            case "version": text = "7.2.0 (vqscope-demo)\n"
            case "name": text = guest.configuration.name + "\n"
            default:
                text = "the demo guest's monitor has: info mtree -f, info status, info version, info name\n"
            }
        case "gpa2hva", "gpa2hpa":
            guard words.count >= 2, let address = Hex.parseAddress(words[1]) else {
                text = "\(command): Parameter 'addr' is missing\n"
                break
            }
            text = command == "gpa2hva" ? gpa2hva(address) : gpa2hpa(address)
        case "stop":
            text = ""
            if guest.pause() { events.append(QMPCommands.event("STOP")) }
        case "cont", "c":
            text = ""
            if guest.resume() { events.append(QMPCommands.event("RESUME")) }
        default:
            text = "unknown command: '\(command)'\n"
        }
        return Output(text: text.replacingNewlines(), events: events)
    }

    /// `Host virtual address for 0x1000 (pc.ram) is 0x7f8ccbe01000`, or QEMU's reason why not.
    private func gpa2hva(_ gpa: UInt64) -> String {
        switch guest.memory.translate(gpa) {
        case let .memory(region, host): return "Host virtual address for \(Hex.string(gpa)) (\(region)) is \(Hex.string(host))\n"
        case .notRAM: return "Memory at address \(Hex.string(gpa)) is not RAM\n"
        case .unmapped: return "No memory is mapped at address \(Hex.string(gpa))\n"
        }
    }

    /// QEMU's `vtop`: the page's frame from /proc/self/pagemap (after touching it, so that it is
    /// mapped). Without CAP_SYS_ADMIN the kernel reports frame 0, and QEMU prints the page offset
    /// alone; so does this.
    private func gpa2hpa(_ gpa: UInt64) -> String {
        guard case let .memory(region, host) = guest.memory.translate(gpa) else { return gpa2hva(gpa) }
        _ = UnsafeRawPointer(bitPattern: UInt(host))!.load(as: UInt8.self)
        let pagemap: Pagemap
        do { pagemap = try Pagemap(pid: getpid()) } catch { return "Cannot open /proc/self/pagemap: \(error)\n" }
        guard case .success(let entry) = pagemap.eachEntry(for: [HostVirtualAddress(host)])[0] else {
            return "Cannot read pagemap\n"
        }
        guard entry.present else { return "Page not present\n" }
        return "Host physical address for \(Hex.string(gpa)) (\(region)) is \(Hex.string(entry.frame * Pagemap.pageSize | host % Pagemap.pageSize))\n"
    }
}

extension String {
    /// LF line ends as CR LF, as QEMU's monitor output has them.
    func replacingNewlines() -> String {
        var out = ""
        for character in self {
            if character == "\n" { out += "\r\n" } else { out.append(character) }
        }
        return out
    }
}
