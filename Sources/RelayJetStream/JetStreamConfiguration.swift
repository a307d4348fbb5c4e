import RelayLog

/// How a ``JetStreamDeliveryLog`` reaches NATS and names what it keeps there (docs/architecture.md,
/// "The delivery log").
public struct JetStreamConfiguration: Sendable {
    /// The NATS servers, `nats://HOST:PORT` each (user and password may be in the URL); at least one.
    public var servers: [String]
    /// A NATS credentials file (`.creds`: user JWT and NKey seed), if the servers require one.
    public var credentialsFile: String?
    /// The replicas of every stream (1, or 3 on a cluster of three). Default 1.
    public var replicas: Int
    /// The first part of every stream's name: `<prefix>_DELIVERIES`, `<prefix>_DEADLETTERS`,
    /// `<prefix>_IDENTITIES`. Default `RELAY`.
    public var streamPrefix: String
    /// The first token of every subject: `<prefix>.deliveries.<target>`, `<prefix>.deadletters`,
    /// `<prefix>.identities.<identity>`. Default `relay`.
    public var subjectPrefix: String
    /// How long and how many resend identities are kept.
    public var resendWindow: ResendWindow
    /// The most pending deliveries the deliveries stream holds (appends beyond are refused with `.full`); `nil` for
    /// no limit.
    public var maxPendingCount: Int64?
    /// The most bytes the deliveries stream holds, as JetStream counts them (payload, headers and subject);
    /// `nil` for no limit.
    public var maxPendingBytes: Int64?
    /// How long one call to NATS (a publish's PubAck, a stream lookup, a fetch) may take before it fails with
    /// `.unavailable`. Default 5 s.
    public var requestTimeout: Duration
    /// How long a claim waits for a delivery when its target has none available: a delivery appended meanwhile (by
    /// any relay) is handed out as soon as it arrives. Default 250 ms.
    public var fetchWait: Duration
    /// The name this relay gives its NATS connection (seen in the server's monitoring). Default `bucket-relay`.
    public var connectionName: String
    /// The consumer settings of each target, by target name. Default ``JetStreamTargetSettings/init(ackWait:maxAckPending:)``
    /// for every target.
    public var targetSettings: @Sendable (String) -> JetStreamTargetSettings
    /// The subject MinIO's `notify_nats` target publishes events on (with `jetstream` on), stored in the events stream
    /// `<prefix>_EVENTS` that the shared consumer `router` routes from (`--jetstream-subject`,
    /// `RELAY_JETSTREAM_SUBJECT`). One subject, no wildcards (see ``eventsSubjectProblem(_:)``). Default
    /// `minio.events`.
    public var eventsSubject: String
    /// Whether opening creates or updates the streams and consumers to this configuration (`serve` does); `false`
    /// for tools such as `replay --jetstream`, which must not change the limits a relay set and fail when the streams
    /// do not exist. Default `true`.
    public var createsStreams: Bool

    /// Creates a configuration; every field but `servers` has its default.
    public init(
        servers: [String],
        credentialsFile: String? = nil,
        replicas: Int = 1,
        streamPrefix: String = "RELAY",
        subjectPrefix: String = "relay",
        resendWindow: ResendWindow = .init(),
        maxPendingCount: Int64? = nil,
        maxPendingBytes: Int64? = nil,
        requestTimeout: Duration = .seconds(5),
        fetchWait: Duration = .milliseconds(250),
        connectionName: String = "bucket-relay",
        targetSettings: @escaping @Sendable (String) -> JetStreamTargetSettings = { _ in .init() },
        eventsSubject: String = "minio.events",
        createsStreams: Bool = true
    ) {
        self.servers = servers
        self.credentialsFile = credentialsFile
        self.replicas = replicas
        self.streamPrefix = streamPrefix
        self.subjectPrefix = subjectPrefix
        self.resendWindow = resendWindow
        self.maxPendingCount = maxPendingCount
        self.maxPendingBytes = maxPendingBytes
        self.requestTimeout = requestTimeout
        self.fetchWait = fetchWait
        self.connectionName = connectionName
        self.targetSettings = targetSettings
        self.eventsSubject = eventsSubject
        self.createsStreams = createsStreams
    }

