import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import Prometheus
import RelayCore
import RelayDelivery
import RelayJetStream
import RelayLog
import RelaySpool
import ServiceLifecycle
import Synchronization
import UnixSignals

/// Why the relay could not start: invalid rules, or a data directory it cannot use.
public struct RelayStartError: Error, CustomStringConvertible {
    public enum Code: String, Sendable {
        case invalidRules = "invalid_rules"
        case dataDirectory = "data_directory"
        case deliveryLog = "delivery_log"
        case transport
        case sourceAuthentication = "source_authentication"
        case tls
    }

    public var code: Code
    public var message: String
    public var diagnostics: RuleSetDiagnostics?

    public var description: String { message }
}

/// The relay: rules, delivery log, delivery service and HTTP server, wired together (docs/architecture.md).
///
/// Shape of a run: `Relay(configuration:logger:)` loads the rules and opens the delivery log (throwing
/// `RelayStartError`), then `run()` serves until SIGTERM/SIGINT or `triggerGracefulShutdown()`. Every long-running
/// part is a `Service` of one `ServiceGroup`, started in the order delivery log, curl client, delivery service, event
/// router (JetStream mode), body deadlines, rule reloader, HTTP server, live tap, and stopped in the reverse order:
/// the taps are ended first, then the server stops accepting, the log closes its files last.
public final class Relay: Sendable {
    public let configuration: RelayConfiguration
    public let rules: RuleSetStore
    /// The delivery log: the SQLite spool and the dead-letter file of `--data-dir` (the default), or JetStream's
    /// streams with `--jetstream`.
    public let log: any DeliveryLog & Service
    public let delivery: DeliveryService
    public let ingress: Ingress
    /// SNS HTTP(S) subscriptions: confirmations, signed notifications (docs/interface.md, "AWS S3 through SNS").
    public let sns: SNSIngress
    /// In JetStream mode, the router of the events stream (MinIO's `notify_nats` with `jetstream` on); nil with the
    /// SQLite spool.
    public let router: EventRouter?
    /// The live tap's fan-out: `GET /tap` subscribes to it, ingress and delivery publish to it.
    public let tap = TapHub()
    let bodyDeadlines: BodyDeadlines
    /// The checks of the relay's token and of each source's own proof (B2 signature, Google OIDC token).
    let sourceAuthenticator: SourceAuthenticator
    /// Plain HTTP/1, or HTTP/1 over TLS with `configuration.tls` (its files read and checked at init).
    let server: HTTPServerBuilder
    let client: CurlClient
    let logger: Logger
    let lock: DataDirectoryLock?
    let prometheus: PrometheusCollectorRegistry?
    /// Exports the spans (`serve --otlp-endpoint`); first in the service group, so it stops last and flushes the
    /// spans of the last attempts.
    let tracingService: (any Service)?
    private let serviceGroup: Mutex<ServiceGroup?> = Mutex(nil)

