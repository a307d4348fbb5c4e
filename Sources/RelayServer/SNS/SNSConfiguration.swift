import RelayCore

/// Settings of the SNS HTTP(S) subscriptions `serve` accepts (docs/interface.md, "AWS S3 through SNS").
public struct SNSConfiguration: Sendable {
    /// `--sns-topic-arn ARN` (repeatable) / `RELAY_SNS_TOPIC_ARN` (comma-separated): the topics whose subscription
    /// the relay confirms and whose notifications it routes. Default none: every SNS message is refused (a
    /// confirmation 403, a notification dead-lettered `sns_topic_not_allowed`).
    public var allowedTopicARNs: Set<String> = []
    /// `--sns-ca FILE` / `RELAY_SNS_CA`: a PEM file of certificate authorities trusted, beside the system's trust
    /// store, when the relay fetches a signing certificate or a `SubscribeURL`. Default none: the system's only.
    public var caFile: String?
    /// `--sns-cert-host HOST:PORT` / `RELAY_SNS_CERT_HOST`: one more host the `SigningCertURL` and `SubscribeURL`
    /// may name, beside SNS's own (a stand-in for SNS in tests). Default none.
    public var extraHost: SNSURLPolicy.HostPort?
    /// Limit of one fetch of a certificate or a `SubscribeURL`. Default 10 s.
    public var fetchTimeout: Duration = .seconds(10)
    /// Most signing certificates kept (by URL); the oldest goes first. Default 32.
    public var maxCachedCertificates = 32

    public init() {}
}
