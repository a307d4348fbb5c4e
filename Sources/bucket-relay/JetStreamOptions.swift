import ArgumentParser
import Foundation
import RelayJetStream

/// `--jetstream URLS` and `--jetstream-creds FILE` for the tools that read the JetStream streams a relay keeps
/// (`replay`, `dead-letters export`); environment twins `RELAY_JETSTREAM`, `RELAY_JETSTREAM_CREDS`.
struct JetStreamOptions: ParsableArguments {
    @Option(
        name: .customLong("jetstream"),
        help: ArgumentHelp(
            "Work on the dead letters of NATS JetStream at these servers (comma-separated nats:// or tls:// URLs) "
                + "instead of --data-dir (RELAY_JETSTREAM). Default none.",
            valueName: "urls"
        )
    )
    var servers: String?
    @Option(
        name: .customLong("jetstream-creds"),
        help: ArgumentHelp(
            "NATS credentials file for --jetstream (RELAY_JETSTREAM_CREDS). Default none.",
            valueName: "file"
        )
    )
    var credentials: String?

    /// The configuration to open the streams with (never creating or changing them); `nil` without `--jetstream`.
    /// - Throws: `ValidationError` for a URL that is not `nats://` or `tls://`.
    func configuration() throws -> JetStreamConfiguration? {
        guard let urls = ProcessEnvironment.twin(servers, "JETSTREAM") else {
            if credentials != nil { throw ValidationError("--jetstream-creds needs --jetstream") }
            return nil
        }
        let name = servers != nil ? "--jetstream" : "RELAY_JETSTREAM"
        let list = urls.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !list.isEmpty else { throw ValidationError("\(name): no server URL given") }
        for server in list where !(server.hasPrefix("nats://") || server.hasPrefix("tls://")) {
            throw ValidationError("\(name): \"\(server)\" is not a nats:// or tls:// URL")
        }
        var configuration = JetStreamConfiguration(servers: list)
        configuration.credentialsFile = ProcessEnvironment.twin(credentials, "JETSTREAM_CREDS")
        configuration.createsStreams = false
        configuration.connectionName = "bucket-relay@\(ProcessInfo.processInfo.hostName) tool"
        return configuration
    }
}
