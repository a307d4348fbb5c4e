/// One message of an Amazon SNS HTTP(S) subscription: the JSON envelope SNS posts (Content-Type `text/plain`), with
/// the fields its signature covers (docs/interface.md, "AWS S3 through SNS").
///
/// This is the pure part: recognising an envelope, reading its fields, building the canonical string the signature
/// is computed over and judging the URLs it names. Fetching the certificate and checking the signature happen in the
/// server (docs/security.md, "SNS signatures").
public struct SNSMessage: Sendable, Equatable {
    /// The envelope's `Type`.
    public enum Kind: String, Sendable, CaseIterable {
        case subscriptionConfirmation = "SubscriptionConfirmation"
        case notification = "Notification"
        case unsubscribeConfirmation = "UnsubscribeConfirmation"
    }

    /// How the signature is computed (`SignatureVersion`): `1` is SHA1withRSA, `2` SHA256withRSA, both RSA PKCS #1
    /// v1.5 over ``canonicalString``.
    public enum SignatureVersion: String, Sendable {
        case sha1WithRSA = "1"
        case sha256WithRSA = "2"
    }

    public var kind: Kind
    /// `MessageId`: a UUID; SNS keeps it when it resends the same message.
    public var messageID: String
    /// `TopicArn`, e.g. `arn:aws:sns:us-east-1:123456789012:photos-events`.
    public var topicARN: String
    /// `Message`: for a notification of S3, the S3 event JSON as a string; for a confirmation, a sentence.
    public var message: String
    /// `Subject`, when present (and not `null`); only notifications have one.
    public var subject: String?
    /// `Timestamp`, ISO 8601 as SNS wrote it.
    public var timestamp: String
    /// `Token` of a confirmation; nil for notifications. A secret of the subscription: never logged.
    public var token: String?
    /// `SubscribeURL` of a confirmation (it carries the token); nil for notifications.
    public var subscribeURL: String?
    public var signatureVersion: SignatureVersion
    /// `Signature`, base64 as sent.
    public var signature: String
    /// `SigningCertURL`: where the PEM certificate of the signing key is.
    public var signingCertURL: String

    public init(
        kind: Kind,
        messageID: String,
        topicARN: String,
        message: String,
        subject: String? = nil,
        timestamp: String,
        token: String? = nil,
        subscribeURL: String? = nil,
        signatureVersion: SignatureVersion,
        signature: String,
        signingCertURL: String
    ) {
        self.kind = kind
        self.messageID = messageID
        self.topicARN = topicARN
        self.message = message
        self.subject = subject
        self.timestamp = timestamp
        self.token = token
        self.subscribeURL = subscribeURL
        self.signatureVersion = signatureVersion
        self.signature = signature
        self.signingCertURL = signingCertURL
    }

    /// The header SNS sets on every POST: `x-amz-sns-message-type: Notification` (or `SubscriptionConfirmation`,
    /// `UnsubscribeConfirmation`), raw message delivery included.
    public static let messageTypeHeader = "x-amz-sns-message-type"

    /// What ``parse(_:messageTypeHeader:)`` found in a request body.
    public enum Parsed: Sendable, Equatable {
        /// Not an SNS envelope: a webhook body, or the S3 event itself of raw message delivery. Routed as any body.
        case notEnvelope
        /// A complete envelope, not yet verified.
        case envelope(SNSMessage)
        /// An envelope (its `Type` is one of SNS's) whose signed fields are missing, mistyped, repeated, or signed
        /// in an unknown way: it cannot be verified, so it is treated like one whose signature does not verify.
        case invalid(Kind, Undecodable)
    }

