/// The only QMP and HMP commands vqscope sends to QEMU: each known to change nothing in QEMU, in
/// the guest or in any back-end. ``QMPClient`` checks every command against it before a byte is
/// written (a ``QMPClient/Policy/readOnly`` client, the only kind vqscope itself opens), and
/// docs/qmp-allowlist.md gives the same list with the reason for each; a unit test holds the two
/// together, and the test command holds every command logged during the whole suite against the doc.
///
/// The one exception, pausing and resuming the VM (`stop`, `cont`), is not on the list: it goes
/// through ``QMPClient/userRequested(_:)``, which the inspector calls only when the user asks.
public enum QMPAllowlist {
    /// A QMP command on the list and why it changes nothing.
    public struct Rule: Sendable, Hashable {
        /// The QMP command (`x-query-virtio`).
        public var command: String
        /// Why sending it is harmless, as docs/qmp-allowlist.md says it.
        public var reason: String
    }

    /// The QMP commands vqscope may send, in the order docs/qmp-allowlist.md lists them.
    public static let commands: [Rule] = [
        Rule(command: "qmp_capabilities", reason: "the protocol's own negotiation; QMP answers nothing before it"),
        Rule(command: "query-status", reason: "reads whether the VM runs"),
        Rule(command: "x-query-virtio", reason: "lists realized virtio devices (names and QOM paths)"),
        Rule(command: "x-query-virtio-status",
             reason: "copies fields of the VirtIODevice and, with vhost started, of its vhost_dev; sends nothing to a back-end"),
        Rule(command: "x-query-virtio-queue-status",
             reason: "copies fields of one VirtQueue; only for a device whose vhost is not started (QEMU then calls "
                 + "vhost_get_vring_base, and a vhost-user back-end stops that ring), as this client's own "
                 + "x-query-virtio-status said less than a second before"),
        Rule(command: "x-query-virtio-queue-element",
             reason: "reads one chain through QEMU; only under the same condition as x-query-virtio-queue-status"),
        Rule(command: "x-query-virtio-vhost-queue-status",
             reason: "copies fields of QEMU's vhost_virtqueue (ring addresses, size, eventfds); sends nothing to the back-end"),
        Rule(command: "qom-get",
             reason: "reads a device's `addr`, `type` or `parent_bus` property only (plain getters; `parent_bus` a link's path)"),
        Rule(command: "human-monitor-command", reason: "only the HMP commands listed below"),
    ]

    /// The HMP commands vqscope may send through `human-monitor-command`, by their first words.
    public static let hmpCommands: [Rule] = [
        Rule(command: "info mtree", reason: "prints QEMU's memory regions (`-f`: the flat views)"),
        Rule(command: "info ramblock", reason: "prints QEMU's RAM blocks"),
        Rule(command: "gpa2hva", reason: "translates one guest-physical address to QEMU's virtual address"),
        Rule(command: "gpa2hpa",
             reason: "translates one guest-physical address to a host-physical one (QEMU reads its own page once, faulting it in)"),
        Rule(command: "xp", reason: "prints guest-physical memory (device registers included), reading only"),
    ]

    /// The properties `qom-get` may read.
    public static let qomProperties: Set<String> = ["addr", "type", "parent_bus"]

    /// The commands that virtio queue state may be asked with only while the device's vhost is stopped.
    public static let vhostSensitive: Set<String> = ["x-query-virtio-queue-status", "x-query-virtio-queue-element"]

    /// What this client last heard of a device's vhost, for ``check(_:arguments:vhost:)``.
    public enum VhostKnowledge: Sendable, Hashable {
        /// Never asked, or asked too long ago to trust.
        case unknown
        /// x-query-virtio-status said `vhost-started: true`.
        case started
        /// x-query-virtio-status said `vhost-started: false` a moment ago.
        case stopped
    }

    /// Why a command may not be sent, or nil when it may. `vhost` says what the caller last heard of
    /// the vhost of the device at a QOM path.
    public static func check(_ command: String, arguments: JSON?, vhost: (String) -> VhostKnowledge) -> String? {
        guard commands.contains(where: { $0.command == command }) else {
            return "\(command) is not on vqscope's read-only allowlist (docs/qmp-allowlist.md)"
        }
        switch command {
        case "human-monitor-command":
            guard let line = arguments?["command-line"]?.string else { return "HMP without a command line" }
            return checkHMP(line)
        case "qom-get":
            guard let property = arguments?["property"]?.string, qomProperties.contains(property) else {
                return "qom-get of property \(arguments?["property"]?.text ?? "none") is not on the allowlist (only "
                    + qomProperties.sorted().joined(separator: ", ") + ")"
            }
            return nil
        case _ where vhostSensitive.contains(command):
            guard let path = arguments?["path"]?.string else { return "\(command) without a device path" }
            switch vhost(path) {
            case .stopped: return nil
            case .started:
                return "\(command) is not sent to \(path): its vhost is started, and QEMU would ask the back-end for the ring's "
                    + "base (VHOST_USER_GET_VRING_BASE), which stops that ring"
            case .unknown:
                return "\(command) is sent only right after x-query-virtio-status says the device's vhost is stopped; "
                    + "nothing recent was heard of \(path)"
            }
        default:
            return nil
        }
    }

    /// Why an HMP command line may not be sent, or nil when it may: its command must be listed, and
    /// its arguments plain (an address, a format, `-f`), never a second command.
    public static func checkHMP(_ line: String) -> String? {
        let words = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard let first = words.first else { return "an empty HMP command" }
        let name = first == "info" && words.count > 1 ? "info \(words[1])" : first
        guard hmpCommands.contains(where: { $0.command == name }) else {
            return "HMP `\(name)` is not on vqscope's read-only allowlist (docs/qmp-allowlist.md)"
        }
        let plain = line.unicodeScalars.allSatisfy { $0.properties.isASCIIHexDigit || " /-xXabcdefghijklmnopqrstuvwyz".unicodeScalars.contains($0) }
        guard plain, words.count <= 3 else { return "HMP `\(line)` has arguments that are not plain addresses or formats" }
        return nil
    }
}
