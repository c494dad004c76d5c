/// A virtio-serial control message (virtio 1.2, 5.3.6.2), on the control queues of a multiport
/// device: `virtio_console_control` (id u32 port, event u16, value u16), followed for PORT_NAME by
/// the port's name and for RESIZE by the console size (cols u16, rows u16).
public struct VirtioConsoleControl: Sendable, Hashable {
    /// The header's size.
    public static let headerSize = 8

    /// The port the message is about.
    public var port: UInt32
    public var event: UInt16
    public var value: UInt16
    /// PORT_NAME's name bytes (printable, cut at 64 characters).
    public var name: String?
    /// RESIZE's console size.
    public var columns: UInt16?
    public var rows: UInt16?
    /// `true` from the device (control receive queue), `false` from the driver.
    public var fromDevice: Bool

    /// Decodes the message at the start of `bytes`; nil when they are fewer than 8.
    public init?(_ bytes: [UInt8], fromDevice: Bool) {
        var r = PayloadReader(bytes)
        guard let port = r.u32(), let event = r.u16(), let value = r.u16() else { return nil }
        self.port = port
        self.event = event
        self.value = value
        self.fromDevice = fromDevice
        if event == 7 { name = PayloadReader.cString(r.takeUpTo(r.remaining)) }
        if event == 5, let columns = r.u16(), let rows = r.u16() {
            self.columns = columns
            self.rows = rows
        }
    }

    /// `DEVICE_READY`, `PORT_ADD`, `PORT_OPEN`... (VIRTIO_CONSOLE_*).
    public var eventName: String {
        let names = ["DEVICE_READY", "PORT_ADD", "PORT_REMOVE", "PORT_READY", "CONSOLE_PORT", "RESIZE", "PORT_OPEN", "PORT_NAME"]
        return Int(event) < names.count ? names[Int(event)] : "event \(event)"
    }

    /// `console-ctrl port 1 PORT_NAME "org.qemu.guest_agent.0"`, `console-ctrl port 0 PORT_OPEN 1`.
    public var summary: String {
        var s = "console-ctrl "
        if event != 0 { s += "port \(port) " }
        s += eventName
        switch event {
        case 7: s += " \"\(name ?? "")\""
        case 5: s += columns.map { " \($0)x\(rows ?? 0)" } ?? " (no size)"
        default: s += " \(value)"
        }
        return s
    }
}
