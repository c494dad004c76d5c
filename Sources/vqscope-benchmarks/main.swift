// vqscope-benchmarks: measures vqscope's core against its peers on one live guest, in one run,
// and prints each figure beside the peer's with their ratio. Samples/bench/benchmark.sh boots the
// bench guest and runs it; run it by hand as
//   vqscope-benchmarks --pid PID --qmp SOCKET
// (SOCKET: a QMP socket of that QEMU no other client holds).
//
// The reads follow a plan: the guest-physical addresses of the 4 KiB and 8 MiB reads and the split
// ring read. `--write-plan FILE` writes a new plan (JSON) and exits; `--plan FILE` measures that
// plan, so a peer measured in another process reads exactly the same addresses, and
// `--drgn FIGURES` prints that peer's figures (the JSON Samples/bench/drgn-peer.py prints for the
// same plan) beside vqscope's; `--drgn-skipped REASON` says in the table why they are missing.
import Glibc
import VQCore

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Runs `body` repeatedly for at least `seconds` (and at least once); returns seconds per call.
func measure(seconds: Double = 1.0, _ body: () throws -> Void) rethrows -> Double {
    var calls = 0
    let start = now()
    var elapsed = 0.0
    repeat {
        try body()
        calls += 1
        elapsed = now() - start
    } while elapsed < seconds
    return elapsed / Double(calls)
}

/// The best of three rounds of `measure(seconds: 0.4)`: seconds per call. The peer measured in
/// another process (drgn-peer.py) times its figures the same way.
func bestOfThree(_ body: () throws -> Void) rethrows -> Double {
    var best = Double.infinity
    for _ in 0..<3 { best = min(best, try measure(seconds: 0.4, body)) }
    return best
}

func fail(_ message: String) -> Never {
    let line = Array("vqscope-benchmarks: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(2)
}

func format(_ value: Double, _ unit: String) -> String {
    let s: String
    if value >= 100 { s = String(Int(value.rounded())) }
    else if value >= 10 { s = String(Double(Int(value * 10)) / 10) }
    else { s = String(Double(Int(value * 100)) / 100) }
    return s + " " + unit
}

func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }

func row(_ what: String, _ ours: String, _ peer: String, _ ratio: Double, _ note: String) {
    print(pad(what, 50) + pad(ours, 20) + pad(peer, 20) + pad(format(ratio, "x"), 12) + note)
}

func readFile(_ path: String) -> [UInt8] {
    guard let f = fopen(path, "r") else { fail("cannot read \(path)") }
    defer { fclose(f) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
        if n == 0 { break }
        bytes += chunk[0..<n]
    }
    return bytes
}

func writeFile(_ path: String, _ text: String) {
    guard let f = fopen(path, "w") else { fail("cannot write \(path)") }
    fputs(text, f)
    if fclose(f) != 0 { fail("cannot write \(path)") }
}

/// A JSON number as a Double.
func number(_ value: JSON?) -> Double? {
    switch value {
    case .double(let d)?: return d
    case .int(let i)?: return Double(i)
    case .uint(let u)?: return Double(u)
    default: return nil
    }
}

// MARK: Arguments

var pid: Int32?
var qmpPath: String?
var vqscopePath: String?
var toolQMP: String?
var planOut: String?
var planIn: String?
var drgnPath: String?
var drgnSkipped: String?
let usage = "vqscope-benchmarks --pid PID --qmp SOCKET [--vqscope PATH --tool-qmp SOCKET] [--write-plan FILE | --plan FILE]"
    + " [--drgn FIGURES | --drgn-skipped REASON]"
var args = CommandLine.arguments.dropFirst().makeIterator()
while let a = args.next() {
    switch a {
    case "--pid": pid = args.next().flatMap { Int32($0) }
    case "--qmp": qmpPath = args.next()
    case "--vqscope": vqscopePath = args.next()
    case "--tool-qmp": toolQMP = args.next()
    case "--write-plan": planOut = args.next()
    case "--plan": planIn = args.next()
    case "--drgn": drgnPath = args.next()
    case "--drgn-skipped": drgnSkipped = args.next()
    default: fail("unknown argument \(a) (usage: \(usage))")
    }
}
guard let pid, let qmpPath else { fail("usage: \(usage)") }

