import RelayCore

/// In tests, an integer literal is a time in milliseconds since 1970-01-01 UTC.
extension Timestamp: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int64) {
        self.init(millisecondsSince1970: value)
    }
}
