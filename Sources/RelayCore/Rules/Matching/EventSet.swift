/// A set of `EventNameCatalog` ids as a 128-bit mask: membership is one shift and one AND, with no allocation.
struct EventSet: Sendable, Equatable {
    private var low: UInt64 = 0
    private var high: UInt64 = 0

    /// Ids must be below 128 (`EventNameCatalog.allNames` is checked by a test).
    mutating func insert(_ id: Int) {
        if id < 64 {
            low |= 1 << UInt64(id)
        } else if id < 128 {
            high |= 1 << UInt64(id - 64)
        }
    }

    @inline(__always)
    func contains(_ id: Int) -> Bool {
        if id < 0 { return false }
        if id < 64 { return low & (1 << UInt64(id)) != 0 }
        if id < 128 { return high & (1 << UInt64(id - 64)) != 0 }
        return false
    }

    /// The ids in both sets.
    func intersection(_ other: EventSet) -> EventSet {
        var out = EventSet()
        out.low = low & other.low
        out.high = high & other.high
        return out
    }
}
