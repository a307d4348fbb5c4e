import Logging
import Metrics
import RelayCore
import RelayDelivery
import RelayLog
import Synchronization
import _CryptoExtras

/// The SNS HTTP(S) subscription endpoint: confirms subscriptions, routes notifications, logs unsubscriptions
/// (docs/interface.md, "AWS S3 through SNS"; docs/security.md, "SNS signatures").
///
/// Every envelope is checked before anything else happens, in this order: its `TopicArn` must be allowed
/// (`--sns-topic-arn`); its `SigningCertURL` (and a confirmation's `SubscribeURL`) must pass ``SNSURLPolicy``; its
/// signature must verify against the certificate's key. Only then:
/// - `SubscriptionConfirmation`: `SubscribeURL` is fetched (GET, through libcurl), once per topic in this process: a
///   resent confirmation of a topic already confirmed (or being confirmed) answers 200 and fetches nothing.
/// - `Notification`: its `Message` is the body routed through ``Ingress/handle(body:source:traceparent:)``, exactly
///   as if it had been posted as a webhook body (keys decoded as AWS's).
/// - `UnsubscribeConfirmation`: logged, answered 200, the topic forgotten (a new subscription is confirmed again).
///
/// A confirmation that fails a check answers 403 with a JSON error and fetches nothing; a notification that fails
/// one is dead-lettered (`sns_topic_not_allowed`, `bad_signature`) and answered 200, since a refusal would only make
/// SNS send it again. A certificate that cannot be fetched now answers 503 (SNS retries).
public final class SNSIngress: Sendable {
    private let allowedTopics: Set<String>
    private let policy: SNSURLPolicy
    private let certificates: SNSCertificates
    private let client: CurlClient
    private let tls: TargetTLS?
    private let timeout: Duration
    private let ingress: Ingress
    private let log: any DeliveryLog
    private let logger: Logger
    private let now: @Sendable () -> Timestamp
    /// Topics whose confirmation this process fetched, or is fetching.
    private let confirmedTopics = Mutex(Set<String>())
    private let confirmations = Atomic<Int>(0)

    /// - Parameters:
    ///   - client: the libcurl client the certificates and `SubscribeURL`s are fetched with.
    ///   - ingress: routes a notification's `Message`.
    ///   - log: takes the dead letters of refused notifications.
    ///   - now: the wall clock of the dead letters (injected for tests).
    public init(
        configuration: SNSConfiguration,
        client: CurlClient,
        ingress: Ingress,
        log: any DeliveryLog,
        logger: Logger,
        now: @escaping @Sendable () -> Timestamp = { Timestamp.now() }
    ) {
        self.allowedTopics = configuration.allowedTopicARNs
        self.policy = SNSURLPolicy(extraHost: configuration.extraHost)
        self.certificates = SNSCertificates(client: client, configuration: configuration)
        self.client = client
        self.tls = configuration.caFile.map { TargetTLS(caFile: $0) }
        self.timeout = configuration.fetchTimeout
        self.ingress = ingress
        self.log = log
        self.logger = logger
        self.now = now
    }

    /// `SubscribeURL`s fetched so far.
    var confirmationCount: Int { confirmations.load(ordering: .relaxed) }

    /// Handles `body` when it is an SNS envelope; nil when it is not one (a webhook body, or raw message delivery),
    /// which the caller routes as any body.
    /// - Parameters:
    ///   - messageType: the `x-amz-sns-message-type` header, nil when absent.
    ///   - traceparent: the request's W3C `traceparent`, passed on with a notification's `Message`.
    /// - Returns: 200 for a confirmed, already confirmed or unsubscribed subscription and for a notification routed or
    ///   dead-lettered; 403 for a confirmation that failed a check; 503 with `retryAfter` when a certificate or the
    ///   `SubscribeURL` cannot be fetched now, or the delivery log refused.
    public func handle(body: [UInt8], messageType: String?, traceparent: String?) async -> IngressResponse? {
        switch SNSMessage.parse(body, messageTypeHeader: messageType) {
        case .notEnvelope:
            return nil
        case .invalid(let kind, let problem):
            return await refuse(
                kind,
                reason: .badSignature,
                detail: "cannot verify the signature: \(problem)",
                topic: nil,
                messageID: nil,
                body: body
            )
        case .envelope(let message):
            return await handle(message, body: body, traceparent: traceparent)
        }
    }

