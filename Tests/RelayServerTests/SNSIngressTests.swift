import Foundation
import RelayCore
import RelayDelivery
import RelayLog
import RelayServer
import RelayTestSupport
import Testing

/// SNS envelopes on a relay in-process: what is refused before any certificate is fetched, raw message delivery,
/// and Basic credentials (docs/interface.md, "AWS S3 through SNS"). The signed path, with a stand-in for SNS serving
/// its certificate over HTTPS, is Tests/sns/run.py.
@Suite(.timeLimit(.minutes(2)))
struct SNSIngressTests {
    static let topic = "arn:aws:sns:us-east-1:123456789012:photos-events"
    static let rules = [
        "rules.json": """
        { "targets": { "hook": { "url": "${BASE}/hook" } },
          "rules": [ { "name": "spaced", "match": { "prefix": ["in/a b+"] }, "to": ["hook"] } ] }
        """
    ]
    static let token = "sns-test-token"
    static let snsHeaders: [(name: String, value: String)] = [
        ("Content-Type", "text/plain; charset=UTF-8"), ("x-amz-sns-message-type", "Notification"),
        ("Authorization", "Basic " + Data("relay:\(token)".utf8).base64EncodedString()),
    ]

    static func s3Event(key: String) -> String {
        """
        {"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1",\
        "eventTime":"2026-11-25T10:11:12.345Z","eventName":"ObjectCreated:Put",\
        "responseElements":{"x-amz-request-id":"C3D13FE58DE4C810"},\
        "s3":{"bucket":{"name":"photos"},"object":{"key":"\(key)","size":3,"sequencer":"0055AED6DCD90281E5"}}}]}
        """
    }

    static func envelope(topic: String = topic, certURL: String, signature: String? = "c2ln") -> [UInt8] {
        var fields: [String: String] = [
            "Type": "Notification", "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324", "TopicArn": topic,
            "Message": s3Event(key: "in/a+b%2Bc.txt"), "Timestamp": "2026-11-25T10:11:12.345Z",
            "SignatureVersion": "2", "SigningCertURL": certURL,
        ]
        if let signature { fields["Signature"] = signature }
        return Array((try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])) ?? Data())
    }

    static func withRelay(_ body: (TestRelay, Receiver) async throws -> Void) async throws {
        try await Receiver.withReceiver { receiver in
            try await TestRelay.configured(
                rules: Self.rules,
                environment: ["BASE": receiver.url(path: "")],
                { configuration in
                    configuration.authToken = Self.token
                    configuration.sns.allowedTopicARNs = [Self.topic]
                },
                { relay in try await body(relay, receiver) }
            )
        }
    }

    @Test func aNotificationWithoutSignatureIsDeadLetteredBadSignatureAndNotRouted() async throws {
        try await Self.withRelay { relay, receiver in
            let body = Self.envelope(
                certURL: "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem",
                signature: nil
            )
            let response = try await relay.post(body, headers: Self.snsHeaders)
            #expect(response.status == 200, "\(response.body)")
            let answer = try JSONParser.parse(response.body)
            #expect(answer["reason"]?.stringValue == "bad_signature")
            let letters = try relay.deadLetters()
            #expect(letters.map(\.reason) == [.badSignature])
            #expect(letters.first?.payload == String(decoding: body, as: UTF8.self))
            #expect(relay.relay.log.totals.pendingCount == 0)
            #expect(receiver.requests.isEmpty)
        }
    }

    @Test func aNotificationWhoseCertificateIsOffSNSHostsIsDeadLetteredBadSignature() async throws {
        try await Self.withRelay { relay, receiver in
            // A receiver of ours stands in for an attacker's host: it must never be asked for the certificate.
            let response = try await relay.post(
                Self.envelope(certURL: "https://127.0.0.1:\(receiver.port)/cert.pem"),
                headers: Self.snsHeaders
            )
            #expect(response.status == 200, "\(response.body)")
            #expect(try JSONParser.parse(response.body)["reason"]?.stringValue == "bad_signature")
            #expect(try relay.deadLetters().map(\.reason) == [.badSignature])
            #expect(receiver.requests.isEmpty)
        }
    }

    @Test func aNotificationOfAnotherTopicIsDeadLetteredTopicNotAllowed() async throws {
        try await Self.withRelay { relay, receiver in
            let response = try await relay.post(
                Self.envelope(
                    topic: "arn:aws:sns:us-east-1:999999999999:theirs",
                    certURL: "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem"
                ),
                headers: Self.snsHeaders
            )
            #expect(response.status == 200, "\(response.body)")
            #expect(try JSONParser.parse(response.body)["reason"]?.stringValue == "sns_topic_not_allowed")
            let letters = try relay.deadLetters()
            #expect(letters.map(\.reason) == [.snsTopicNotAllowed])
            #expect(letters.first?.field == "TopicArn")
            #expect(receiver.requests.isEmpty)
        }
    }

    @Test func aConfirmationOfAnotherTopicGets403() async throws {
        try await Self.withRelay { relay, _ in
            let body = """
                {"Type":"SubscriptionConfirmation","MessageId":"1","Token":"t","TopicArn":"arn:aws:sns:us-east-1:9:x",\
                "Message":"m","SubscribeURL":"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",\
                "Timestamp":"2026-11-25T10:11:12.345Z","SignatureVersion":"1","Signature":"c2ln",\
                "SigningCertURL":"https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem"}
                """
            let response = try await relay.post(Array(body.utf8), headers: Self.snsHeaders)
            #expect(response.status == 403, "\(response.body)")
            #expect(try JSONParser.parse(response.body)["error"]?.stringValue == "topic not allowed")
            #expect(try relay.deadLetters().isEmpty)
        }
    }

    @Test func rawMessageDeliveryIsRoutedWithTheDecodedKey() async throws {
        try await Self.withRelay { relay, receiver in
            let response = try await relay.post(
                Array(Self.s3Event(key: "in/a+b%2Bc.txt").utf8),
                headers: Self.snsHeaders
            )
            #expect(response.status == 200, "\(response.body)")
            #expect(try JSONParser.parse(response.body)["deliveries"]?.int64Value == 1)
            let delivered = try await receiver.waitForRequests(count: 1)
            #expect(delivered.count == 1)
            #expect(try relay.deadLetters().isEmpty)
        }
    }

    @Test func credentialsAreBearerOrBasicWithTheToken() async throws {
        try await Self.withRelay { relay, _ in
            let body = Array(#"{"Records":[]}"#.utf8)
            let none = try await TestHTTP.post(relay.url(), body: body)
            #expect(none.status == 401)
            #expect(none.header("WWW-Authenticate")?.hasPrefix("Basic realm=") == true)
            let wrong = try await relay.post(
                body,
                headers: [("Authorization", "Basic " + Data("relay:nope".utf8).base64EncodedString())]
            )
            #expect(wrong.status == 401)
            let basic = try await relay.post(body, headers: Self.snsHeaders)
            #expect(basic.status == 200, "\(basic.body)")
            let bearer = try await relay.post(body, headers: [("Authorization", "Bearer \(Self.token)")])
            #expect(bearer.status == 200, "\(bearer.body)")
        }
    }
}