    /// Loads the rules and opens the data directory.
    /// - Parameters:
    ///   - prometheus: the registry `/metrics` exports; nil leaves `/metrics` out.
    ///   - tracing: the spans of each event (docs/operations.md, "Tracing"); off by default.
    ///   - tracingService: the service that exports `tracing`'s spans, run with the relay's services.
    public init(
        configuration: RelayConfiguration,
        logger: Logger,
        prometheus: PrometheusCollectorRegistry? = nil,
        tracing: EventTracing = .off,
        tracingService: (any Service)? = nil
    ) throws {
        var configuration = configuration
        var events: JetStreamEventStream?
        self.logger = logger
        self.prometheus = prometheus
        self.tracingService = tracingService
        do {
            self.rules = try RuleSetStore.open(path: configuration.rulesPath, environment: configuration.environment)
        } catch {
            throw RelayStartError(
                code: .invalidRules,
                message: "invalid rules in \(configuration.rulesPath)",
                diagnostics: error
            )
        }
        // The certificate and key are checked before the delivery log is opened: a bad file touches nothing.
        let idleTimeout = TimeAmount.seconds(configuration.idleTimeoutSeconds)
        if let tls = configuration.tls {
            do {
                self.server = try RelayHTTPServer.https(idleTimeout: idleTimeout, tls: tls)
            } catch {
                throw RelayStartError(code: .tls, message: "cannot serve HTTPS: \(error)")
            }
        } else {
            self.server = RelayHTTPServer.http1(idleTimeout: idleTimeout)
        }
        if var jetStream = configuration.jetStream {
            // The delivery log on JetStream: no local data directory is used (nor locked).
            self.lock = nil
            jetStream.resendWindow = configuration.resendWindow
            jetStream.maxPendingCount = configuration.spoolMaxCount.map(Int64.init)
            jetStream.maxPendingBytes = configuration.spoolMaxBytes
            let rules = self.rules
            jetStream.targetSettings = { name in
                guard let target = rules.current.target(named: name) else { return .init() }
                // Longer than an attempt can take; in flight across the cluster: the target's limit, and the
                // deliveries waiting for a retry.
                return JetStreamTargetSettings(
                    ackWait: target.timeout * 2 + .seconds(30),
                    maxAckPending: max(1, target.maxInFlight) * 4
                )
            }
            if jetStream.connectionName == JetStreamConfiguration(servers: []).connectionName {
                jetStream.connectionName = "bucket-relay@\(configuration.instance)"
            }
            let log: JetStreamDeliveryLog
            do {
                log = try JetStreamDeliveryLog(configuration: jetStream, logger: logger)
            } catch {
                throw RelayStartError(
                    code: .deliveryLog,
                    message: "cannot open the delivery log on JetStream (\(jetStream.servers.joined(separator: ","))): "
                        + "\(error)"
                )
            }
            // A delivery carries up to a whole body plus its headers: bodies must fit NATS's max_payload.
            let headroom: Int64 = 65_536
            let fits = Int(max(0, log.maxMessageBytes - headroom))
            if configuration.maxBodyBytes > fits {
                guard !configuration.maxBodyIsExplicit, fits >= 64 * 1024 else {
                    throw RelayStartError(
                        code: .deliveryLog,
                        message: "the NATS server takes messages of at most \(log.maxMessageBytes) bytes, and "
                            + "--max-body \(configuration.maxBodyBytes) needs \(Int64(configuration.maxBodyBytes) + headroom): "
                            + "raise max_payload in the server's configuration or lower --max-body"
                    )
                }
                logger.notice(
                    "Request bodies limited to what the NATS server's max_payload takes",
                    metadata: ["max_body": "\(fits)", "nats.max_payload": "\(log.maxMessageBytes)"]
                )
                configuration.maxBodyBytes = fits
            }
            self.log = log
            do {
                events = try JetStreamEventStream(configuration: jetStream)
            } catch {
                throw RelayStartError(
                    code: .deliveryLog,
                    message: "cannot open the events stream \(jetStream.eventsStream) on subject "
                        + "\(jetStream.eventsSubject): \(error)"
                )
            }
        } else {
            do {
                try DataDirectoryFiles.prepare(configuration.dataDirectory)
                self.lock = try DataDirectoryLock(directory: configuration.dataDirectory)
                var spoolConfiguration = SpoolConfiguration()
                spoolConfiguration.maxPendingCount = configuration.spoolMaxCount
                spoolConfiguration.maxPendingBytes = configuration.spoolMaxBytes
                spoolConfiguration.resendWindow = configuration.resendWindow
                self.log = try SQLiteDeliveryLog(
                    directory: configuration.dataDirectory,
                    configuration: spoolConfiguration,
                    logger: logger
                )
            } catch let error as RelayStartError {
                throw error
            } catch {
                throw RelayStartError(
                    code: .dataDirectory,
                    message: "cannot use data directory \(configuration.dataDirectory): \(error)"
                )
            }
        }
        self.configuration = configuration
        Self.warnAboutUnkeptOrdering(rules: rules.current, log: log, logger: logger)
        do {
            self.client = try CurlClient()
        } catch {
            throw RelayStartError(code: .transport, message: "cannot start libcurl: \(error)")
        }
        let rules = self.rules
        self.delivery = DeliveryService(
            client: client,
            log: log,
            targets: { name in rules.current.target(named: name) },
            targetNames: { rules.current.targets.map(\.name) },
            logger: logger,
            breaker: configuration.circuitBreaker,
            tracing: tracing,
            observer: tap
        )
        self.bodyDeadlines = BodyDeadlines(timeout: configuration.bodyReadTimeout)
        self.sourceAuthenticator = try SourceAuthenticator.make(
            configuration: configuration,
            client: client,
            logger: logger
        )
        let ingress = Ingress(rules: rules, log: log, delivery: delivery, logger: logger, tracing: tracing, tap: tap)
        self.ingress = ingress
        self.sns = SNSIngress(
            configuration: configuration.sns,
            client: client,
            ingress: ingress,
            log: log,
            logger: logger
        )
        self.router = events.map { stream in
            EventRouter(
                stream: stream,
                ingress: ingress,
                targetNames: { rules.current.targets.map(\.name) },
                maxBodyBytes: configuration.maxBodyBytes,
                logger: logger
            )
        }
    }

