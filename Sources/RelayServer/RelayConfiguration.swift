import Foundation
import RelayDelivery
import RelayJetStream
import RelayLog

/// Settings of `bucket-relay serve` (docs/interface.md, "`serve`"). Each has a flag and an environment twin `RELAY_<FLAG>`; a flag
/// beats its twin.
public struct RelayConfiguration: Sendable {
    /// `--host` / `RELAY_HOST`: the address to listen on. Default `0.0.0.0`.
    public var host: String = "0.0.0.0"
    /// `--port` / `RELAY_PORT`: the TCP port; 0 picks a free one. Default 8080.
    public var port: Int = 8080
    /// Serve HTTPS with this certificate and key instead of plain HTTP; nil: plain HTTP.
    public var tls: ServerTLS?
    /// `--rules` / `RELAY_RULES`: a rule file, or a directory of `*.json` rule files. Default `rules`.
    public var rulesPath: String = "rules"
    /// `--data-dir` / `RELAY_DATA_DIR`: holds `spool.sqlite` and `dead-letter.jsonl`. Default `data`.
    public var dataDirectory: String = "data"
    /// `--auth-token` / `RELAY_AUTH_TOKEN`: when set, requests need `Authorization: Bearer TOKEN` (MinIO's
    /// `auth_token` arrives that way). Default none.
    public var authToken: String?
    /// `--admin-token` / `RELAY_ADMIN_TOKEN`: the token of `GET /status` and its actions (a login form or
    /// `Authorization: Bearer TOKEN`). Default none: the ingress token (`authToken`) is used; with neither, `/status`
    /// answers 403.
    public var adminToken: String?
    /// `--metrics-auth` / `RELAY_METRICS_AUTH`: when true (and a token is set), `GET /metrics` needs the token too.
    /// Default false: `/metrics` is open, like `/healthz` and `/readyz`.
    public var metricsRequireToken: Bool = false
    /// `--max-body` / `RELAY_MAX_BODY`: the largest request body accepted, in bytes; larger gets 413. Default 1 MiB.
    public var maxBodyBytes: Int = 1 << 20
    /// Whether `maxBodyBytes` was set by the user; with `--jetstream` a default that exceeds what the NATS server's
    /// `max_payload` takes is lowered to fit (and said at start), an explicit one is an error.
    public var maxBodyIsExplicit = false
    /// `--spool-max` / `RELAY_SPOOL_MAX`: pending deliveries allowed in the spool, as a count. Beyond it: 503.
    public var spoolMaxCount: Int?
    /// `--spool-max` with a byte unit (e.g. `2GiB`): pending payload bytes allowed in the spool. Beyond it: 503.
    public var spoolMaxBytes: Int64?
    /// How long and how many resend identities the delivery log keeps (docs/delivery.md, "Resends"). Default 10
    /// minutes, 100,000.
    public var resendWindow = ResendWindow()
    /// `--jetstream` / `RELAY_JETSTREAM` (with `--jetstream-creds`, `--jetstream-replicas`): the delivery log on NATS
    /// JetStream instead of the SQLite spool of `--data-dir` (docs/architecture.md, "The delivery log"). Default none.
    public var jetStream: JetStreamConfiguration?
    /// `--instance` / `RELAY_INSTANCE`: this relay's name, in every log line's metadata (`relay=NAME`), the status
    /// page and the name of its NATS connections, so that the relays of one cluster can be told apart. Default the
    /// host name.
    public var instance: String = ProcessInfo.processInfo.hostName
    /// The per-target circuit breaker: threshold and probe intervals (docs/delivery.md, "Circuit breaker").
    public var circuitBreaker = CircuitBreaker.Configuration()
    /// `--log-summary-interval` / `RELAY_LOG_SUMMARY_INTERVAL`: how often the activity summary is logged at info
    /// (docs/operations.md, "Logs"); nil: never. Default 60 s.
    public var logSummaryInterval: Duration? = .seconds(60)
    /// Grace period for a graceful stop: in-flight deliveries get this long before they are left to the spool.
    public var shutdownGracePeriod: Duration = .seconds(10)
    /// Request-body bytes held in memory at once across all connections; beyond it new requests get 503.
    public var maxBufferedBodyBytes: Int = 64 << 20
    /// Request-body bytes the requests of one client (one remote address) may hold at once; beyond it that client's
    /// requests get 503 while others are still read. At least `maxBodyBytes` is allowed.
    public var maxBufferedBodyBytesPerClient: Int = 16 << 20
    /// The longest a request body may go without a new byte before the request is answered 408.
    public var bodyStallTimeout: Duration = .seconds(5)
    /// How long a request body may take to arrive before the request is answered 408.
    public var bodyReadTimeout: Duration = .seconds(30)
    /// Seconds a client connection may stay without any traffic before it is closed.
    public var idleTimeoutSeconds: Int64 = 30
    /// `--b2-signing-secret` / `RELAY_B2_SIGNING_SECRET` (or `--b2-signing-secret-file`): Backblaze B2 bodies need
    /// `X-Bz-Event-Notification-Signature` made with this secret, else 401; a good signature stands in for the
    /// relay's token. Default none: B2 bodies are admitted like any other, on the relay's token.
    public var b2SigningSecret: String?
    /// `--gcs-audience` and its companions: Pub/Sub pushes need a valid Google OIDC token, which stands in for the
    /// relay's token on them. Default none: pushes are admitted like any other body, on the relay's token.
    public var gcsPush: GCSPushAuthConfiguration?
    /// `--sns-topic-arn`, `--sns-ca`, `--sns-cert-host`: the SNS subscriptions accepted (docs/interface.md).
    public var sns = SNSConfiguration()
    /// The environment used for `${NAME}` expansion in rules.
    public var environment: [String: String] = [:]

    public init() {}
}
