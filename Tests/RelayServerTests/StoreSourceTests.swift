import Crypto
import Foundation
import RelayCore
import RelayLog
import RelayServer
import RelayTestSupport
import Testing
import _CryptoExtras

/// Backblaze B2, Google Cloud Storage (Pub/Sub push) and versitygw through the real server to real receivers: the
/// same rules route them like MinIO's body of the same object, and each source's own proof is checked.
@Suite(.timeLimit(.minutes(3)))
struct StoreSourceTests {
    // MARK: One rule set for every store

    /// (store body, MinIO body of the same object, paths the store reaches beyond MinIO's, paths it does not reach).
    static let table: [(String, String, [String: Int], [String])] = [
        // B2 carries no content type or user metadata: "avatars" (metadata) is not reached; "images" still is, by
        // its suffix.
        ("b2/upload-image.json", "minio/put-image.json", [:], ["/avatars"]),
        ("b2/upload-special-key.json", "minio/put-special-key.json", [:], []),
        ("b2/delete.json", "minio/delete.json", [:], []),
        // GCS carries all MinIO does, so the same targets exactly.
        ("gcs/finalize-image.json", "minio/put-image.json", [:], []),
        ("gcs/finalize-special-key.json", "minio/put-special-key.json", [:], []),
        // A GCS delete describes the object that was deleted (size, type, metadata), as RGW's delete carries its
        // size: the rules without an event condition (size, content type, metadata) select it too.
        ("gcs/delete.json", "minio/delete.json", ["/sized": 1, "/images": 1, "/avatars": 1], []),
        // versitygw sends no content type or metadata, and always a size (0 for a delete).
        ("versitygw/put-image.json", "minio/put-image.json", [:], ["/avatars"]),
        ("versitygw/put-special-key.json", "minio/put-special-key.json", [:], []),
        ("versitygw/delete.json", "minio/delete.json", ["/sized": 1], []),
        // A literal `%20` and `+` in versitygw's key, as in RGW's: never unescaped.
        ("versitygw/put-literal-percent.json", "rgw/put-literal-percent.json", [:], []),
    ]

    @Test(arguments: table)
    func storeBodyIsRoutedByTheSameRulesAsMinIOs(
        store: String,
        minio: String,
        extra: [String: Int],
        missing: [String]
    ) async throws {
        let storeSeen = try await FixtureRoutingTests.deliver(try Fixtures.bytes(store))
        let minioSeen = try await FixtureRoutingTests.deliver(try Fixtures.bytes(minio))
        var expected = minioSeen.paths.filter { !missing.contains($0.key) }
        expected.merge(extra) { _, new in new }
        #expect(!minioSeen.paths.isEmpty)
        #expect(storeSeen.paths == expected, "\(store) against \(minio)")
        #expect(storeSeen.deadLetters == 0, "\(store)")
    }

    @Test func gcsOverwriteIsNotADelete() async throws {
        let seen = try await FixtureRoutingTests.deliver(try Fixtures.bytes("gcs/delete-overwritten.json"))
        #expect(seen.paths["/deletes"] == nil)
        #expect(seen.paths["/everything"] == 1)
    }

    @Test func b2BodyOfTwoEventsIsTwoRecords() async throws {
        let seen = try await FixtureRoutingTests.deliver(try Fixtures.bytes("b2/two-events.json"))
        // The multipart upload reaches "sized"; the hide marker (a delete marker) "deletes" and, with its size 0,
        // "sized" too.
        #expect(seen.paths == ["/sized": 2, "/deletes": 1, "/everything": 2])
    }

    // MARK: Backblaze B2 signatures

    static let b2Secret = "3XDfkdQte2OgA78qCtSD17LAzpj6ay9H"

    static let signatureHeader = "X-Bz-Event-Notification-Signature"

