extension QueueHealthTracker {
    /// What the tracker remembers between observations: enough to continue a watch later. A
    /// command run can save it (``json``) and the next one restore it (``init(json:)``), so that
    /// ages keep growing across runs; times are monotonic seconds (`CLOCK_MONOTONIC` is the same
    /// clock for every process of one boot).
    public struct Memory: Sendable, Hashable {
        /// Buffers the device used, seen at one observation.
        public struct UsedMove: Sendable, Hashable {
            /// When it was seen.
            public var time: Double
            /// How many buffers (packed: ring slots).
            public var count: Int

            /// A move from its parts.
            public init(time: Double, count: Int) {
                self.time = time
                self.count = count
            }
        }

        /// When the queue was first observed.
        public var firstObserved: Double?
        /// When it was last observed.
        public var lastObserved: Double?
        /// The device's progress at the last observation (``RingSnapshot/deviceProgress``).
        public var deviceProgress: UInt16?
        /// Since when it has had that value (the first observation if it never moved).
        public var deviceProgressSince: Double?
        /// The driver's progress at the last observation (``RingSnapshot/driverProgress``).
        public var driverProgress: UInt16?
        /// Since when each chain in flight at the last observation has been seen.
        public var chainsSince: [RingSnapshot.InFlightChain.Identity: Double]
        /// Moves of the device's progress within the last threshold.
        public var recentUses: [UsedMove]
        /// Since when nothing has been in flight and the driver made nothing available.
        public var emptySince: Double?
        /// Codes of the problems of the last consistent observation.
        public var problemCodes: Set<String>?

        /// An empty memory: nothing observed yet.
        public init(firstObserved: Double? = nil, lastObserved: Double? = nil, deviceProgress: UInt16? = nil,
                    deviceProgressSince: Double? = nil, driverProgress: UInt16? = nil,
                    chainsSince: [RingSnapshot.InFlightChain.Identity: Double] = [:], recentUses: [UsedMove] = [],
                    emptySince: Double? = nil, problemCodes: Set<String>? = nil) {
            self.firstObserved = firstObserved
            self.lastObserved = lastObserved
            self.deviceProgress = deviceProgress
            self.deviceProgressSince = deviceProgressSince
            self.driverProgress = driverProgress
            self.chainsSince = chainsSince
            self.recentUses = recentUses
            self.emptySince = emptySince
            self.problemCodes = problemCodes
        }
    }

}

extension QueueHealthTracker.Memory {
    /// The memory as JSON (times in seconds, as numbers).
    public var json: JSON {
        func time(_ t: Double?) -> JSON { t.map { .double($0) } ?? .null }
        let chains = chainsSince.sorted { ($0.value, $0.key.position, $0.key.tag) < ($1.value, $1.key.position, $1.key.tag) }
        return .object([
            ("first", time(firstObserved)), ("last", time(lastObserved)),
            ("device", .uint(deviceProgress.map(UInt64.init))), ("device_since", time(deviceProgressSince)),
            ("driver", .uint(driverProgress.map(UInt64.init))),
            ("chains", .array(chains.map { .array([.uint(UInt64($0.key.position)), .uint(UInt64($0.key.tag)), .double($0.value)]) })),
            ("uses", .array(recentUses.map { .array([.double($0.time), .int(Int64($0.count))]) })),
            ("empty_since", time(emptySince)),
            ("problems", problemCodes.map { .array($0.sorted().map { .string($0) }) } ?? .null),
        ])
    }

    /// A memory from its ``json`` form; `nil` when it is not one.
    public init?(json: JSON) {
        func time(_ value: JSON?) -> Double? {
            switch value {
            case .double(let d)?: return d.isFinite ? d : nil
            case .int(let i)?: return Double(i)
            case .uint(let u)?: return Double(u)
            default: return nil
            }
        }
        func u16(_ value: JSON?) -> UInt16? { value?.uint64.flatMap { UInt16(exactly: $0) } }
        guard case .object = json, let first = time(json["first"]), let last = time(json["last"]) else { return nil }
        var chains: [RingSnapshot.InFlightChain.Identity: Double] = [:]
        for entry in json["chains"]?.array ?? [] {
            guard let parts = entry.array, parts.count == 3, let position = u16(parts[0]), let tag = u16(parts[1]),
                  let since = time(parts[2]) else { return nil }
            chains[.init(position: position, tag: tag)] = since
        }
        var uses: [UsedMove] = []
        for entry in json["uses"]?.array ?? [] {
            guard let parts = entry.array, parts.count == 2, let t = time(parts[0]), let n = parts[1].int else { return nil }
            uses.append(UsedMove(time: t, count: n))
        }
        self.init(firstObserved: first, lastObserved: last, deviceProgress: u16(json["device"]),
                  deviceProgressSince: time(json["device_since"]), driverProgress: u16(json["driver"]),
                  chainsSince: chains, recentUses: uses, emptySince: time(json["empty_since"]),
                  problemCodes: json["problems"]?.array.map { Set($0.compactMap(\.string)) })
    }
}