    /// Recognises an SNS envelope: a JSON object whose `Type` is `SubscriptionConfirmation`, `Notification` or
    /// `UnsubscribeConfirmation`. Cheap for other bodies: without the `x-amz-sns-message-type` header, a body that
    /// does not hold the bytes `"TopicArn"` is not parsed at all.
    /// - Parameters:
    ///   - body: the request body.
    ///   - messageTypeHeader: the value of `x-amz-sns-message-type`, nil when absent.
    /// - Returns: ``Parsed/notEnvelope`` for anything without SNS's `Type` (raw message delivery: the S3 event, with
    ///   the header saying `Notification`), ``Parsed/envelope(_:)`` or ``Parsed/invalid(_:_:)``.
    public static func parse(_ body: [UInt8], messageTypeHeader: String?) -> Parsed {
        // One memchr pass for the capital T of the key (then a compare at each T): an S3 event body is not an envelope.
        guard messageTypeHeader != nil || ByteSearch.contains(body, topicArnKey, anchor: 1) else { return .notEnvelope }
        guard let root = try? JSONParser.parse(body), let members = root.objectValue,
            let kind = root["Type"]?.stringValue.flatMap(Kind.init(rawValue:))
        else { return .notEnvelope }
        return read(members, kind: kind)
    }

    private static func read(_ members: [JSONMember], kind: Kind) -> Parsed {
        var names = ["Message", "MessageId", "Timestamp", "TopicArn", "Type", "Signature", "SignatureVersion"]
        names.append("SigningCertURL")
        if kind != .notification { names += ["SubscribeURL", "Token"] }
        var values: [String: String] = [:]
        var seen: Set<String> = []
        for member in members where names.contains(member.key) || member.key == "Subject" {
            guard seen.insert(member.key).inserted else {
                // Two values of one signed field: which one was signed is ambiguous, so neither is trusted.
                return .invalid(kind, Undecodable(field: member.key, reason: "appears twice in the envelope"))
            }
            if member.key == "Subject", member.value.isNull { continue }
            guard let text = member.value.stringValue else {
                return .invalid(
                    kind,
                    Undecodable(field: member.key, reason: "expected a string, found \(member.value.typeName)")
                )
            }
            values[member.key] = text
        }
        for name in names where values[name] == nil {
            return .invalid(kind, Undecodable(field: name, reason: "missing; SNS signs every message with it"))
        }
        guard let version = values["SignatureVersion"].flatMap(SignatureVersion.init(rawValue:)) else {
            return .invalid(
                kind,
                Undecodable(
                    field: "SignatureVersion",
                    reason: "\((values["SignatureVersion"] ?? "").quotedForMessage) is not 1 or 2"
                )
            )
        }
        return .envelope(
            SNSMessage(
                kind: kind,
                messageID: values["MessageId"] ?? "",
                topicARN: values["TopicArn"] ?? "",
                message: values["Message"] ?? "",
                subject: values["Subject"],
                timestamp: values["Timestamp"] ?? "",
                token: values["Token"],
                subscribeURL: values["SubscribeURL"],
                signatureVersion: version,
                signature: values["Signature"] ?? "",
                signingCertURL: values["SigningCertURL"] ?? ""
            )
        )
    }

    /// The bytes SNS signs: `Name\nValue\n` for each signed field in this order. A notification: `Message`,
    /// `MessageId`, `Subject` (only when present), `Timestamp`, `TopicArn`, `Type`. A subscription or unsubscribe
    /// confirmation: `Message`, `MessageId`, `SubscribeURL`, `Timestamp`, `Token`, `TopicArn`, `Type`. Values are the
    /// unescaped JSON strings, as UTF-8.
    public var canonicalString: [UInt8] {
        var fields: [(String, String)] = [("Message", message), ("MessageId", messageID)]
        switch kind {
        case .notification:
            if let subject { fields.append(("Subject", subject)) }
            fields += [("Timestamp", timestamp), ("TopicArn", topicARN), ("Type", kind.rawValue)]
        case .subscriptionConfirmation, .unsubscribeConfirmation:
            fields += [
                ("SubscribeURL", subscribeURL ?? ""), ("Timestamp", timestamp), ("Token", token ?? ""),
                ("TopicArn", topicARN), ("Type", kind.rawValue),
            ]
        }
        var out: [UInt8] = []
        out.reserveCapacity(fields.reduce(0) { $0 + $1.0.utf8.count + $1.1.utf8.count + 2 })
        for (name, value) in fields {
            out.append(contentsOf: name.utf8)
            out.append(UInt8(ascii: "\n"))
            out.append(contentsOf: value.utf8)
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    private static let topicArnKey: [UInt8] = Array(#""TopicArn""#.utf8)
}