    private func handle(_ message: SNSMessage, body: [UInt8], traceparent: String?) async -> IngressResponse {
        guard allowedTopics.contains(message.topicARN) else {
            return await refuse(
                message.kind,
                reason: .snsTopicNotAllowed,
                detail: "topic \(message.topicARN.quotedForMessage) is not allowed; allow it with --sns-topic-arn "
                    + "(env RELAY_SNS_TOPIC_ARN)",
                topic: message.topicARN,
                messageID: message.messageID,
                body: body
            )
        }
        var problem = policy.certificateURLProblem(message.signingCertURL)
        if problem == nil, message.kind != .notification, let subscribeURL = message.subscribeURL {
            problem = policy.subscribeURLProblem(subscribeURL)
        }
        if let problem {
            return await refuse(
                message.kind,
                reason: .badSignature,
                detail: "cannot verify the signature: \(problem)",
                topic: message.topicARN,
                messageID: message.messageID,
                body: body
            )
        }
        let key: _RSA.Signing.PublicKey
        do {
            key = try await certificates.publicKey(at: message.signingCertURL)
        } catch .unavailable(let reason) {
            Self.count(message.kind, "certificate_unavailable")
            logger.warning(
                "Cannot fetch an SNS signing certificate; the message is refused for now",
                metadata: metadata(message, ["error": "\(reason)"])
            )
            return .error(503, "signing certificate unavailable", reason, retryAfter: 5)
        } catch {
            return await refuse(
                message.kind,
                reason: .badSignature,
                detail: "cannot verify the signature: \(error)",
                topic: message.topicARN,
                messageID: message.messageID,
                body: body
            )
        }
        guard SNSCertificates.isValidSignature(message, key: key) else {
            return await refuse(
                message.kind,
                reason: .badSignature,
                detail: "the signature does not verify against the certificate at SigningCertURL",
                topic: message.topicARN,
                messageID: message.messageID,
                body: body
            )
        }
        switch message.kind {
        case .subscriptionConfirmation:
            return await confirm(message)
        case .unsubscribeConfirmation:
            confirmedTopics.withLock { _ = $0.remove(message.topicARN) }
            Self.count(message.kind, "unsubscribed")
            logger.info("SNS subscription ended (UnsubscribeConfirmation)", metadata: metadata(message))
            return IngressResponse(status: 200, body: Array(#"{"status":"unsubscribed"}"#.utf8))
        case .notification:
            let event = Array(message.message.utf8)
            if let error = event.withUnsafeBytes({ JSONParser.validate($0) }) {
                return await deadLetter(
                    reason: .undecodable,
                    field: "Message",
                    detail: "the SNS notification's Message is not JSON: \(error)",
                    message: message,
                    payload: event
                )
            }
            Self.count(message.kind, "routed")
            return await ingress.handle(body: event, traceparent: traceparent)
        }
    }

    /// Fetches `SubscribeURL` unless this process confirmed the topic already.
    private func confirm(_ message: SNSMessage) async -> IngressResponse {
        let first = confirmedTopics.withLock { $0.insert(message.topicARN).inserted }
        guard first else {
            Self.count(message.kind, "already_confirmed")
            logger.info(
                "SNS subscription already confirmed; SubscribeURL not fetched again",
                metadata: metadata(message)
            )
            return IngressResponse(status: 200, body: Array(#"{"status":"already confirmed"}"#.utf8))
        }
        let url = message.subscribeURL ?? ""
        confirmations.add(1, ordering: .relaxed)
        let failure: String
        do {
            let response = try await client.execute(HTTPRequest(method: "GET", url: url, timeout: timeout, tls: tls))
            if (200..<300).contains(response.status) {
                Self.count(message.kind, "confirmed")
                logger.info(
                    "SNS subscription confirmed",
                    metadata: metadata(message, ["sns.subscribe_url": "\(RedactedURL.redact(url))"])
                )
                var out: [UInt8] = Array(#"{"status":"confirmed","topicArn":"#.utf8)
                JSONWriter.appendString(message.topicARN, to: &out)
                out.append(UInt8(ascii: "}"))
                return IngressResponse(status: 200, body: out)
            }
            failure = "SubscribeURL answered \(response.status)"
        } catch {
            failure = "cannot fetch SubscribeURL: \(error)"
        }
        confirmedTopics.withLock { _ = $0.remove(message.topicARN) }
        Self.count(message.kind, "confirmation_failed")
        logger.warning(
            "Cannot confirm an SNS subscription; SNS will send the confirmation again",
            metadata: metadata(message, ["error": "\(failure)", "sns.subscribe_url": "\(RedactedURL.redact(url))"])
        )
        return .error(503, "subscription not confirmed", failure, retryAfter: 5)
    }

    /// A confirmation that failed a check gets 403; a notification is dead-lettered and answered 200.
    private func refuse(
        _ kind: SNSMessage.Kind,
        reason: DeadLetterReason,
        detail: String,
        topic: String?,
        messageID: String?,
        body: [UInt8]
    ) async -> IngressResponse {
        var logMetadata: Logger.Metadata = ["sns.type": "\(kind.rawValue)", "reason": "\(reason.rawValue)"]
        if let topic { logMetadata["sns.topic_arn"] = "\(LogText.escaped(topic))" }
        if let messageID { logMetadata["sns.message_id"] = "\(LogText.escaped(messageID))" }
        logMetadata["detail"] = "\(LogText.escaped(detail))"
        Self.count(kind, reason == .badSignature ? "bad_signature" : "topic_not_allowed")
        guard kind == .notification else {
            logger.warning("Refused an SNS confirmation; nothing fetched", metadata: logMetadata)
            let error = reason == .badSignature ? "bad signature" : "topic not allowed"
            return .error(403, error, detail)
        }
        do {
            try await log.deadLetter([
                DeadLetter(
                    time: now().iso8601,
                    reason: reason,
                    field: reason == .badSignature ? "Signature" : "TopicArn",
                    detail: detail,
                    payload: String(decoding: body, as: UTF8.self)
                )
            ])
        } catch {
            logger.error("Cannot write the dead letters", metadata: ["error": "\(error)"])
            return .error(503, "dead-letter file not writable", "\(error)", retryAfter: 5)
        }
        logger.warning("Dead-lettered an SNS notification; not routed", metadata: logMetadata)
        return Self.deadLettered(reason, detail)
    }

    private func deadLetter(
        reason: DeadLetterReason,
        field: String,
        detail: String,
        message: SNSMessage,
        payload: [UInt8]
    ) async -> IngressResponse {
        do {
            try await log.deadLetter([
                DeadLetter(
                    time: now().iso8601,
                    reason: reason,
                    field: field,
                    detail: detail,
                    payload: String(decoding: payload, as: UTF8.self)
                )
            ])
        } catch {
            logger.error("Cannot write the dead letters", metadata: ["error": "\(error)"])
            return .error(503, "dead-letter file not writable", "\(error)", retryAfter: 5)
        }
        Self.count(message.kind, reason.rawValue)
        logger.warning(
            "Dead-lettered an SNS notification; not routed",
            metadata: metadata(message, ["reason": "\(reason.rawValue)", "detail": "\(LogText.escaped(detail))"])
        )
        return Self.deadLettered(reason, detail)
    }

    /// `relay_sns_messages_total{type, outcome}` (docs/operations.md, "Metrics"): `type` the envelope's `Type`,
    /// `outcome` one of `confirmed`, `already_confirmed`, `confirmation_failed`, `unsubscribed`, `routed`,
    /// `bad_signature`, `topic_not_allowed`, `certificate_unavailable`, `undecodable`.
    private static func count(_ kind: SNSMessage.Kind, _ outcome: String) {
        Counter(label: "relay_sns_messages_total", dimensions: [("type", kind.rawValue), ("outcome", outcome)])
            .increment()
    }

    private static func deadLettered(_ reason: DeadLetterReason, _ detail: String) -> IngressResponse {
        var out: [UInt8] = Array(#"{"status":"dead-lettered","reason":"#.utf8)
        JSONWriter.appendString(reason.rawValue, to: &out)
        out.append(contentsOf: Array(#","detail":"#.utf8))
        JSONWriter.appendString(detail, to: &out)
        out.append(UInt8(ascii: "}"))
        return IngressResponse(status: 200, body: out)
    }

    /// The log metadata of a message: type, topic, message id (never the token, nor the `SubscribeURL` that holds it).
    private func metadata(_ message: SNSMessage, _ extra: Logger.Metadata = [:]) -> Logger.Metadata {
        var metadata: Logger.Metadata = [
            "sns.type": "\(message.kind.rawValue)",
            "sns.topic_arn": "\(LogText.escaped(message.topicARN))",
            "sns.message_id": "\(LogText.escaped(message.messageID))",
        ]
        metadata.merge(extra) { _, new in new }
        return metadata
    }
}