let target: Target
do {
    var spec = TargetSpec(pid: pid, slots: .qmp, qmpPath: qmpPath)
    spec.qmpTimeoutMilliseconds = 30_000
    target = try Target.open(spec)
} catch { fail("\(error)") }
guard let qmp = target.qmp else { fail("no QMP connection") }
let map = target.memory.map
let ram = map.slots.filter { $0.name == "pc.ram" || $0.name.hasPrefix("ram") }
guard let biggest = ram.max(by: { $0.size < $1.size }) else { fail("no RAM slot") }
var rng = SystemRandomNumberGenerator()

// MARK: The read plan

/// The guest-physical addresses every read figure uses, vqscope's and its peers' alike.
struct ReadPlan {
    static let readSize = 4096, readCount = 4096, bulkSize = 8 << 20, bulkCount = 8
    /// Page-aligned addresses of the 4 KiB random reads.
    var reads: [GuestPhysicalAddress]
    /// Page-aligned addresses of the 8 MiB bulk reads.
    var bulk: [GuestPhysicalAddress]
    /// The split ring read (virtio-blk's queue 0): its size and three areas.
    var ring: (size: UInt16, desc: UInt64, avail: UInt64, used: UInt64)?
}

// virtio-blk's queue 0: a 256-entry split ring on the bench guests.
let blkQueue = try QMPVirtioSource.devices(client: qmp).first(where: { $0.name == "virtio-blk" })?.queues.first

@MainActor func makePlan() -> ReadPlan {
    func pages(_ count: Int, _ size: Int) -> [GuestPhysicalAddress] {
        (0..<count).map { _ in
            GuestPhysicalAddress(biggest.guest.rawValue + UInt64.random(in: 0...(biggest.size - UInt64(size)), using: &rng) / 4096 * 4096)
        }
    }
    let ring = blkQueue.map { q in
        (size: q.location.size, desc: q.location.descriptors.rawValue, avail: q.location.driverArea.rawValue,
         used: q.location.deviceArea.rawValue)
    }
    return ReadPlan(reads: pages(ReadPlan.readCount, ReadPlan.readSize), bulk: pages(ReadPlan.bulkCount, ReadPlan.bulkSize), ring: ring)
}

func planJSON(_ plan: ReadPlan) -> JSON {
    let ring: JSON = plan.ring.map { r in
        .object([("device", .string("virtio-blk")), ("queue", .int(0)), ("size", .uint(UInt64(r.size))),
                 ("desc", .uint(r.desc)), ("avail", .uint(r.avail)), ("used", .uint(r.used))])
    } ?? .null
    return .object([
        ("ram", .object([("gpa", .uint(biggest.guest.rawValue)), ("size", .uint(biggest.size))])),
        ("reads4k", .array(plan.reads.map { .uint($0.rawValue) })),
        ("bulk8m", .array(plan.bulk.map { .uint($0.rawValue) })),
        ("ring", ring),
    ])
}

func loadPlan(_ path: String) -> ReadPlan {
    let json: JSON
    do { json = try JSON.parse(readFile(path)) } catch { fail("\(path): \(error)") }
    func addresses(_ key: String, _ size: Int) -> [GuestPhysicalAddress] {
        guard let items = json[key]?.array, !items.isEmpty else { fail("\(path): no \(key) addresses") }
        return items.map { item in
            guard let a = item.uint64 else { fail("\(path): \(key) holds something other than an address") }
            // Each read within one slot, so the plain read of its host address reads the same bytes.
            guard let pieces = try? map.pieces(from: GuestPhysicalAddress(a), count: size), pieces.count == 1 else {
                fail("\(path): \(Hex.string(a)) + \(size) is not inside one RAM slot")
            }
            return GuestPhysicalAddress(a)
        }
    }
    var ring: (size: UInt16, desc: UInt64, avail: UInt64, used: UInt64)?
    if let r = json["ring"], r != .null {
        guard let size = r["size"]?.uint64.flatMap({ UInt16(exactly: $0) }), let desc = r["desc"]?.uint64,
              let avail = r["avail"]?.uint64, let used = r["used"]?.uint64 else { fail("\(path): a ring without size and areas") }
        ring = (size, desc, avail, used)
    }
    return ReadPlan(reads: addresses("reads4k", ReadPlan.readSize), bulk: addresses("bulk8m", ReadPlan.bulkSize), ring: ring)
}

