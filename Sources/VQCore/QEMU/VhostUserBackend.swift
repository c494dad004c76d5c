/// A vhost-user back-end process (qemu-storage-daemon, an SPDK or DPDK application, virtiofsd) and
/// the QEMU whose guest RAM it maps: the same shared file (a memfd, a hugetlbfs or /dev/shm file),
/// told apart by device and inode in both processes' `/proc/PID/maps`.
///
/// Its slot map puts each guest-physical range at the back-end's own virtual address, so that rings
/// and buffers read through it show the addresses a back-end developer sees in their logs and debugger.
public struct VhostUserBackend: Sendable, Hashable {
    /// The back-end's PID.
    public var pid: Int32
    /// Its executable (`/usr/bin/qemu-storage-daemon`).
    public var executable: String
    /// The QEMU whose RAM it maps.
    public var qemuPID: Int32

    public init(pid: Int32, executable: String, qemuPID: Int32) {
        self.pid = pid
        self.executable = executable
        self.qemuPID = qemuPID
    }

    /// The executable's file name.
    public var name: String { String(executable.split(separator: "/").last ?? "?") }

    /// The shared file mappings of a process: what a QEMU's guest RAM could be in.
    static func sharedFiles(_ mappings: [ProcessMapping]) -> [ProcessMapping] {
        mappings.filter { $0.shared && $0.inode != 0 && !$0.device.isEmpty }
    }

    /// Which of `candidates` (QEMU PIDs with their mappings) maps a file that `backend` maps too;
    /// nil when none does. Several: the one sharing the most bytes.
    public static func qemu(sharingWith backend: [ProcessMapping], candidates: [(pid: Int32, mappings: [ProcessMapping])]) -> Int32? {
        let files = Set(sharedFiles(backend).map { "\($0.device):\($0.inode)" })
        guard !files.isEmpty else { return nil }
        let scored = candidates.map { c in
            (c.pid, sharedFiles(c.mappings).filter { files.contains("\($0.device):\($0.inode)") }.reduce(UInt64(0)) { $0 + $1.size })
        }.filter { $0.1 > 0 }
        return scored.max { $0.1 < $1.1 }?.0
    }

    /// QEMU's slot map moved into the back-end's address space: each slot's host range is followed
    /// through QEMU's mapping to a file offset, and that offset to where the back-end maps the same
    /// file. What the back-end does not map (ROMs, RAM it was not given) becomes a named hole; a slot
    /// may split where either process's mappings end.
    public static func slotMap(qemu map: SlotMap, qemuMappings: [ProcessMapping], backendMappings: [ProcessMapping]) throws(TargetError) -> SlotMap {
        let ours = sharedFiles(qemuMappings).sorted { $0.start < $1.start }
        let theirs = sharedFiles(backendMappings)
        var slots: [MemorySlot] = []
        var holes = map.holes
        for slot in map.slots where slot.size > 0 {
            var done: UInt64 = 0
            while done < slot.size {
                let host = slot.host &+ done
                let guest = GuestPhysicalAddress(slot.guest.rawValue &+ done)
                var length = slot.size - done
                guard let q = ours.last(where: { $0.start <= host }), q.end > host else {
                    // Not a shared file in QEMU: up to the next shared mapping, a hole.
                    if let next = ours.first(where: { $0.start > host }) { length = min(length, next.start - host) }
                    holes.append(MemoryHole(guest: guest, size: length, name: "\(slot.name) (not in shared memory)"))
                    done += length
                    continue
                }
                length = min(length, q.end - host)
                let fileOffset = q.offset &+ (host - q.start)
                if let b = theirs.first(where: { $0.device == q.device && $0.inode == q.inode && $0.offset <= fileOffset && fileOffset < $0.offset &+ $0.size }) {
                    length = min(length, b.offset &+ b.size &- fileOffset)
                    slots.append(MemorySlot(guest: guest, size: length, host: b.start &+ (fileOffset - b.offset), name: slot.name, kind: slot.kind))
                } else {
                    if let next = theirs.filter({ $0.device == q.device && $0.inode == q.inode && $0.offset > fileOffset }).map(\.offset).min() {
                        length = min(length, next - fileOffset)
                    }
                    holes.append(MemoryHole(guest: guest, size: length, name: "\(slot.name) (not mapped by the back-end)"))
                }
                done += length
            }
        }
        guard !slots.isEmpty else {
            throw .noSlotMap("the back-end maps none of QEMU's guest RAM at the offsets QEMU uses")
        }
        holes.sort { $0.guest < $1.guest }
        do { return try SlotMap(slots: slots, holes: holes) } catch {
            throw .noSlotMap("the back-end's slot map: \(error)")
        }
    }
}
