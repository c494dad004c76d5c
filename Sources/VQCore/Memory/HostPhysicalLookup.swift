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
            // The batch failed (the process exited, say): each address's own answer.
            return zip(pagemap.eachEntry(for: addresses), addresses).map { entry, hva in
                switch entry {
                case .success(let e): return e.hostPhysical(of: hva)
                case .failure(let error): return .failure(.unreadable("\(error)"))
                }
            }
        }
    }
}
