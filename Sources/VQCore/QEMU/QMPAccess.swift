/// How vqscope can reach a QEMU's QMP, judged from its command line without connecting.
public enum QMPAccess: Hashable, Sendable {
    /// Unix sockets on the command line (`-qmp unix:PATH`, a control `-mon` on a `-chardev socket`
    /// with a path) that vqscope connects to, in order. One another client holds answers nothing:
    /// vqscope then tries the next.
    case sockets([String])
    /// The only monitor is the one libvirt holds.
    case libvirt(LibvirtDomain)
    /// No QMP socket at all.
    case none

    /// `socket`, `libvirt` or `none`, as `vqscope list` shows it.
    public var kind: String {
        switch self {
        case .sockets: return "socket"
        case .libvirt: return "libvirt"
        case .none: return "none"
        }
    }

    /// The access a command line gives: its QMP socket paths other than libvirt's monitor
    /// (relative paths resolved against `workingDirectory`), else libvirt's monitor, else none.
    public init(commandLine: QEMUCommandLine, libvirtDomain: LibvirtDomain?, workingDirectory: String = "/") {
        let paths = commandLine.qmpMonitors.filter { $0 != libvirtDomain?.monitor }.compactMap(\.path).map {
            $0.hasPrefix("/") ? $0 : (workingDirectory.hasSuffix("/") ? workingDirectory : workingDirectory + "/") + $0
        }
        if !paths.isEmpty {
            self = .sockets(paths)
        } else if let libvirtDomain {
            self = .libvirt(libvirtDomain)
        } else {
            self = .none
        }
    }

    /// The sockets vqscope may connect to (none for `.libvirt` and `.none`).
    public var socketPaths: [String] {
        if case .sockets(let paths) = self { return paths }
        return []
    }
}
