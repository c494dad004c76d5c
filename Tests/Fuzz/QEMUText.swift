// Fuzz target: the text vqscope reads from QEMU, libvirt and /proc: ProcessMapping.parse
// (/proc/PID/maps), FlatView.parse (`info mtree -f`), QMPSlotSource.parseHostAddress (`gpa2hva`),
// QEMU's command line (each line an argument, as /proc/PID/cmdline's NUL-separated words: options
// in key=value syntax and JSON, sizes, QMP monitors, libvirt's domain), UnixSocketTable
// (/proc/PID/net/unix) and LibvirtStatusFile (/run/libvirt/qemu/NAME.xml). Input: [0] which
// address space FlatView looks for (bit 0: "memory" or "I/O"); then the text (invalid UTF-8
// repaired as String(decoding:) does).
import VQCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let space = input.u8() & 1 == 0 ? "memory" : "I/O"
    let text = String(decoding: input.rest(), as: UTF8.self)
    let lineList = text.split(whereSeparator: \.isNewline).map(String.init)
    let lines = lineList.count

    let mappings = ProcessMapping.parse(text)
    require(mappings.count <= lines, "\(mappings.count) mappings from \(lines) lines")
    for m in mappings {
        require(m.start < m.end, "mapping \(m.start)-\(m.end)")
        _ = m.isAnonymous
        _ = m.size
    }

    if let ranges = try? FlatView.parse(text, addressSpace: space) {
        require(ranges.count <= lines, "\(ranges.count) ranges from \(lines) lines")
        for r in ranges {
            require(r.last >= r.start, "range \(r.start)-\(r.last)")
            _ = r.size
            _ = r.isMemory
        }
    }

    for line in lineList.prefix(64) {
        _ = QMPSlotSource.parseHostAddress(line)
        checkOptions(line)
        checkSize(line)
    }
    checkCommandLine(["qemu-system-x86_64"] + lineList.prefix(256))

    let sockets = UnixSocketTable(parsing: text)
    require(sockets.paths.count <= max(0, lines - 1), "\(sockets.paths.count) sockets from \(lines) lines")
    require(sockets.paths.values.allSatisfy { !$0.isEmpty }, "an empty socket path")
    let status = LibvirtStatusFile(parsing: text)
    if let pid = status.pid { require(text.contains("pid"), "pid \(pid) from text without one") }
    return 0
}

/// One option value in either syntax: JSON gives pairs only when it parses, and its pairs, written
/// back as a JSON object of strings, read back the same.
private func checkOptions(_ text: String) {
    let options = QEMUOptions(text, impliedKey: "type")
    switch options.syntax {
    case .invalidJSON:
        require(text.hasPrefix("{") && options.pairs.isEmpty, "invalid JSON gave \(options.pairs.count) pairs")
    case .json:
        require(text.hasPrefix("{"), "JSON without a brace")
        let again = QEMUOptions(JSON.object(options.pairs.map { ($0.0, .string($0.1)) }).text)
        require(again.syntax == .json && again == options, "JSON pairs did not read back: \(options.pairs) vs \(again.pairs)")
    case .keyValue:
        require(!text.hasPrefix("{"), "a brace read as key=value")
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).count
        require(options.pairs.count <= parts, "\(options.pairs.count) pairs from \(parts) comma-separated parts")
    }
    _ = options["type"]
}

/// A size: an explicit suffix wins over the default unit; `-m`'s sizes are whole 8 KiB pages.
private func checkSize(_ text: String) {
    let bytes = QEMUSize.parse(text)
    let mib = QEMUSize.parse(text, defaultUnit: 1 << 20)
    if let bytes, let mib { require(bytes <= mib, "\(text): \(bytes) bytes but \(mib) with MiB as the default") }
    if let ram = QEMUSize.parseRAMSize(text) { require(ram % 8192 == 0, "\(text): RAM \(ram) not in 8 KiB pages") }
}

/// A whole command line: the QMP socket paths are the monitors' paths, and a libvirt domain has a
/// name and libvirt's monitor.
private func checkCommandLine(_ arguments: [String]) {
    let line = QEMUCommandLine(arguments: arguments)
    require(line.qmpSockets == line.qmpMonitors.compactMap(\.path), "sockets \(line.qmpSockets) vs monitors \(line.qmpMonitors)")
    if let domain = LibvirtDomain(commandLine: line) {
        require(!domain.name.isEmpty && domain.monitor.chardevID == LibvirtDomain.monitorChardevID, "domain \(domain)")
        let access = QMPAccess(commandLine: line, libvirtDomain: domain)
        require(!access.socketPaths.contains { $0 == domain.monitor.path }, "libvirt's monitor offered as a socket")
    }
    for option in ["-device", "-object", "-blockdev", "-netdev"] { _ = line.options(option) }
}