    /// What is wrong with `subject` as ``eventsSubject``, or `nil` when it is usable: tokens of printable ASCII
    /// separated by single dots, no wildcard (`*`, `>`), not starting with `$` (the server's own subjects), and not
    /// inside the relay's own subjects (`<subjectPrefix>.…`), whose streams would overlap.
    public func eventsSubjectProblem(_ subject: String) -> String? {
        guard !subject.isEmpty else { return "the subject is empty" }
        guard subject.utf8.count <= 255 else { return "the subject is longer than 255 bytes" }
        for byte in subject.utf8 where byte <= 32 || byte >= 127 {
            return "the subject holds white space, a control character or non-ASCII text; use tokens like minio.events"
        }
        let tokens = subject.split(separator: ".", omittingEmptySubsequences: false)
        if tokens.contains(where: \.isEmpty) {
            return "the subject has an empty token (a leading, trailing or double dot)"
        }
        if tokens.contains(where: { $0.contains("*") || $0.contains(">") }) {
            return "wildcards (* and >) are not accepted: the events stream takes one subject"
        }
        if subject.hasPrefix("$") { return "subjects starting with $ belong to the NATS server" }
        if tokens.first.map(String.init) == subjectPrefix {
            return "subjects under \(subjectPrefix). belong to the relay's own streams"
        }
        return nil
    }

    var deliveriesStream: String { "\(streamPrefix)_DELIVERIES" }
    var deadLettersStream: String { "\(streamPrefix)_DEADLETTERS" }
    var identitiesStream: String { "\(streamPrefix)_IDENTITIES" }
    var deliveriesSubjects: String { "\(subjectPrefix).deliveries.>" }
    var deadLettersSubject: String { "\(subjectPrefix).deadletters" }
    var identitiesSubjects: String { "\(subjectPrefix).identities.>" }
    /// The events stream: `<prefix>_EVENTS` (`RELAY_EVENTS`).
    public var eventsStream: String { "\(streamPrefix)_EVENTS" }
    /// The durable consumer of the events stream that every relay routes from.
    public var routerConsumer: String { "router" }

    func deliveriesSubject(target: String) -> String {
        "\(subjectPrefix).deliveries.\(SubjectToken.encode(target))"
    }

    func identitySubject(_ identity: ResendIdentity) -> String {
        let hex = identity.bytes.map { byte in
            let text = String(byte, radix: 16)
            return byte < 16 ? "0" + text : text
        }
        return "\(subjectPrefix).identities.\(hex.joined())"
    }

    func durable(target: String) -> String {
        "\(streamPrefix)_DELIVER_\(SubjectToken.encode(target))"
    }
}

/// The durable consumer of one target: shared by every relay, it bounds the target's work over the whole cluster.
public struct JetStreamTargetSettings: Sendable, Equatable {
    /// How long a relay may hold a delivery without an outcome before JetStream hands it to another relay: longer
    /// than the target's timeout. Held deliveries are kept alive with progress acks while the log runs as a service.
    /// Default 60 s.
    public var ackWait: Duration
    /// The most deliveries of the target handed out and not yet settled, over every relay: in flight, waiting for a
    /// retry in a relay, or released. Default 1,000.
    public var maxAckPending: Int

    public init(ackWait: Duration = .seconds(60), maxAckPending: Int = 1_000) {
        self.ackWait = ackWait
        self.maxAckPending = maxAckPending
    }
}

/// A target name as one subject token and consumer-name part: `[A-Za-z0-9-]` stay, every other byte becomes `_XX`
/// (hex of the UTF-8 byte), so distinct names stay distinct and no name can form `.`, `*`, `>` or white space.
enum SubjectToken {
    static func encode(_ name: String) -> String {
        var out = ""
        for byte in name.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "_" + (byte < 16 ? "0" + hex : hex)
            }
        }
        return out.isEmpty ? "_" : out
    }

    /// The name of a token made by ``encode(_:)``; `nil` for a token it cannot have made.
    static func decode(_ token: String) -> String? {
        if token == "_" { return "" }
        var bytes: [UInt8] = []
        var iterator = Array(token.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "_") {
                guard let high = iterator.next(), let low = iterator.next(),
                    let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
                else { return nil }
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}