let plan = planIn.map(loadPlan) ?? makePlan()
if let planOut {
    writeFile(planOut, planJSON(plan).text + "\n")
    exit(0)
}
if let r = plan.ring, let q = blkQueue?.location,
   (r.size, r.desc, r.avail, r.used) != (q.size, q.descriptors.rawValue, q.driverArea.rawValue, q.deviceArea.rawValue) {
    fail("the plan's ring is not where virtio-blk's queue 0 is now")
}

// MARK: The peer measured in another process

/// drgn's figures for the same plan, as drgn-peer.py prints them: seconds per read.
struct PeerFigures {
    var name: String
    var read4k: Double
    var bulk: Double
    var ring: Double?
    var access: String
    var connect: Double?
}

func loadDrgn(_ path: String) -> PeerFigures {
    let json: JSON
    do { json = try JSON.parse(readFile(path)) } catch { fail("\(path): \(error)") }
    func figure(_ key: String, count: Int) -> Double {
        guard let part = json[key], let seconds = number(part["seconds_per_read"]), seconds > 0 else { fail("\(path): no \(key) figure") }
        guard part["count"]?.int == count else { fail("\(path): \(key) is not of this plan's \(count) addresses") }
        return seconds
    }
    var ring: Double?
    if let r = json["ring"], r != .null {
        guard let p = plan.ring, r["desc"]?.uint64 == p.desc, r["avail"]?.uint64 == p.avail, r["used"]?.uint64 == p.used,
              r["size"]?.uint64 == UInt64(p.size) else { fail("\(path): its ring is not this plan's") }
        ring = number(r["seconds_per_read"])
    }
    return PeerFigures(name: "drgn \(json["version"]?.string ?? "?")", read4k: figure("reads4k", count: plan.reads.count),
                       bulk: figure("bulk8m", count: plan.bulk.count), ring: ring,
                       access: json["memory_access"]?.string ?? "not reported", connect: number(json["connect_seconds"]))
}
let drgn = drgnPath.map(loadDrgn)

print("vqscope benchmarks on \(target.title), slot map from \(target.source.rawValue)")
print("reads: \(plan.reads.count) random 4 KiB and \(plan.bulk.count) 8 MiB reads at page-aligned addresses in \(biggest.name)"
    + (planIn.map { " (plan \($0), the same for every peer)" } ?? ""))
print(String(repeating: "-", count: 130))
print(pad("what", 50) + pad("vqscope", 20) + pad("peer", 20) + pad("ratio", 12) + "peer (ratio: how many times faster vqscope is)")
print(String(repeating: "-", count: 130))

// MARK: Translation

let addressCount = 1 << 20
let addresses: [GuestPhysicalAddress] = (0..<addressCount).map { _ in
    GuestPhysicalAddress(biggest.guest.rawValue + UInt64.random(in: 0..<biggest.size, using: &rng))
}
var sink: UInt64 = 0
let perBatch = measure(seconds: 1.0) {
    for a in addresses { sink &+= map.hostAddress(of: a) ?? 0 }
}
let inProcessRate = Double(addressCount) / perBatch

let qmpCalls = 200
let perQMP = try measure(seconds: 1.0) {
    for i in 0..<qmpCalls {
        let reply = try qmp.humanMonitorCommand("gpa2hva \(Hex.string(addresses[i].rawValue))")
        sink &+= QMPSlotSource.parseHostAddress(reply) ?? 0
    }
} / Double(qmpCalls)
let qmpRate = 1 / perQMP
row("translate gpa->hva, in process (addr/s)", format(inProcessRate / 1e6, "M/s"), format(qmpRate, "/s"),
    inProcessRate / qmpRate, "QMP gpa2hva, one address a call")

