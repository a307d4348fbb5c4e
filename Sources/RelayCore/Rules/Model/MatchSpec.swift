/// The conditions of a rule's `match` object, validated and normalised (docs/rules.md, "Match fields").
///
/// Fields are ANDed; the values of one field are ORed; a nil field matches every record. `not` holds conditions
/// that must not all hold. Build one with `RuleSetCompiler`; the memberwise form exists for tests and tools.
public struct MatchSpec: Sendable, Equatable {
    /// Inclusive bounds in bytes; at least one is set.
    public struct SizeRange: Sendable, Equatable {
        /// The smallest size matched, in bytes; nil for no lower bound.
        public var min: Int64?
        /// The largest size matched, in bytes; nil for no upper bound.
        public var max: Int64?

        public init(min: Int64? = nil, max: Int64? = nil) {
            self.min = min
            self.max = max
        }

        func contains(_ size: Int64) -> Bool {
            if let min, size < min { return false }
            if let max, size > max { return false }
            return true
        }
    }

    /// One `metadata` entry: the record's user metadata `name` must have one of `values`.
    public struct MetadataCondition: Sendable, Equatable {
        /// Lower-cased, always with the `x-amz-meta-` prefix, e.g. `x-amz-meta-kind`.
        public var name: String
        /// Compared exactly.
        public var values: [String]

        public init(name: String, values: [String]) {
            self.name = name
            self.values = values
        }

        /// `name` without `x-amz-meta-`, e.g. `kind`.
        var shortName: Substring { name.dropFirst(MatchSpec.metadataPrefix.count) }
    }

    /// Event names in `s3:` form: exact names, or families ending in `*` such as `s3:ObjectCreated:*`.
    public var events: [String]?
    /// Exact bucket names.
    public var buckets: [String]?
    /// Key prefixes, compared byte for byte with the decoded key.
    public var prefixes: [String]?
    /// Key suffixes, compared byte for byte with the decoded key.
    public var suffixes: [String]?
    /// Lower-cased `type/subtype`, `type/*` or `*/*`.
    public var contentTypes: [String]?
    /// Size bounds.
    public var size: SizeRange?
    /// User metadata conditions, in file order.
    public var metadata: [MetadataCondition]?
    private var notStorage: [MatchSpec]

    /// Conditions that must not all hold; nil when absent.
    public var not: MatchSpec? {
        get { notStorage.first }
        set { notStorage = newValue.map { [$0] } ?? [] }
    }

    public init(
        events: [String]? = nil,
        buckets: [String]? = nil,
        prefixes: [String]? = nil,
        suffixes: [String]? = nil,
        contentTypes: [String]? = nil,
        size: SizeRange? = nil,
        metadata: [MetadataCondition]? = nil,
        not: MatchSpec? = nil
    ) {
        self.events = events
        self.buckets = buckets
        self.prefixes = prefixes
        self.suffixes = suffixes
        self.contentTypes = contentTypes
        self.size = size
        self.metadata = metadata
        self.notStorage = not.map { [$0] } ?? []
    }

    /// True when no field is set: the spec holds for every record.
    public var isEmpty: Bool {
        events == nil && buckets == nil && prefixes == nil && suffixes == nil && contentTypes == nil && size == nil
            && metadata == nil && not == nil
    }

    static let metadataPrefix = "x-amz-meta-"
}
