/// What libvirt's status file of a running domain says (`/run/libvirt/qemu/NAME.xml`, readable by
/// root only): QEMU's PID, the path of the monitor socket libvirt holds, and the domain's name and
/// UUID. Only those few attributes are read, by their fixed shape, not as general XML:
///
///     <domstatus state='running' reason='booted' pid='8365'>
///       <monitor path='/var/lib/libvirt/qemu/domain-1-vm/monitor.sock' type='unix'/>
///       ...
///       <domain type='qemu' id='1'>
///         <name>vm</name>
///         <uuid>5e1a401f-1571-428a-9b04-61b85432b942</uuid>
public struct LibvirtStatusFile: Hashable, Sendable {
    /// `<domstatus pid=...>`: the QEMU process.
    public var pid: Int32?
    /// `<monitor path=... type='unix'/>`.
    public var monitorPath: String?
    /// The domain's `<name>`.
    public var name: String?
    /// The domain's `<uuid>`.
    public var uuid: String?

    /// libvirt's run directory of the system instance (`qemu:///system`).
    public static let systemDirectory = "/run/libvirt/qemu"

    public init(parsing xml: String) {
        let text = Self.withoutComments(xml)
        if let status = Self.element("domstatus", in: text) {
            pid = Self.attribute("pid", of: status).flatMap { Int32($0) }
        }
        if let monitor = Self.element("monitor", in: text), Self.attribute("type", of: monitor) ?? "unix" == "unix" {
            monitorPath = Self.attribute("path", of: monitor)
        }
        name = Self.text(of: "name", in: text)
        uuid = Self.text(of: "uuid", in: text)
    }

    /// The status file of domain `name` of the system instance, if it exists and can be read.
    public static func read(domain name: String) -> LibvirtStatusFile? {
        guard !name.contains("/"), case .success(let bytes) = Sys.readFile("\(systemDirectory)/\(name).xml", limit: 4 << 20) else { return nil }
        return LibvirtStatusFile(parsing: String(decoding: bytes, as: UTF8.self))
    }

    /// The first start tag `<tag ...>`: the text of its attributes.
    private static func element(_ tag: String, in text: Substring) -> Substring? {
        var rest = text
        while let open = rest.firstRange(of: "<" + tag) {
            let after = rest[open.upperBound...]
            guard let close = after.firstIndex(of: ">") else { return nil }
            if let first = after.first, first == " " || first == "/" || first == ">" || first == "\n" || first == "\t" {
                return after[..<close]
            }
            rest = after
        }
        return nil
    }

    /// The text of the first `<tag>text</tag>`.
    private static func text(of tag: String, in text: Substring) -> String? {
        guard let open = text.firstRange(of: "<\(tag)>") else { return nil }
        let after = text[open.upperBound...]
        guard let close = after.firstRange(of: "</\(tag)>") else { return nil }
        return unescaped(after[..<close.lowerBound])
    }

    /// The text with every `<!-- ... -->` taken out (libvirt opens the file with one).
    private static func withoutComments(_ text: String) -> Substring {
        var result = ""
        var rest = Substring(text)
        while let open = rest.firstRange(of: "<!--") {
            result += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].firstRange(of: "-->") else { return Substring(result) }
            rest = rest[close.upperBound...]
        }
        result += rest
        return Substring(result)
    }

    /// `name='value'` or `name="value"` among a start tag's attributes.
    private static func attribute(_ name: String, of attributes: Substring) -> String? {
        var rest = attributes
        while let found = rest.firstRange(of: name + "=") {
            let preceding = found.lowerBound == attributes.startIndex ? " " : attributes[attributes.index(before: found.lowerBound)]
            let valueStart = rest[found.upperBound...]
            guard let quote = valueStart.first, quote == "'" || quote == "\"" else { return nil }
            let value = valueStart.dropFirst()
            guard let end = value.firstIndex(of: quote) else { return nil }
            if preceding == " " || preceding == "\n" || preceding == "\t" { return unescaped(value[..<end]) }
            rest = value[end...]
        }
        return nil
    }

    private static func unescaped(_ text: Substring) -> String {
        guard text.contains("&") else { return String(text) }
        return String(text.replacing("&apos;", with: "'").replacing("&quot;", with: "\"")
            .replacing("&lt;", with: "<").replacing("&gt;", with: ">").replacing("&amp;", with: "&"))
    }
}