// Agreement check, so the figures are of correct answers.
for i in 0..<50 {
    let reply = try qmp.humanMonitorCommand("gpa2hva \(Hex.string(addresses[i].rawValue))")
    guard QMPSlotSource.parseHostAddress(reply) == map.hostAddress(of: addresses[i]) else {
        fail("translation of \(addresses[i]) disagrees with QEMU's gpa2hva")
    }
}

// The command line's bulk mode: `vqscope translate` reading addresses from standard input,
// parsing, translating and printing each, start-up and slot map included.
if let vqscopePath {
    let count = 2_000_000
    let file = "/tmp/vqscope-bench-addresses-\(getpid())"
    var text = ""
    text.reserveCapacity(count * 12)
    for i in 0..<count { text += Hex.string(addresses[i % addressCount].rawValue); text += "\n" }
    guard let f = fopen(file, "w") else { fail("cannot write \(file)") }
    fputs(text, f)
    fclose(f)
    defer { unlink(file) }
    let socket = toolQMP.map { "--qmp '\($0)'" } ?? "--no-qmp"
    let command = "'\(vqscopePath)' translate --pid \(pid) \(socket) < \(file) > /dev/null"
    let start = now()
    let status = system(command)
    let elapsed = now() - start
    if status != 0 { fail("\(command) exited with \(status)") }
    let rate = Double(count) / elapsed
    row("vqscope translate < 2M addresses (addr/s)", format(rate / 1e6, "M/s"), format(qmpRate, "/s"),
        rate / qmpRate, "QMP gpa2hva, one address a call")
}

// MARK: Reads

let memFD = open("/proc/\(pid)/mem", O_RDONLY)
guard memFD >= 0 else { fail("cannot open /proc/\(pid)/mem") }

func plainRead(_ hva: UInt64, _ buffer: UnsafeMutableRawBufferPointer) {
    let n = pread(memFD, buffer.baseAddress, buffer.count, off_t(Int64(bitPattern: hva)))
    if n != buffer.count { fail("plain read of \(Hex.string(hva)) failed") }
}

/// The host address of a planned read (each lies in one slot).
func host(_ gpa: GuestPhysicalAddress) -> UInt64 {
    guard let hva = map.hostAddress(of: gpa) else { fail("\(gpa) is not guest RAM") }
    return hva
}

/// vqscope's single reads of `addresses`, one `read(at:into:)` a call, against a plain read of the
/// same bytes; returns vqscope's seconds per read.
@MainActor func singleReads(_ label: String, size: Int, _ addresses: [GuestPhysicalAddress]) throws -> Double {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 4096)
    defer { buffer.deallocate() }
    let hosts = addresses.map(host)
    // Alternate the two, so neither gains from running second on warmed page tables.
    var ours = Double.infinity, plain = Double.infinity
    for _ in 0..<3 {
        plain = min(plain, measure(seconds: 0.4) {
            for h in hosts { plainRead(h, buffer) }
        } / Double(hosts.count))
        ours = min(ours, try measure(seconds: 0.4) {
            for a in addresses { try target.memory.read(at: a, into: buffer) }
        } / Double(addresses.count))
    }
    let oursBW = Double(size) / ours / 1e9, plainBW = Double(size) / plain / 1e9
    row("\(label) (GB/s)", format(oursBW, "GB/s") + " " + format(ours * 1e6, "us"),
        format(plainBW, "GB/s"), plain / ours, "pread of /proc/PID/mem, same bytes")
    return ours
}

