import ArgumentParser
import Foundation
import Logging
import Metrics
import OTel
import Prometheus
import RelayCore
import RelayDelivery
import RelayJetStream
import RelayLog
import RelayServer
import RelaySpool
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// `bucket-relay serve`: the relay's HTTP server and delivery loop.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Receive bucket events over HTTP and deliver them to the targets the rules select.",
        discussion: """
            Every flag has an environment twin RELAY_<FLAG> (RELAY_PORT, RELAY_RULES, RELAY_DATA_DIR, \
            RELAY_AUTH_TOKEN, RELAY_AUTH_TOKEN_FILE, RELAY_ADMIN_TOKEN, RELAY_METRICS_AUTH, RELAY_MAX_BODY, RELAY_SPOOL_MAX, RELAY_TLS_CERT, RELAY_TLS_KEY, RELAY_LOG_FORMAT, RELAY_LOG_LEVEL, RELAY_HOST, \
            RELAY_OTLP_ENDPOINT, RELAY_JETSTREAM_SUBJECT, RELAY_INSTANCE, RELAY_SNS_TOPIC_ARN, RELAY_SNS_CA, \
            RELAY_SNS_CERT_HOST, RELAY_B2_SIGNING_SECRET, RELAY_GCS_AUDIENCE, ...); \
            a flag beats its twin. SIGHUP reloads the rules; SIGTERM/SIGINT stop gracefully.
            """
    )

    @Option(help: "Address to listen on (RELAY_HOST). Default 0.0.0.0.")
    var host: String?
    @Option(help: "TCP port (RELAY_PORT). Default 8080.")
    var port: Int?
    @OptionGroup var rules: RulesOptions
    @OptionGroup var dataDirectory: DataDirectoryOptions
    @Option(
        help: "Require Authorization: Bearer TOKEN, or Basic with TOKEN as password (RELAY_AUTH_TOKEN). Default none."
    )
    var authToken: String?
    @Option(
        help: ArgumentHelp(
            "Read the token from FILE, so that it is not in the command line (RELAY_AUTH_TOKEN_FILE). Default none.",
            valueName: "file"
        )
    )
    var authTokenFile: String?
    @Option(
        help: ArgumentHelp(
            "Token of the status page GET /status, its actions and the live tap GET /tap (RELAY_ADMIN_TOKEN). "
                + "Default: the --auth-token."
        )
    )
    var adminToken: String?
    @Flag(help: "Require the token on GET /metrics too (RELAY_METRICS_AUTH=true). Default off.")
    var metricsAuth = false
    @Option(help: "Largest request body, e.g. 1MiB or 1048576 (RELAY_MAX_BODY). Default 1MiB.")
    var maxBody: String?
    @Option(help: "Spool cap: a count (100000) or bytes (2GiB) of pending deliveries (RELAY_SPOOL_MAX). Default none.")
    var spoolMax: String?
    @Option(
        help: ArgumentHelp(
            "Keep the delivery log on NATS JetStream at these servers, comma-separated nats:// or tls:// URLs, "
                + "instead of the SQLite spool of --data-dir (RELAY_JETSTREAM). Default none.",
            valueName: "urls"
        )
    )
    var jetstream: String?
    @Option(
        help: ArgumentHelp(
            "NATS credentials file for --jetstream (RELAY_JETSTREAM_CREDS). Default none.",
            valueName: "file"
        )
    )
    var jetstreamCreds: String?
    @Option(help: "Replicas of the JetStream streams, 1 to 5 (RELAY_JETSTREAM_REPLICAS). Default 1.")
    var jetstreamReplicas: Int?
    @Option(
        help: ArgumentHelp(
            "Serve HTTPS with this PEM certificate chain; needs --tls-key (RELAY_TLS_CERT). Default: plain HTTP.",
            valueName: "file"
        )
    )
    var tlsCert: String?
    @Option(
        help: ArgumentHelp("The PEM private key of --tls-cert (RELAY_TLS_KEY). Default none.", valueName: "file")
    )
    var tlsKey: String?
    @Option(
        help: ArgumentHelp(
            "Subject MinIO's notify_nats target publishes events on (jetstream on), stored in stream RELAY_EVENTS and "
                + "routed by every relay; one subject, no wildcards (RELAY_JETSTREAM_SUBJECT). Default minio.events.",
            valueName: "subject"
        )
    )
    var jetstreamSubject: String?
    @Option(
        help: ArgumentHelp(
            "This relay's name in every log line (relay=NAME), the status page and its NATS connections "
                + "(RELAY_INSTANCE). Default the host name.",
            valueName: "name"
        )
    )
    var instance: String?
    @Option(
        help: ArgumentHelp(
            "Export the spans of each event (receive, spool, attempt) over OTLP/HTTP to this collector, e.g. "
                + "http://localhost:4318 (RELAY_OTLP_ENDPOINT). Default none: no spans; a traceparent is still "
                + "passed to the targets.",
            valueName: "url"
        )
    )
    var otlpEndpoint: String?
    @OptionGroup var sources: SourceOptions
    @OptionGroup(title: "SNS subscriptions") var sns: SNSOptions
    @Option(help: "Log format: text or json (RELAY_LOG_FORMAT). Default text.")
    var logFormat: String?
    // Unconditional: the next argument is the value even when it starts with '-', so that `-5s` gets the duration's
    // own error instead of the parser's "Missing value".
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "How often to log a summary of what the relay did (records, spooled, delivered, retried, dead-lettered) "
                + "at info, e.g. 60s; 0 turns it off. Each event is logged at debug (RELAY_LOG_SUMMARY_INTERVAL). "
                + "Default 60s.",
            valueName: "duration"
        )
    )
    var logSummaryInterval: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (RELAY_LOG_LEVEL). Default info.")
    var logLevel: String?

    func run() async throws {
        let configuration = try resolve()
        let format = ProcessEnvironment.twin(logFormat, "LOG_FORMAT") ?? "text"
        let levelText = ProcessEnvironment.twin(logLevel, "LOG_LEVEL") ?? "info"
        guard let level = Logger.Level(rawValue: levelText.lowercased()) else {
            throw ValidationError(
                "\(logLevel != nil ? "--log-level" : "RELAY_LOG_LEVEL"): unknown level \"\(levelText)\"; use "
                    + "trace, debug, info, notice, warning, error or critical"
            )
        }
        guard format == "text" || format == "json" else {
            throw ValidationError(
                "\(logFormat != nil ? "--log-format" : "RELAY_LOG_FORMAT"): unknown format \"\(format)\"; "
                    + "use text or json"
            )
        }
        let instance = configuration.instance
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler =
                format == "json" ? JSONLogHandler(label: label) : TextLogHandler(label: label)
            handler.logLevel = level
            // Every line names the relay that wrote it, so that the logs of several relays can be read together.
            handler[metadataKey: "relay"] = "\(instance)"
            return handler
        }
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets[AttemptDurationHistogram.name] = AttemptDurationHistogram.buckets
        factory.valueHistogramBuckets[BatchRecordsHistogram.name] = BatchRecordsHistogram.buckets
        MetricsSystem.bootstrap(factory)
        let logger = Logger(label: "bucket-relay")

        // Rules that do not load stop the start before anything is created (the relay loads them again, as it runs).
        if case .failure(let diagnostics) = RuleSetStore.load(
            path: configuration.rulesPath,
            environment: configuration.environment
        ) {
            refuse(diagnostics, in: configuration.rulesPath)
            throw ExitCode(1)
        }
        // The data directory is created 0700 and checked before anything opens a file in it (docs/security.md).
        if configuration.jetStream == nil {
            do {
                try DataDirectoryFiles.prepare(configuration.dataDirectory)
            } catch {
                printError("bucket-relay: \(error.message)")
                throw ExitCode(1)
            }
        }
        let tracing = try makeTracing(logger: logger)
        let relay: Relay
        do {
            relay = try Relay(
                configuration: configuration,
                logger: logger,
                prometheus: registry,
                tracing: tracing.tracing,
                tracingService: tracing.service
            )
        } catch let error as RelayStartError {
            if let diagnostics = error.diagnostics {
                refuse(diagnostics, in: configuration.rulesPath)
            } else {
                printError("bucket-relay: \(error.message)")
            }
            throw ExitCode(1)
        }
        let ruleSet = relay.rules.current
        for warning in ruleSet.warnings {
            logger.warning("Rule warning", metadata: ["diagnostic": "\(warning.description)"])
        }
        logger.info(
            "Relay starting",
            metadata: [
                "rules.path": "\(configuration.rulesPath)", "rules.count": "\(ruleSet.rules.count)",
                "targets.count": "\(ruleSet.targets.count)",
                "delivery_log": "\(configuration.jetStream == nil ? "sqlite" : "jetstream")",
                "data_dir": "\(configuration.jetStream == nil ? configuration.dataDirectory : "-")",
                "pending": "\(relay.log.totals.pendingCount)",
                "jetstream.subject": "\(configuration.jetStream?.eventsSubject ?? "-")",
            ]
        )
        if configuration.authToken == nil && !Self.isLoopback(configuration.host) {
            logger.warning(
                "Listening beyond loopback without a token: anyone who can reach the port can post events",
                metadata: [
                    "server.host": "\(configuration.host)",
                    "fix": "set --auth-token-file (or --auth-token), or --host 127.0.0.1",
                ]
            )
        }
        raiseOpenFileLimit(logger: logger)
        do {
            try await relay.run()
        } catch {
            printError(
                "bucket-relay: stopped: \(Relay.describe(error)) (listening on "
                    + "\(configuration.host):\(configuration.port); "
                    + "is the port in use, or the host not an address of this machine?)"
            )
            throw ExitCode(1)
        }
    }

    /// Prints every diagnostic of rules that do not load, and that `serve` is not starting.
    private func refuse(_ diagnostics: RuleSetDiagnostics, in path: String) {
        for diagnostic in diagnostics.diagnostics { printError(diagnostic.description) }
        printError("bucket-relay: \(diagnostics.errors.count) error(s) in \(path); not starting")
    }

    /// The token from `--auth-token`, `--auth-token-file` or their twins (a flag beats its twin; the two kinds are
    /// exclusive). A file's trailing newline (`\n` or `\r\n`) is dropped; a missing, unreadable or empty file is an
    /// error.
    private func resolveToken() throws -> String? {
        if authToken != nil && authTokenFile != nil {
            throw ValidationError("--auth-token and --auth-token-file are exclusive; give one")
        }
        let inline = authTokenFile == nil ? ProcessEnvironment.twin(authToken, "AUTH_TOKEN") : nil
        let file = authToken == nil ? ProcessEnvironment.twin(authTokenFile, "AUTH_TOKEN_FILE") : nil
        if inline != nil && file != nil {
            throw ValidationError("RELAY_AUTH_TOKEN and RELAY_AUTH_TOKEN_FILE are exclusive; set one")
        }
        if let inline, inline.isEmpty {
            // `--auth-token "$TOKEN"` with TOKEN unset would otherwise run a relay that any empty password opens.
            throw ValidationError("--auth-token: the token is empty; give one, or leave the flag out to run without")
        }
        guard let file else { return inline }
        let name = authTokenFile != nil ? "--auth-token-file" : "RELAY_AUTH_TOKEN_FILE"
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ValidationError("\(name): cannot read \(file); it must exist and be readable by this user")
        }
        var token = String(decoding: data, as: UTF8.self)
        while let last = token.last, last.isNewline { token.removeLast() }
        guard !token.isEmpty else {
            throw ValidationError("\(name): \(file) is empty; write the token in it (one line)")
        }
        guard !token.contains(where: { $0.isNewline }) else {
            throw ValidationError("\(name): \(file) holds more than one line; write the token alone in it")
        }
        return token
    }

    /// The tracer of `--otlp-endpoint`: swift-otel's, exporting over OTLP/HTTP (protobuf) in batches; off without an
    /// endpoint (docs/operations.md, "Tracing"). The standard `OTEL_*` variables (`OTEL_BSP_SCHEDULE_DELAY`,
    /// `OTEL_TRACES_SAMPLER`, `OTEL_EXPORTER_OTLP_HEADERS`, ...) apply on top.
    private func makeTracing(logger: Logger) throws -> (tracing: EventTracing, service: (any Service)?) {
        guard let text = ProcessEnvironment.twin(otlpEndpoint, "OTLP_ENDPOINT") else { return (.off, nil) }
        let name = otlpEndpoint != nil ? "--otlp-endpoint" : "RELAY_OTLP_ENDPOINT"
        guard let endpoint = Self.tracesEndpoint(text) else {
            throw ValidationError(
                "\(name): \"\(text)\" is not an http:// or https:// URL of an OTLP collector (e.g. http://localhost:4318)"
            )
        }
        var otel = OTel.Configuration.default
        otel.serviceName = "bucket-relay"
        otel.logs.enabled = false
        otel.metrics.enabled = false
        otel.traces.enabled = true
        otel.traces.exporter = .otlp
        otel.traces.otlpExporter.protocol = .httpProtobuf
        otel.traces.otlpExporter.endpoint = endpoint
        otel.propagators = [.traceContext]
        otel.diagnosticLogger = .custom(logger)
        do {
            let backend = try OTel.makeTracingBackend(configuration: otel)
            logger.info(
                "Exporting traces over OTLP/HTTP",
                metadata: ["otlp.endpoint": "\(RedactedURL.redact(endpoint))"]
            )
            return (EventTracing(tracer: backend.factory), backend.service)
        } catch {
            throw ValidationError("\(name): cannot set up the OTLP exporter: \(error)")
        }
    }

    /// The URL spans are posted to: the collector's base URL with `/v1/traces` appended (as for
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`), or a URL that already ends in `/v1/traces` as it is; `nil` for anything that
    /// is not an http(s) URL with a host.
    static func tracesEndpoint(_ text: String) -> String? {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = url.host, !host.isEmpty, url.query == nil, url.fragment == nil
        else { return nil }
        if url.path.hasSuffix("/v1/traces") { return text }
        var base = text
        while base.hasSuffix("/") { base.removeLast() }
        return base + "/v1/traces"
    }

    /// True for addresses that only this machine can reach.
    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }

    /// Lifts the soft limit on open files to the hard limit: each client connection and each target connection is a
    /// descriptor, and Debian's default soft limit of 1024 is reached by a few hundred slow senders.
    private func raiseOpenFileLimit(logger: Logger) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        let previous = limit.rlim_cur
        limit.rlim_cur = limit.rlim_max
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            logger.debug("Raised the open file limit", metadata: ["from": "\(previous)", "to": "\(limit.rlim_max)"])
        }
    }

    private func resolve() throws -> RelayConfiguration {
        var configuration = RelayConfiguration()
        configuration.environment = ProcessEnvironment.values
        if let instance = ProcessEnvironment.twin(instance, "INSTANCE") {
            let name = self.instance != nil ? "--instance" : "RELAY_INSTANCE"
            guard !instance.isEmpty, instance.utf8.count <= 64,
                instance.utf8.allSatisfy({ $0 > 32 && $0 < 127 })
            else {
                throw ValidationError(
                    "\(name): \"\(instance)\" is not a name: use 1 to 64 printable ASCII characters without spaces"
                )
            }
            configuration.instance = instance
        }
        if let text = ProcessEnvironment.twin(logSummaryInterval, "LOG_SUMMARY_INTERVAL") {
            let name = logSummaryInterval != nil ? "--log-summary-interval" : "RELAY_LOG_SUMMARY_INTERVAL"
            if text == "0" {
                configuration.logSummaryInterval = nil
            } else if text.hasPrefix("-") {
                throw ValidationError("\(name): durations must be positive (got \(text)); use e.g. 60s, or 0 for none")
            } else {
                do {
                    let interval = try DurationParser.parse(text)
                    guard interval >= .seconds(1) else {
                        throw ValidationError("\(name): \(text) is shorter than 1s; use 1s or more, or 0 for none")
                    }
                    configuration.logSummaryInterval = interval
                } catch let error as UnitParseError {
                    throw ValidationError("\(name): \(error)")
                }
            }
        }
        if let host = ProcessEnvironment.twin(host, "HOST") { configuration.host = host }
        if let port {
            guard (0...65535).contains(port) else {
                throw ValidationError("--port: \(port) is not a port number (0-65535)")
            }
            configuration.port = port
        } else if let text = ProcessEnvironment.twin(nil, "PORT") {
            guard let value = Int(text), (0...65535).contains(value) else {
                throw ValidationError("RELAY_PORT: \"\(text)\" is not a port number (0-65535)")
            }
            configuration.port = value
        }
        let tlsCertificate = ProcessEnvironment.twin(tlsCert, "TLS_CERT")
        let tlsKeyFile = ProcessEnvironment.twin(tlsKey, "TLS_KEY")
        switch (tlsCertificate, tlsKeyFile) {
        case (let certificate?, let key?):
            configuration.tls = ServerTLS(certificateFile: certificate, keyFile: key)
        case (nil, nil):
            break
        case (_?, nil):
            throw ValidationError("--tls-cert needs --tls-key (RELAY_TLS_KEY), the certificate's private key")
        case (nil, _?):
            throw ValidationError("--tls-key needs --tls-cert (RELAY_TLS_CERT), the certificate it belongs to")
        }
        configuration.rulesPath = rules.path
        configuration.dataDirectory = dataDirectory.path
        configuration.authToken = try resolveToken()
        try sources.apply(to: &configuration)
        configuration.sns = try sns.configuration()
        if let token = ProcessEnvironment.twin(adminToken, "ADMIN_TOKEN") {
            guard !token.isEmpty else { throw ValidationError("--admin-token: the token is empty") }
            configuration.adminToken = token
        }
        if metricsAuth {
            configuration.metricsRequireToken = true
        } else if let text = ProcessEnvironment.twin(nil, "METRICS_AUTH") {
            switch text.lowercased() {
            case "1", "true", "yes", "on": configuration.metricsRequireToken = true
            case "0", "false", "no", "off": configuration.metricsRequireToken = false
            default: throw ValidationError("RELAY_METRICS_AUTH: \"\(text)\" is not true or false")
            }
        }
        if configuration.metricsRequireToken && configuration.authToken == nil {
            throw ValidationError(
                "\(metricsAuth ? "--metrics-auth" : "RELAY_METRICS_AUTH") needs a token: set --auth-token-file "
                    + "or --auth-token"
            )
        }
        if let text = ProcessEnvironment.twin(maxBody, "MAX_BODY") {
            let name = maxBody != nil ? "--max-body" : "RELAY_MAX_BODY"
            do {
                configuration.maxBodyBytes = Int(try ByteSize.parse(text))
                configuration.maxBodyIsExplicit = true
            } catch {
                throw ValidationError("\(name): \(error)")
            }
            guard configuration.maxBodyBytes > 0 else {
                throw ValidationError("\(name): must be more than 0 bytes (every event would get 413)")
            }
        }
        if let text = ProcessEnvironment.twin(spoolMax, "SPOOL_MAX") {
            let name = spoolMax != nil ? "--spool-max" : "RELAY_SPOOL_MAX"
            if let count = Int(text) {
                guard count > 0 else {
                    throw ValidationError("\(name): must be more than 0 (every event would get 503)")
                }
                configuration.spoolMaxCount = count
            } else {
                do {
                    configuration.spoolMaxBytes = try ByteSize.parse(text)
                } catch {
                    throw ValidationError("\(name): \"\(text)\" is neither a count nor a size like 2GiB")
                }
                guard (configuration.spoolMaxBytes ?? 0) > 0 else {
                    throw ValidationError("\(name): must be more than 0 bytes (every event would get 503)")
                }
            }
        }
        if let urls = ProcessEnvironment.twin(jetstream, "JETSTREAM") {
            let name = jetstream != nil ? "--jetstream" : "RELAY_JETSTREAM"
            let servers = urls.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
                !$0.isEmpty
            }
            guard !servers.isEmpty else { throw ValidationError("\(name): no server URL given") }
            for server in servers where !(server.hasPrefix("nats://") || server.hasPrefix("tls://")) {
                throw ValidationError("\(name): \"\(server)\" is not a nats:// or tls:// URL")
            }
            var jetStreamConfiguration = JetStreamConfiguration(servers: servers)
            jetStreamConfiguration.credentialsFile = ProcessEnvironment.twin(jetstreamCreds, "JETSTREAM_CREDS")
            if let replicas = jetstreamReplicas {
                jetStreamConfiguration.replicas = replicas
            } else if let text = ProcessEnvironment.twin(nil, "JETSTREAM_REPLICAS") {
                guard let replicas = Int(text) else {
                    throw ValidationError("RELAY_JETSTREAM_REPLICAS: \"\(text)\" is not a number")
                }
                jetStreamConfiguration.replicas = replicas
            }
            guard (1...5).contains(jetStreamConfiguration.replicas) else {
                throw ValidationError("--jetstream-replicas: must be 1 to 5 (JetStream's limit)")
            }
            if let subject = ProcessEnvironment.twin(jetstreamSubject, "JETSTREAM_SUBJECT") {
                let name = jetstreamSubject != nil ? "--jetstream-subject" : "RELAY_JETSTREAM_SUBJECT"
                if let problem = jetStreamConfiguration.eventsSubjectProblem(subject) {
                    throw ValidationError("\(name): \"\(subject)\": \(problem)")
                }
                jetStreamConfiguration.eventsSubject = subject
            }
            jetStreamConfiguration.connectionName = "bucket-relay@\(configuration.instance)"
            configuration.jetStream = jetStreamConfiguration
        } else if jetstreamCreds != nil || jetstreamReplicas != nil || jetstreamSubject != nil {
            throw ValidationError("--jetstream-creds, --jetstream-replicas and --jetstream-subject need --jetstream")
        }
        return configuration
    }
}
