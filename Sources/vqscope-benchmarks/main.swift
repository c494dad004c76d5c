// vqscope-benchmarks: measures vqscope's core against its peers on one live guest, in one run,
// and prints each figure beside the peer's with their ratio. Samples/bench/benchmark.sh boots the
// bench guest and runs it; run it by hand as
//   vqscope-benchmarks --pid PID --qmp SOCKET
// (SOCKET: a QMP socket of that QEMU no other client holds).
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

func row(_ what: String, _ ours: String, _ peer: String, _ ratio: Double, _ note: String) {
    func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
    print(pad(what, 44) + pad(ours, 20) + pad(peer, 20) + pad(format(ratio, "x"), 12) + note)
}

// MARK: Arguments

var pid: Int32?
var qmpPath: String?
var vqscopePath: String?
var toolQMP: String?
var args = CommandLine.arguments.dropFirst().makeIterator()
while let a = args.next() {
    switch a {
    case "--pid": pid = args.next().flatMap { Int32($0) }
    case "--qmp": qmpPath = args.next()
    case "--vqscope": vqscopePath = args.next()
    case "--tool-qmp": toolQMP = args.next()
    default: fail("unknown argument \(a) (usage: vqscope-benchmarks --pid PID --qmp SOCKET [--vqscope PATH --tool-qmp SOCKET])")
    }
}
guard let pid, let qmpPath else { fail("usage: vqscope-benchmarks --pid PID --qmp SOCKET") }

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

print("vqscope benchmarks on \(target.title), slot map from \(target.source.rawValue)")
print(String(repeating: "-", count: 110))
print("what" + String(repeating: " ", count: 40) + "vqscope" + String(repeating: " ", count: 13) + "peer" + String(repeating: " ", count: 16) + "ratio       peer (ratio: how many times faster vqscope is)")
print(String(repeating: "-", count: 110))

// MARK: Translation

var rng = SystemRandomNumberGenerator()
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

for (size, count, label) in [(4096, 4096, "4 KiB random reads"), (8 << 20, 8, "8 MiB bulk reads")] {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 4096)
    defer { buffer.deallocate() }
    let span = biggest.size - UInt64(size)
    let offsets = (0..<count).map { _ in UInt64.random(in: 0...span, using: &rng) / 4096 * 4096 }
    // Alternate the two, so neither gains from running second on warmed page tables.
    var ours = Double.infinity, plain = Double.infinity
    for _ in 0..<3 {
        plain = min(plain, measure(seconds: 0.4) {
            for o in offsets { plainRead(biggest.host + o, buffer) }
        } / Double(count))
        ours = min(ours, try measure(seconds: 0.4) {
            for o in offsets { try target.memory.read(at: GuestPhysicalAddress(biggest.guest.rawValue + o), into: buffer) }
        } / Double(count))
    }
    let oursBW = Double(size) / ours / 1e9, plainBW = Double(size) / plain / 1e9
    row("\(label) (GB/s)", format(oursBW, "GB/s") + " " + format(ours * 1e6, "us"),
        format(plainBW, "GB/s"), plain / ours, "pread of /proc/PID/mem, same bytes")
}

// A batch of 64 scattered 4 KiB reads in one call (one process_vm_readv) against 64 preads.
do {
    let n = 64
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096 * n, alignment: 4096)
    defer { buffer.deallocate() }
    let offsets = (0..<n).map { _ in UInt64.random(in: 0..<(biggest.size - 4096), using: &rng) / 4096 * 4096 }
    let ranges = offsets.enumerated().map { i, o in
        (gpa: GuestPhysicalAddress(biggest.guest.rawValue + o), buffer: UnsafeMutableRawBufferPointer(rebasing: buffer[i * 4096..<(i + 1) * 4096]))
    }
    let ours = try measure(seconds: 1.0) { try target.memory.read(ranges) }
    let plain = measure(seconds: 1.0) {
        for (i, o) in offsets.enumerated() { plainRead(biggest.host + o, UnsafeMutableRawBufferPointer(rebasing: buffer[i * 4096..<(i + 1) * 4096])) }
    }
    row("64 scattered 4 KiB reads, batched (us)", format(ours * 1e6, "us"), format(plain * 1e6, "us"), plain / ours,
        "64 preads of /proc/PID/mem")
}
// MARK: Ring snapshots

// A consistent, fully decoded snapshot of virtio-blk's 256-entry split ring (indexes, both rings,
// descriptor table, in-flight chains) against QMP's x-query-virtio-queue-status (indexes only).
if let blk = try QMPVirtioSource.devices(client: qmp).first(where: { $0.name == "virtio-blk" })?.queues.first {
    let ours = try measure(seconds: 1.0) { _ = try SplitRing.snapshot(memory: target.memory, location: blk.location) }
    let arguments = JSON.object([("path", .string(blk.path)), ("queue", .int(0))])
    let peer = try measure(seconds: 1.0) { _ = try qmp.execute("x-query-virtio-queue-status", arguments: arguments) }
    row("split ring snapshot, \(blk.location.size) entries (us)", format(ours * 1e6, "us"), format(peer * 1e6, "us"), peer / ours,
        "QMP x-query-virtio-queue-status (indexes only)")
}
print(String(repeating: "-", count: 110))
if sink == 42 { print("") }  // keep the work observable
