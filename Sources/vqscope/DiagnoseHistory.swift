import Glibc
import VQCore

/// What earlier `diagnose` runs saw of one QEMU process's queues, kept in a small file so that a
/// later run continues their watch: a chain still in flight keeps its age, an unmoved used index
/// its "since". Host-side only (nothing is written to the guest), per user, in
/// `$XDG_RUNTIME_DIR/vqscope-UID/` (else `/tmp/vqscope-UID/`), one file per QEMU process and boot:
/// `diagnose-PID-STARTTIME.json`. A watch not continued for ``maxGap`` seconds is forgotten.
struct DiagnoseHistory {
    /// Seconds after which a saved watch is not continued: ages then start again.
    static let maxGap: Double = 600

    let path: String
    private let bootID: String
    private var entries: [(key: String, memory: QueueHealthTracker.Memory)] = []

    /// The history of process `pid`, loaded when there is one; `nil` when the process or the
    /// history directory cannot be identified safely (then runs do without).
    init?(pid: Int32) {
        guard let start = Self.startTime(of: pid) else { return nil }
        guard let boot = Self.readText("/proc/sys/kernel/random/boot_id")?.split(separator: "\n").first else { return nil }
        guard let directory = Self.privateDirectory() else { return nil }
        bootID = String(boot)
        path = directory + "/diagnose-\(pid)-\(start).json"
        load()
    }

    /// The saved memory of the queue at `location`, if it was observed less than ``maxGap`` ago.
    func memory(for location: VirtqueueLocation, now: Double) -> QueueHealthTracker.Memory? {
        guard let m = entries.first(where: { $0.key == Self.key(location) })?.memory,
              let last = m.lastObserved, now >= last, now - last <= Self.maxGap else { return nil }
        return m
    }

    /// Records the memory of the queue at `location`.
    mutating func set(_ memory: QueueHealthTracker.Memory, for location: VirtqueueLocation) {
        let key = Self.key(location)
        entries.removeAll { $0.key == key }
        entries.append((key, memory))
    }

    /// Writes the history (to a temporary file renamed over the old one). Failures are ignored:
    /// the history only lengthens later runs' ages.
    func save(now: Double) {
        let kept = entries.filter { ($0.memory.lastObserved ?? 0) >= now - Self.maxGap }
        let json = JSON.object([
            ("version", .int(1)), ("boot_id", .string(bootID)),
            ("queues", .array(kept.map { .object([("key", .string($0.key)), ("memory", $0.memory.json)]) })),
        ])
        let temporary = path + ".\(getpid()).tmp"
        guard case .success(let fd) = Sys.createPrivate(temporary) else { return }
        let bytes = Array((json.text + "\n").utf8)
        let written = bytes.withUnsafeBytes { Sys.write(fd, all: $0) }
        Sys.close(fd)
        if case .success = written { rename(temporary, path) }
        unlink(temporary)
        removeHistoriesOfEndedProcesses()
    }

    /// Deletes the histories of QEMU processes that have ended (or whose PID now names another process).
    private func removeHistoriesOfEndedProcesses() {
        let directory = String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)])
        guard let dir = opendir(directory) else { return }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            let parts = name.split(separator: "-")
            guard name.hasPrefix("diagnose-"), name.hasSuffix(".json"), parts.count == 3, let pid = Int32(parts[1]) else { continue }
            if Self.startTime(of: pid).map({ "\($0).json" }) != String(parts[2]) { unlink(directory + "/" + name) }
        }
    }

    private mutating func load() {
        guard let text = Self.readText(path), let json = try? JSON.parse(text),
              json["version"]?.int == 1, json["boot_id"]?.string == bootID else { return }
        for entry in json["queues"]?.array ?? [] {
            guard let key = entry["key"]?.string, let memoryJSON = entry["memory"],
                  let memory = QueueHealthTracker.Memory(json: memoryJSON) else { continue }
            entries.append((key, memory))
        }
    }

    /// When process `pid` started (clock ticks after boot, /proc/PID/stat field 22), or `nil`.
    private static func startTime(of pid: Int32) -> UInt64? {
        guard let stat = readText("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return nil }
        // The fields after the command name start with field 3 (state).
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? UInt64(fields[19]) : nil
    }

    /// `split@0x2a0f000/256`: a queue by its rings, not its name.
    private static func key(_ location: VirtqueueLocation) -> String {
        "\(location.layout.rawValue)@\(Hex.string(location.descriptors.rawValue))/\(location.size)"
    }

    /// `$XDG_RUNTIME_DIR/vqscope-UID` (else under /tmp), created 0700; `nil` unless it is a real
    /// directory of this user that nobody else can write.
    private static func privateDirectory() -> String? {
        var base = "/tmp"
        if let runtime = getenv("XDG_RUNTIME_DIR").map({ String(cString: $0) }), runtime.hasPrefix("/") { base = runtime }
        let directory = base + "/vqscope-\(getuid())"
        _ = mkdir(directory, 0o700)
        var info = stat()
        guard lstat(directory, &info) == 0, info.st_mode & S_IFMT == S_IFDIR, info.st_uid == getuid(),
              info.st_mode & 0o022 == 0 else { return nil }
        return directory
    }

    /// A small text file, or `nil` (not following a symlink at the last component).
    private static func readText(_ path: String) -> String? {
        guard case .success(let bytes) = Sys.readFile(path, limit: 16 << 20, followLinks: false) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}
