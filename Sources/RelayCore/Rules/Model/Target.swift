/// A named downstream HTTP endpoint, as declared under `targets` in a rule file (docs/rules.md, "Targets").
///
/// Every `${NAME}` in `url`, header values and signing secrets has been replaced from the environment at load.
public struct Target: Sendable {
    /// The target's name, unique across all rule files.
    public var name: String
    /// An `http://` or `https://` URL.
    public var url: String
    /// Extra request headers, in file order. Names are HTTP tokens, unique ignoring case; values hold no control
    /// character (C0, so CR, LF, NUL and HTAB, or DEL), also after `${NAME}` expansion.
    public var headers: [(name: String, value: String)]
    /// The payload format; default `.minio`.
    public var format: TargetFormat
    /// The timeout of one attempt; default 10 s.
    public var timeout: Duration
    /// The most deliveries to this target in flight at once: 1...1024; default 16.
    public var maxInFlight: Int
    /// The retry policy.
    public var retry: RetryConfiguration
    /// Standard Webhooks signing secrets, newest first (several during a rotation); empty when requests are not
    /// signed. Each is either `whsec_` followed by base64 (validated) or a raw secret used as its UTF-8 bytes.
    public var signingSecrets: [String]
    /// TLS settings (a private CA, a client certificate, or no verification); nil: the system's trust store.
    public var tls: TargetTLS?
    /// Whether deliveries of one (bucket, key) go one at a time, in `sequencer` order; default `.none`
    /// (docs/delivery.md, "Ordering").
    public var ordering: TargetOrdering
    /// Batched delivery (format `records` only); nil: one record per request.
    public var batch: TargetBatch?
    /// The rule file that declares the target, as in `RuleSource.path`.
    public var file: String

    /// `timeout` when a rule file gives none: 10 s.
    public static let defaultTimeout: Duration = .seconds(10)
    /// `maxInFlight` when a rule file gives none: 16.
    public static let defaultMaxInFlight = 16

    public init(
        name: String,
        url: String,
        headers: [(name: String, value: String)] = [],
        format: TargetFormat = .minio,
        timeout: Duration = Target.defaultTimeout,
        maxInFlight: Int = Target.defaultMaxInFlight,
        retry: RetryConfiguration = RetryConfiguration(),
        signingSecrets: [String] = [],
        tls: TargetTLS? = nil,
        ordering: TargetOrdering = .none,
        batch: TargetBatch? = nil,
        file: String = ""
    ) {
        self.name = name
        self.url = url
        self.headers = headers
        self.format = format
        self.timeout = timeout
        self.maxInFlight = maxInFlight
        self.retry = retry
        self.signingSecrets = signingSecrets
        self.tls = tls
        self.ordering = ordering
        self.batch = batch
        self.file = file
    }
}
