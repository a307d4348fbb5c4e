import ArgumentParser
import Foundation
import RelayCore
import RelayServer

/// `serve`'s SNS flags (`@OptionGroup`): the topics whose subscriptions are accepted and the trust used to fetch SNS's
/// certificates and confirmation URLs (docs/interface.md, "AWS S3 through SNS").
struct SNSOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Accept SNS subscriptions of this topic: confirm them and route their notifications; repeatable "
                + "(RELAY_SNS_TOPIC_ARN, comma-separated). Default none: every SNS message is refused.",
            valueName: "arn"
        )
    )
    var snsTopicArn: [String] = []
    @Option(
        help: ArgumentHelp(
            "PEM file of CAs trusted, beside the system's, when fetching SNS's signing certificates and "
                + "SubscribeURLs (RELAY_SNS_CA). Default none.",
            valueName: "file"
        )
    )
    var snsCa: String?
    @Option(
        help: ArgumentHelp(
            "One more host SigningCertURL and SubscribeURL may name beside sns.<region>.amazonaws.com, for a "
                + "stand-in of SNS in tests (RELAY_SNS_CERT_HOST). Default none.",
            valueName: "host:port"
        )
    )
    var snsCertHost: String?

    /// The settings, from the flags or their twins.
    /// - Throws: `ValidationError` for a topic that is not an SNS ARN, a CA file that cannot be read or holds no
    ///   certificate, a host that is not `HOST:PORT`.
    func configuration() throws -> SNSConfiguration {
        var configuration = SNSConfiguration()
        var topics = snsTopicArn
        var topicsName = "--sns-topic-arn"
        if topics.isEmpty, let text = ProcessEnvironment.twin(nil, "SNS_TOPIC_ARN") {
            topics = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            topicsName = "RELAY_SNS_TOPIC_ARN"
        }
        for topic in topics {
            let parts = topic.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 6, parts[0] == "arn", parts[2] == "sns", !parts[5].isEmpty else {
                throw ValidationError(
                    "\(topicsName): \(topic.quotedForMessage) is not an SNS topic ARN "
                        + "(arn:aws:sns:REGION:ACCOUNT:TOPIC)"
                )
            }
            configuration.allowedTopicARNs.insert(topic)
        }
        if let file = ProcessEnvironment.twin(snsCa, "SNS_CA") {
            let name = snsCa != nil ? "--sns-ca" : "RELAY_SNS_CA"
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ValidationError("\(name): cannot read \(file); it must exist and be readable by this user")
            }
            guard String(decoding: data, as: UTF8.self).contains("-----BEGIN CERTIFICATE-----") else {
                throw ValidationError("\(name): \(file) holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
            }
            configuration.caFile = URL(fileURLWithPath: file).standardizedFileURL.path
        }
        if let text = ProcessEnvironment.twin(snsCertHost, "SNS_CERT_HOST") {
            let name = snsCertHost != nil ? "--sns-cert-host" : "RELAY_SNS_CERT_HOST"
            guard let host = SNSURLPolicy.HostPort.parse(text) else {
                throw ValidationError("\(name): \(text.quotedForMessage) is not HOST:PORT (e.g. 127.0.0.1:8443)")
            }
            configuration.extraHost = host
        }
        return configuration
    }
}
