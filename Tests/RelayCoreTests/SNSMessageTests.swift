import Foundation
import RelayCore
import Testing

/// SNS envelopes: recognising them, the canonical strings their signatures cover, the URLs the relay may fetch
/// (docs/interface.md, "AWS S3 through SNS"; docs/security.md, "SNS signatures").
struct SNSMessageTests {
    static let topic = "arn:aws:sns:us-east-1:123456789012:photos-events"
    static let certURL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem"

    static func notification(subject: String? = "Amazon S3 Notification", extra: String = "") -> [UInt8] {
        let subjectMember = subject.map { #""Subject" : "\#($0)","# } ?? ""
        return Array(
            """
            {
              "Type" : "Notification",
              "MessageId" : "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
              "TopicArn" : "\(topic)",
              \(subjectMember)
              "Message" : "{\\"Records\\":[{\\"eventSource\\":\\"aws:s3\\"}]}\\nline two",
              "Timestamp" : "2026-11-25T10:11:12.345Z",
              "SignatureVersion" : "2",
              "Signature" : "c2lnbmF0dXJl",
              "SigningCertURL" : "\(certURL)",
              "UnsubscribeURL" : "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe"\(extra)
            }
            """.utf8
        )
    }

    static func confirmation(type: String = "SubscriptionConfirmation") -> [UInt8] {
        Array(
            """
            {"Type":"\(type)","MessageId":"165545c9-2a5c-472c-8df2-7ff2be2b3b1b","Token":"2336412f37","TopicArn":\
            "\(topic)","Message":"You have chosen to subscribe to the topic \(topic).\\nTo confirm the subscription, \
            visit the SubscribeURL included in this message.","SubscribeURL":"https://sns.us-east-1.amazonaws.com/?\
            Action=ConfirmSubscription&TopicArn=\(topic)&Token=2336412f37","Timestamp":"2026-11-25T10:11:12.000Z",\
            "SignatureVersion":"1","Signature":"c2ln","SigningCertURL":"\(certURL)"}
            """.utf8
        )
    }

    static func envelope(_ body: [UInt8], header: String? = "Notification") throws -> SNSMessage {
        guard case .envelope(let message) = SNSMessage.parse(body, messageTypeHeader: header) else {
            Issue.record("not an envelope: \(SNSMessage.parse(body, messageTypeHeader: header))")
            throw CancellationError()
        }
        return message
    }

    @Test func aNotificationIsReadWithItsUnescapedMessage() throws {
        let message = try Self.envelope(Self.notification())
        #expect(message.kind == .notification)
        #expect(message.topicARN == Self.topic)
        #expect(message.message == "{\"Records\":[{\"eventSource\":\"aws:s3\"}]}\nline two")
        #expect(message.signatureVersion == .sha256WithRSA)
        #expect(message.token == nil && message.subscribeURL == nil)
    }

    @Test func theNotificationCanonicalStringHasSubjectBetweenMessageIdAndTimestamp() throws {
        let message = try Self.envelope(Self.notification())
        let expected =
            "Message\n{\"Records\":[{\"eventSource\":\"aws:s3\"}]}\nline two\n"
            + "MessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\n"
            + "Subject\nAmazon S3 Notification\n"
            + "Timestamp\n2026-11-25T10:11:12.345Z\n"
            + "TopicArn\n\(Self.topic)\n"
            + "Type\nNotification\n"
        #expect(String(decoding: message.canonicalString, as: UTF8.self) == expected)
    }

    @Test(arguments: [nil, "null"])
    func aNotificationWithoutSubjectLeavesItOut(_ subject: String?) throws {
        var body = Self.notification(subject: nil)
        if let subject {
            body = Array(
                String(decoding: body, as: UTF8.self).replacingFirst("{", with: "{\"Subject\":\(subject),").utf8
            )
        }
        let message = try Self.envelope(body)
        #expect(message.subject == nil)
        let text = String(decoding: message.canonicalString, as: UTF8.self)
        #expect(!text.contains("Subject"))
        #expect(text.hasPrefix("Message\n"))
        #expect(text.contains("MessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\nTimestamp\n"))
    }

    @Test(arguments: ["SubscriptionConfirmation", "UnsubscribeConfirmation"])
    func theConfirmationCanonicalStringHasSubscribeURLAndToken(_ type: String) throws {
        let message = try Self.envelope(Self.confirmation(type: type), header: type)
        #expect(message.signatureVersion == .sha1WithRSA)
        let subscribeURL =
            "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=\(Self.topic)&Token=2336412f37"
        let expected =
            "Message\nYou have chosen to subscribe to the topic \(Self.topic).\nTo confirm the subscription, visit "
            + "the SubscribeURL included in this message.\n"
            + "MessageId\n165545c9-2a5c-472c-8df2-7ff2be2b3b1b\n"
            + "SubscribeURL\n\(subscribeURL)\n"
            + "Timestamp\n2026-11-25T10:11:12.000Z\n"
            + "Token\n2336412f37\n"
            + "TopicArn\n\(Self.topic)\n"
            + "Type\n\(type)\n"
        #expect(String(decoding: message.canonicalString, as: UTF8.self) == expected)
    }

    @Test func anEnvelopeIsRecognisedWithoutTheHeader() throws {
        let message = try Self.envelope(Self.notification(), header: nil)
        #expect(message.kind == .notification)
    }

    @Test(arguments: [
        #"{"Records":[{"eventSource":"aws:s3","s3":{"object":{"key":"a+b"}}}]}"#,
        #"{"Type":"Something","TopicArn":"x"}"#,
        #"{"EventName":"s3:ObjectCreated:Put","Key":"photos/a.jpg","Records":[]}"#,
        "[1,2]",
        "not json",
    ])
    func otherBodiesAreNotEnvelopes(_ body: String) {
        // Raw message delivery: the S3 event itself, with the header saying Notification.
        #expect(SNSMessage.parse(Array(body.utf8), messageTypeHeader: "Notification") == .notEnvelope)
        #expect(SNSMessage.parse(Array(body.utf8), messageTypeHeader: nil) == .notEnvelope)
    }

    @Test(arguments: [
        (#","SignatureVersion":"3""#, "SignatureVersion"),
        (#","Message":"again""#, "Message"),
        (#","TopicArn":"arn:aws:sns:us-east-1:123456789012:other""#, "TopicArn"),
    ])
    func anEnvelopeWithAnUnknownVersionOrARepeatedSignedFieldIsInvalid(_ extra: String, _ field: String) {
        guard
            case .invalid(let kind, let problem) = SNSMessage.parse(
                Self.notification(extra: extra),
                messageTypeHeader: nil
            )
        else {
            Issue.record("expected invalid")
            return
        }
        #expect(kind == .notification)
        #expect(problem.field == field)
    }

    @Test(arguments: ["Signature", "SigningCertURL", "MessageId", "Timestamp"])
    func anEnvelopeMissingASignedFieldIsInvalid(_ field: String) {
        let text = String(decoding: Self.notification(), as: UTF8.self)
        let body = text.split(separator: "\n").filter { !$0.contains("\"\(field)\"") }.joined(separator: "\n")
        guard case .invalid(_, let problem) = SNSMessage.parse(Array(body.utf8), messageTypeHeader: nil) else {
            Issue.record("expected invalid for a missing \(field)")
            return
        }
        #expect(problem.field == field)
    }

    @Test func aConfirmationWithoutTokenIsInvalid() {
        let body = String(decoding: Self.confirmation(), as: UTF8.self).replacingFirst(
            #""Token":"2336412f37","#,
            with: ""
        )
        guard case .invalid(let kind, let problem) = SNSMessage.parse(Array(body.utf8), messageTypeHeader: nil) else {
            Issue.record("expected invalid")
            return
        }
        #expect(kind == .subscriptionConfirmation)
        #expect(problem.field == "Token")
    }

    @Test func aSignedFieldThatIsNotAStringIsInvalid() {
        let body = String(decoding: Self.notification(), as: UTF8.self).replacingFirst(
            #""Timestamp" : "2026-11-25T10:11:12.345Z""#,
            with: #""Timestamp" : 1764065472"#
        )
        guard case .invalid(_, let problem) = SNSMessage.parse(Array(body.utf8), messageTypeHeader: nil) else {
            Issue.record("expected invalid")
            return
        }
        #expect(problem.field == "Timestamp")
        #expect(problem.reason.contains("number"))
    }

    // MARK: URLs

    @Test(arguments: [
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.eu-central-2.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem",
        "https://SNS.US-EAST-1.AMAZONAWS.COM/SimpleNotificationService-abc.pem",
        "HTTPS://sns.us-east-1.amazonaws.com:443/SimpleNotificationService-abc.pem",
    ])
    func snsCertificateURLsAreAllowed(_ url: String) {
        #expect(SNSURLPolicy().certificateURLProblem(url) == nil)
    }

    @Test(arguments: [
        "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.s3.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.s3-external-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.us-east-1.amazonaws.com.evil.example/SimpleNotificationService-abc.pem",
        "https://evil.example/sns.us-east-1.amazonaws.com/x.pem",
        "https://sns.us-east-1.amazonaws.com@evil.example/x.pem",
        "https://user:pw@sns.us-east-1.amazonaws.com/x.pem",
        "https://sns.us-east-1.amazonaws.com:8443/x.pem",
        "https://sns.us-east-1.amazonaws.com/x.pem?redirect=1",
        "https://sns.us-east-1.amazonaws.com/x.pem#f",
        "https://sns.us-east-1.amazonaws.com/cert.txt",
        "https://sns.us-east-1.amazonaws.com\\@evil.example/x.pem",
        "https://sns.us-east-1.amazonaws.com /x.pem",
        "https://sns.useast1.amazonaws.com/x.pem",
        "https://127.0.0.1:8443/x.pem",
        "https://",
        "",
    ])
    func otherCertificateURLsAreRefused(_ url: String) {
        #expect(SNSURLPolicy().certificateURLProblem(url) != nil)
    }

    @Test func theExtraHostIsAllowedOnItsPortOnly() throws {
        let host = try #require(SNSURLPolicy.HostPort.parse("127.0.0.1:8443"))
        let policy = SNSURLPolicy(extraHost: host)
        #expect(policy.certificateURLProblem("https://127.0.0.1:8443/cert.pem") == nil)
        #expect(policy.subscribeURLProblem("https://127.0.0.1:8443/?Action=ConfirmSubscription&Token=x") == nil)
        #expect(policy.certificateURLProblem("https://127.0.0.1:8444/cert.pem") != nil)
        #expect(policy.certificateURLProblem("https://127.0.0.2:8443/cert.pem") != nil)
        #expect(policy.subscribeURLProblem("http://127.0.0.1:8443/?Action=ConfirmSubscription") != nil)
        #expect(policy.certificateURLProblem(Self.certURL) == nil)
    }

    @Test func subscribeURLsMayHaveAQuery() {
        let policy = SNSURLPolicy()
        #expect(
            policy.subscribeURLProblem("https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=1") == nil
        )
        #expect(policy.subscribeURLProblem("https://evil.example/?Action=ConfirmSubscription&Token=1") != nil)
    }

    @Test(arguments: [
        ("127.0.0.1:8443", "127.0.0.1", 8443),
        ("Localhost:1", "localhost", 1),
        ("[::1]:8443", "::1", 8443),
    ])
    func hostPortsParse(_ text: String, _ host: String, _ port: Int) {
        #expect(SNSURLPolicy.HostPort.parse(text) == SNSURLPolicy.HostPort(host: host, port: port))
    }

    @Test(arguments: ["127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "a b:1", "x:+1", ":80", "[::1"])
    func otherHostPortsDoNotParse(_ text: String) {
        #expect(SNSURLPolicy.HostPort.parse(text) == nil)
    }
}

extension String {
    fileprivate func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = range(of: target) else { return self }
        return replacingCharacters(in: range, with: replacement)
    }
}