    /// Serves until SIGTERM/SIGINT or `triggerGracefulShutdown()`, then stops gracefully: the server stops accepting,
    /// in-flight deliveries get the grace period, whatever is left stays in the spool for the next start.
    /// - Parameter onServerRunning: called with the bound port once the server listens.
    public func run(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let router = RelayRoutes.router(relay: self)
        let logger = self.logger
        let server = self.server
        let app = Application(
            router: router,
            // A connection that sends nothing for this long is closed, so idle or stalled senders cannot pile up.
            server: server,
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port),
                serverName: "bucket-relay",
                // Room for bursts of new connections (the kernel caps it at net.core.somaxconn).
                backlog: 4096
            ),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                logger.info("Relay listening", metadata: ["server.port": "\(port)"])
                await onServerRunning(port)
            },
            logger: logger
        )
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        // First, so that it stops last: the spans of the final attempts are flushed on a graceful stop.
        if let tracingService { services.append(.init(service: tracingService)) }
        // Before the delivery log and the delivery service, so that it stops after them: its last line, on a
        // graceful stop, counts the final deliveries.
        if let interval = configuration.logSummaryInterval {
            let summary = ActivitySummary(activity: delivery.activity, interval: interval, logger: logger)
            services.append(.init(service: summary))
        }
        services += [
            .init(service: log),
            .init(service: CurlClientService(client: client)),
            .init(service: delivery),
        ]
        if let eventRouter = self.router { services.append(.init(service: eventRouter)) }
        services += [
            .init(service: bodyDeadlines),
            .init(service: RulesReloader(rules: rules, logger: logger)),
            .init(service: app),
            // Stopped first: ends the taps' endless responses, which the server's graceful stop would wait for.
            .init(service: tap),
        ]
        // Told first of all: logs that the stop has begun.
        let log = self.log
        services.append(.init(service: ShutdownNotice(logger: logger, pending: { log.totals.pendingCount })))
        var groupConfiguration = ServiceGroupConfiguration(
            services: services,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        // Past the grace period, in-flight deliveries are cancelled; their rows stay in the spool for the next start.
        groupConfiguration.maximumGracefulShutdownDuration = configuration.shutdownGracePeriod
        let group = ServiceGroup(configuration: groupConfiguration)
        serviceGroup.withLock { $0 = group }
        try await group.run()
        // What the next start finds: the pending deliveries left in the spool (or the streams).
        logger.info(
            "Relay stopped",
            metadata: ["pending": "\(log.totals.pendingCount)", "pending.bytes": "\(log.totals.pendingBytes)"]
        )
    }

    /// Starts a graceful stop of a running `run()`.
    public func triggerGracefulShutdown() async {
        let group = serviceGroup.withLock { $0 }
        await group?.triggerGracefulShutdown()
    }
}

extension Relay {
    /// A target with `ordering: "key"` on a delivery log that does not keep it (JetStream): said at start, once per
    /// target, since its deliveries then go in parallel (docs/delivery.md, "Ordering").
    static func warnAboutUnkeptOrdering(rules: RuleSet, log: any DeliveryLog, logger: Logger) {
        guard !log.ordersByKey else { return }
        for target in rules.targets where target.ordering == .key {
            logger.warning(
                "Target asks for ordering by key, which this delivery log does not keep; its deliveries go in parallel",
                metadata: ["target.name": "\(target.name)", "delivery_log": "\(log)"]
            )
        }
    }
}

extension Relay {
    /// `error` as one line for an operator: a socket error as its system message and number (`Address already in
    /// use (errno 98)`), anything else as it describes itself.
    public static func describe(_ error: any Error) -> String {
        guard let io = error as? IOError else { return "\(error)" }
        return "\(String(cString: strerror(io.errnoCode))) (errno \(io.errnoCode))"
    }
}
