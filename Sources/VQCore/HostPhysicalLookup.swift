/// Host-physical addresses of host-virtual ones, through the process's page map, in batches.
public struct HostPhysicalLookup {
    public let pagemap: Pagemap

    public init(pid: Int32) throws(TargetError) {
        pagemap = try Pagemap(pid: pid)
    }

    /// One result per address, in order. A page that is not resident has no host-physical address
    /// (QEMU's own gpa2hpa faults it in first; vqscope never touches the guest's pages).
    public func lookup(_ addresses: [HostVirtualAddress]) -> [Result<HostPhysicalAddress, PagemapError>] {
        do {
            let entries = try pagemap.entries(for: addresses)
            return zip(entries, addresses).map { $0.hostPhysical(of: $1) }
        } catch {
            // A batch failed as a whole (the process exited, say): fall back to one at a time so
            // each address gets its own answer.
            return addresses.map { hva in
                do { return try pagemap.entries(for: [hva])[0].hostPhysical(of: hva) } catch {
                    return .failure(.unreadable("\(error)"))
                }
            }
        }
    }
}