    @Test func b2WebhookWithAGoodSignatureIsDeliveredAndATamperedOneRefused() async throws {
        let body = try Fixtures.bytes("b2/upload-special-key.json")
        let signature = B2Signature(secret: Self.b2Secret).header(for: body)
        // One byte of the event id changed: were it admitted, it would be a new event and delivered again.
        let tampered = Array(
            String(decoding: body, as: UTF8.self)
                .replacingOccurrences(of: #""eventId":"0"#, with: #""eventId":"9"#).utf8
        )
        #expect(tampered != body)
        try await Receiver.withReceiver { receiver in
            try await TestRelay.configured(
                rules: ["rules.json": FixtureRoutingTests.rules],
                environment: ["BASE": receiver.url(path: "")],
                {
                    $0.b2SigningSecret = Self.b2Secret
                    $0.authToken = "relay-token"
                }
            ) { relay in
                // A good signature stands in for the relay's token.
                let good = try await relay.post(body, headers: [(Self.signatureHeader, signature)])
                #expect(good.status == 200, "\(good.body)")
                let special = try await receiver.waitForRequests(count: 1, path: "/special")
                let record = try JSONParser.parse(special[0].body)["Records"]?.arrayValue?.first
                #expect(record?["eventSource"]?.stringValue == "b2:s3")

                // One byte changed, the same signature: refused, nothing routed, nothing dead-lettered.
                let bad = try await relay.post(tampered, headers: [(Self.signatureHeader, signature)])
                #expect(bad.status == 401, "\(bad.body)")
                #expect(bad.body.contains("does not verify"))
                // With the relay's token but no signature: a B2 body needs its signature.
                let unsigned = try await relay.post(tampered, headers: [("Authorization", "Bearer relay-token")])
                #expect(unsigned.status == 401, "\(unsigned.body)")
                // Neither token nor signature.
                #expect(try await relay.post(body).status == 401)
                // A MinIO body with the relay's token is untouched by the B2 check.
                let minio = try await relay.post(
                    try Fixtures.bytes("minio/put-zero-size.json"),
                    headers: [("Authorization", "Bearer relay-token")]
                )
                #expect(minio.status == 200)
                try await relay.waitForEmptySpool()
                try await Task.sleep(for: .milliseconds(150))
                #expect(receiver.requests.filter { $0.path == "/special" }.count == 1)
                #expect(try relay.deadLetters().isEmpty)
                #expect(relay.relay.log.totals.pendingCount == 0)
            }
        }
    }

    @Test func b2TestEventIsAnsweredEvenWhenItsSignatureDoesNotVerify() async throws {
        let body = try Fixtures.bytes("b2/test-event.json")
        try await TestRelay.configured(
            rules: ["rules.json": FixtureRoutingTests.rules],
            environment: ["BASE": "http://127.0.0.1:9"]
        ) {
            $0.b2SigningSecret = Self.b2Secret
        } _: { relay in
            let signed = try await relay.post(
                body,
                headers: [(Self.signatureHeader, B2Signature(secret: Self.b2Secret).header(for: body))]
            )
            #expect(signed.status == 200)
            #expect(signed.body.contains("test event"))
            let dummy = try await relay.post(
                body,
                headers: [(Self.signatureHeader, B2Signature(secret: "dummy").header(for: body))]
            )
            #expect(dummy.status == 200, "B2 has signed test events with another key")
        }
    }

    @Test func b2SignatureAcceptsAListAndChecksInBothCases() {
        let body = Array(#"{"events":[]}"#.utf8)
        let signature = B2Signature(secret: "s")
        let header = signature.header(for: body)
        #expect(signature.verifies(header: header, body: body))
        #expect(
            signature.verifies(header: header.uppercased().replacingOccurrences(of: "V1=", with: "v1="), body: body)
        )
        #expect(signature.verifies(header: "v1=" + String(repeating: "0", count: 64) + ", " + header, body: body))
        #expect(!signature.verifies(header: header.replacingOccurrences(of: "v1=", with: "v2="), body: body))
        #expect(!signature.verifies(header: "v1=abc", body: body))
        #expect(!B2Signature(secret: "t").verifies(header: header, body: body))
    }

    // MARK: Google Cloud Storage through Pub/Sub

    static let audience = "https://relay.example/minio-event"
    static let serviceAccount = "relay-push@demo.iam.gserviceaccount.com"

    /// A signed RS256 token with `claims` (JSON members, without braces).
    static func token(_ key: _RSA.Signing.PrivateKey, kid: String? = "test-key", claims: String) throws -> String {
        let header = kid.map { #"{"alg":"RS256","typ":"JWT","kid":"\#($0)"}"# } ?? #"{"alg":"RS256","typ":"JWT"}"#
        let input = Base64.encodeURLSafe(Array(header.utf8)) + "." + Base64.encodeURLSafe(Array("{\(claims)}".utf8))
        let signature = try key.signature(for: SHA256.hash(data: Array(input.utf8)), padding: .insecurePKCS1v1_5)
        return input + "." + Base64.encodeURLSafe(signature.rawRepresentation)
    }

    /// The claims of a push token: Google's issuer, `audience`, the service account, expiring in `expiresIn` seconds.
    static func claims(
        issuer: String = "https://accounts.google.com",
        audience: String = audience,
        email: String = serviceAccount,
        expiresIn: Int = 3600
    ) -> String {
        let now = Int(Date().timeIntervalSince1970)
        return #""iss":"\#(issuer)","aud":"\#(audience)","azp":"1234","email":"\#(email)","email_verified":true,"#
            + #""iat":\#(now - 10),"exp":\#(now + expiresIn),"sub":"1234""#
    }

    /// A JWKS holding `keys` by key id.
    static func jwks(_ keys: [(String, _RSA.Signing.PublicKey)]) throws -> String {
        let entries = try keys.map { kid, key in
            let primitives = try key.getKeyPrimitives()
            return
                #"{"kty":"RSA","alg":"RS256","use":"sig","kid":"\#(kid)","n":"\#(Base64.encodeURLSafe(primitives.modulus))","e":"\#(Base64.encodeURLSafe(primitives.publicExponent))"}"#
        }
        return #"{"keys":["# + entries.joined(separator: ",") + "]}"
    }

    @Test func gcsPushWithAGoodTokenIsDeliveredAndBadTokensAreRefused() async throws {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let other = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        let keysFile = root + "/keys.json"
        try Data(try Self.jwks([("test-key", key.publicKey)]).utf8).write(to: URL(fileURLWithPath: keysFile))
        let body = try Fixtures.bytes("gcs/finalize-special-key.json")
        try await Receiver.withReceiver { receiver in
            try await TestRelay.configured(
                rules: ["rules.json": FixtureRoutingTests.rules],
                environment: ["BASE": receiver.url(path: "")],
                {
                    $0.authToken = "relay-token"
                    $0.gcsPush = GCSPushAuthConfiguration(
                        audience: Self.audience,
                        serviceAccounts: [Self.serviceAccount],
                        keysFile: keysFile
                    )
                }
            ) { relay in
                func post(_ token: String, _ body: [UInt8]) async throws -> HTTPResponseSummary {
                    try await relay.post(body, headers: [("Authorization", "Bearer \(token)")])
                }
                let good = try await post(try Self.token(key, claims: Self.claims()), body)
                #expect([102, 200, 201, 202, 204].contains(good.status), "Pub/Sub acks it: \(good.body)")
                let special = try await receiver.waitForRequests(count: 1, path: "/special")
                let record = try JSONParser.parse(special[0].body)["Records"]?.arrayValue?.first
                #expect(record?["eventSource"]?.stringValue == "gcs:s3")

                let refusals: [(String, Int, String)] = [
                    (try Self.token(key, claims: Self.claims(audience: "https://elsewhere.example/")), 403, "audience"),
                    (try Self.token(key, claims: Self.claims(expiresIn: -120)), 401, "expired"),
                    (try Self.token(key, claims: Self.claims(issuer: "https://evil.example")), 401, "issuer"),
                    (try Self.token(other, claims: Self.claims()), 401, "signature"),
                    (try Self.token(key, claims: Self.claims(email: "someone@else.example")), 403, "service account"),
                ]
                // Another object: were it admitted, it would reach "avatars" (its metadata).
                let refusedBody = try Fixtures.bytes("gcs/finalize-image.json")
                for (token, status, word) in refusals {
                    let refused = try await post(token, refusedBody)
                    #expect(refused.status == status, "\(word): \(refused.body)")
                    #expect(refused.body.contains(word), "\(refused.body)")
                    #expect(refused.body.contains(#""error":"#))
                }
                // A good token admits pushes only; a MinIO body needs the relay's token.
                let minio = try await post(
                    try Self.token(key, claims: Self.claims()),
                    try Fixtures.bytes("minio/put-image.json")
                )
                #expect(minio.status == 401, "\(minio.body)")
                // The relay's token alone does not admit a push when --gcs-audience is set.
                #expect(try await post("relay-token", body).status == 401)
                try await relay.waitForEmptySpool()
                try await Task.sleep(for: .milliseconds(150))
                #expect(receiver.requests.filter { $0.path == "/special" }.count == 1)
                #expect(receiver.requests.filter { $0.path == "/avatars" }.isEmpty)
                #expect(try relay.deadLetters().isEmpty)
            }
        }
    }

    @Test func gcsKeysAreFetchedAndFetchedAgainForAnUnknownKeyID() async throws {
        let first = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let second = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let before = try Self.jwks([("first", first.publicKey)])
        let after = try Self.jwks([("first", first.publicKey), ("second", second.publicKey)])
        try await Receiver.withReceiver { request, index in
            guard request.path == "/certs" else { return .ok }
            return ReceiverResponse(body: Array((index == 0 ? before : after).utf8))
        } _: { keys in
            try await Receiver.withReceiver { receiver in
                try await TestRelay.configured(
                    rules: ["rules.json": FixtureRoutingTests.rules],
                    environment: ["BASE": receiver.url(path: "")],
                    {
                        var push = GCSPushAuthConfiguration(
                            audience: Self.audience,
                            serviceAccounts: [Self.serviceAccount]
                        )
                        push.keysURL = keys.url(path: "/certs")
                        push.refetchInterval = .zero
                        $0.gcsPush = push
                    }
                ) { relay in
                    let push = try Fixtures.bytes("gcs/finalize-image.json")
                    let byFirst = try Self.token(first, kid: "first", claims: Self.claims())
                    #expect(try await relay.post(push, headers: [("Authorization", "Bearer \(byFirst)")]).status == 200)
                    // A resend of the same message is recognised by its messageId.
                    let resent = try await relay.post(push, headers: [("Authorization", "Bearer \(byFirst)")])
                    #expect(resent.body.contains("duplicate"), "\(resent.body)")
                    #expect(keys.requests(path: "/certs").count == 1, "cached by key id")
                    let other = try Fixtures.bytes("gcs/finalize-special-key.json")
                    let bySecond = try Self.token(second, kid: "second", claims: Self.claims())
                    #expect(
                        try await relay.post(other, headers: [("Authorization", "Bearer \(bySecond)")]).status == 200
                    )
                    #expect(keys.requests(path: "/certs").count == 2, "an unknown key id fetches the keys again")
                    _ = try await receiver.waitForRequests(count: 1, path: "/special")
                }
            }
        }
    }

    // MARK: versitygw

    @Test func versitygwRecordIsDeliveredWithItsKeyRight() async throws {
        let body = try Fixtures.bytes("versitygw/put-special-key.json")
        try await Receiver.withReceiver { receiver in
            try await TestRelay.with(
                rules: ["rules.json": FixtureRoutingTests.rules],
                environment: ["BASE": receiver.url(path: "")]
            ) { relay in
                #expect(try await relay.post(body).status == 200)
                // The rule on the decoded key ("uploads/summer trip/", "ü.JPG") selected it; MinIO's envelope
                // names the decoded key; a records target gets the record as versitygw sent it.
                let images = try await receiver.waitForRequests(count: 1, path: "/images")
                let envelope = try JSONParser.parse(images[0].body)
                #expect(envelope["Key"]?.stringValue == "photos/uploads/summer trip/a+b ü.JPG")
                _ = try await receiver.waitForRequests(count: 1, path: "/special")
                let sized = try await receiver.waitForRequests(count: 1, path: "/sized")
                let record = try JSONParser.parse(sized[0].body)["Records"]?.arrayValue?.first
                #expect(record?["s3"]?["object"]?["key"]?.stringValue == "uploads/summer trip/a+b ü.JPG")
                #expect(record?["s3"]?["object"]?["versionId"]?.isNull == true)
            }
        }
    }
}