// 4 KiB random reads: the plan's addresses, one read a call (the peers' method), then the same
// addresses in batches of 64, one batched read (one process_vm_readv) a batch.
let single4k = try singleReads("4 KiB random reads, one a call", size: ReadPlan.readSize, plan.reads)
if let drgn {
    row("4 KiB random reads, one a call (us)", format(single4k * 1e6, "us") + " " + format(4096 / single4k / 1e9, "GB/s"),
        format(drgn.read4k * 1e6, "us"), drgn.read4k / single4k, "\(drgn.name) prog.read(physical), one a call, same addresses")
    let batch = 64
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: ReadPlan.readSize * batch, alignment: 4096)
    defer { buffer.deallocate() }
    let batches = stride(from: 0, to: plan.reads.count, by: batch).map { start in
        plan.reads[start..<min(start + batch, plan.reads.count)].enumerated().map { i, a in
            (gpa: a, buffer: UnsafeMutableRawBufferPointer(rebasing: buffer[i * ReadPlan.readSize..<(i + 1) * ReadPlan.readSize]))
        }
    }
    let batched = try bestOfThree { for b in batches { try target.memory.read(b) } } / Double(plan.reads.count)
    row("4 KiB random reads, 64 a batch (us a read)", format(batched * 1e6, "us") + " " + format(4096 / batched / 1e9, "GB/s"),
        format(drgn.read4k * 1e6, "us"), drgn.read4k / batched, "\(drgn.name) prog.read(physical), one a call (no batch call)")
}

let bulk = try singleReads("8 MiB bulk reads", size: ReadPlan.bulkSize, plan.bulk)
if let drgn {
    let size = Double(ReadPlan.bulkSize)
    row("8 MiB bulk reads (GB/s)", format(size / bulk / 1e9, "GB/s"), format(size / drgn.bulk / 1e9, "GB/s"), drgn.bulk / bulk,
        "\(drgn.name) prog.read(physical), same addresses")
}

// A batch of 64 scattered 4 KiB reads in one call (one process_vm_readv) against 64 preads.
do {
    let n = 64
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096 * n, alignment: 4096)
    defer { buffer.deallocate() }
    let addresses = Array(plan.reads.prefix(n))
    let hosts = addresses.map(host)
    let ranges = addresses.enumerated().map { i, a in
        (gpa: a, buffer: UnsafeMutableRawBufferPointer(rebasing: buffer[i * 4096..<(i + 1) * 4096]))
    }
    let ours = try measure(seconds: 1.0) { try target.memory.read(ranges) }
    let plain = measure(seconds: 1.0) {
        for (i, h) in hosts.enumerated() { plainRead(h, UnsafeMutableRawBufferPointer(rebasing: buffer[i * 4096..<(i + 1) * 4096])) }
    }
    row("64 scattered 4 KiB reads, batched (us)", format(ours * 1e6, "us"), format(plain * 1e6, "us"), plain / ours,
        "64 preads of /proc/PID/mem")
}

// MARK: Ring snapshots

// A consistent, fully decoded snapshot of virtio-blk's 256-entry split ring (indexes, both rings,
// descriptor table, in-flight chains) against QMP's x-query-virtio-queue-status (indexes only), and
// against the measured peer's raw read of the same three areas (no decoding).
if let blk = blkQueue {
    let ours = try bestOfThree { _ = try SplitRing.snapshot(memory: target.memory, location: blk.location) }
    // Through the read-only client's own path: x-query-virtio-queue-status, after x-query-virtio-status
    // at most once a second (the vhost check), as vqscope asks.
    let peer = try bestOfThree { _ = try QMPQueueStatus.deviceState(client: qmp, queue: blk) }
    let entries = blk.location.size
    row("split ring snapshot, \(entries) entries (us)", format(ours * 1e6, "us"), format(peer * 1e6, "us"), peer / ours,
        "QMP x-query-virtio-queue-status (indexes only)")
    if let drgn, let raw = drgn.ring {
        row("consistent decoded snapshot, \(entries) entries (us)", format(ours * 1e6, "us"), format(raw * 1e6, "us"), raw / ours,
            "\(drgn.name) raw read of the same three areas (no decoding)")
        print("  target, decoded snapshot within 3x of the raw read: " + (ours <= 3 * raw ? "met" : "NOT met")
            + " (\(format(ours / raw, "x")) its time)")
    }
}
print(String(repeating: "-", count: 130))
if let drgn {
    print("drgn: \(drgn.access)" + (drgn.connect.map { "; set_qemu_qmp took \(format($0 * 1e3, "ms"))" } ?? ""))
} else {
    print("drgn rows skipped: " + (drgnSkipped ?? "no drgn figures given (--drgn FILE from Samples/bench/drgn-peer.py)"))
}
if sink == 42 { print("") }  // keep the work observable
