/// A QEMU that libvirt started and manages: a libvirt domain, as vqscope sees it from outside.
///
/// libvirt keeps QEMU's only QMP monitor for itself: it makes the socket, hands it to QEMU as a
/// descriptor (`-chardev socket,id=charmonitor,fd=N` + `-mon chardev=charmonitor,mode=control`;
/// older libvirt named a path instead) and stays connected. QEMU serves one QMP client at a time,
/// so nobody else gets an answer there; a QMP conversation with the domain goes through libvirt
/// (`virsh qemu-monitor-command NAME`), which needs the name, or the URI and UUID.
public struct LibvirtDomain: Hashable, Sendable {
    /// The domain's name, as `virsh` knows it (`-name guest=NAME`).
    public var name: String
    /// The domain's UUID (`-uuid`, else the status file's), when known.
    public var uuid: String?
    /// The monitor libvirt holds, as the command line gives it.
    public var monitor: QEMUCommandLine.QMPMonitor
    /// The path of the monitor's socket, when known: from the command line, from the socket of
    /// the descriptor in `/proc/PID/net/unix`, or from libvirt's status file.
    public var monitorSocketPath: String?

    /// libvirt's id for the monitor's chardev (`charmonitor`), the same in every libvirt release.
    public static let monitorChardevID = "charmonitor"

    /// The domain a QEMU command line belongs to, if libvirt wrote it: a name and libvirt's
    /// control monitor. Pure: the monitor's path is only what the command line says.
    public init?(commandLine: QEMUCommandLine) {
        guard let name = commandLine.name, !name.isEmpty,
              let monitor = commandLine.qmpMonitors.first(where: { $0.chardevID == Self.monitorChardevID })
        else { return nil }
        self.name = name
        self.uuid = commandLine.uuid
        self.monitor = monitor
        self.monitorSocketPath = monitor.path
    }

    /// The libvirt URI to reach the domain with (`virsh -c URI`): `qemu:///system` when its
    /// monitor socket lies under the system instance's directories, `qemu:///session` when it lies
    /// elsewhere (a user's own libvirt), nil when the path is unknown.
    public var connectionURI: String? {
        guard let path = monitorSocketPath else { return nil }
        return path.hasPrefix("/var/lib/libvirt/") || path.hasPrefix("/run/libvirt/") ? "qemu:///system" : "qemu:///session"
    }

    /// What to do when libvirt holds the only monitor.
    public static let ownSocketAdvice = "give the domain a QMP socket of its own for vqscope "
        + "(in its XML, <qemu:commandline> with -qmp unix:PATH,server=on,wait=off), or use --no-qmp"

    /// Why vqscope does not talk QMP to this domain, and what to do.
    public var heldMonitorMessage: String {
        "libvirt domain '\(name)' holds QEMU's only QMP monitor (\(monitorSocketPath ?? "a socket handed over as fd \(monitor.fileDescriptor.map(String.init) ?? "?")")): "
            + Self.ownSocketAdvice
    }

    /// The domain of process `pid`, with the monitor's path found: the socket behind the monitor's
    /// descriptor (`/proc/PID/fd/N` → its inode → `/proc/PID/net/unix`), else libvirt's status
    /// file if it names this process. Nil when the command line is not a libvirt domain's.
    public static func locate(pid: Int32, commandLine: QEMUCommandLine) -> LibvirtDomain? {
        guard var domain = LibvirtDomain(commandLine: commandLine) else { return nil }
        if domain.monitorSocketPath == nil, let fd = domain.monitor.fileDescriptor,
           let link = Sys.readLink("/proc/\(pid)/fd/\(fd)"), let inode = UnixSocketTable.socketInode(link: link),
           let path = UnixSocketTable.of(pid: pid)?.paths[inode] {
            domain.monitorSocketPath = path
        }
        if domain.monitorSocketPath == nil || domain.uuid == nil,
           let status = LibvirtStatusFile.read(domain: domain.name), status.pid == pid {
            domain.monitorSocketPath = domain.monitorSocketPath ?? status.monitorPath
            domain.uuid = domain.uuid ?? status.uuid
        }
        return domain
    }
}

extension LibvirtDomain {
    /// The QEMU process of the running libvirt domain named `nameOrUUID` (its name, or its UUID in
    /// any case). Throws a usage error naming the domains there are when none matches.
    public static func process(named nameOrUUID: String) throws(TargetError) -> QEMUProcess {
        let domains = QEMUProcess.all().compactMap { p in p.libvirtDomain.map { (process: p, domain: $0) } }
        let wanted = nameOrUUID.lowercased()
        if let match = domains.first(where: { $0.domain.name == nameOrUUID || $0.domain.uuid?.lowercased() == wanted }) {
            return match.process
        }
        let names = domains.map(\.domain.name).joined(separator: ", ")
        throw .usage("no running libvirt domain '\(nameOrUUID)' on this host (running: \(names.isEmpty ? "none" : names); `virsh list` shows them)")
    }
}
