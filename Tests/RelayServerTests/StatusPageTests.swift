import Foundation
import Logging
import RelayCore
import RelayDelivery
import RelayLog
import RelayServer
import RelaySpool
import RelayTestSupport
import Testing

/// `GET /status` and its actions on the real server: the JSON, the sign-in, the CSRF and cross-site refusals, and a
/// replay through the running relay.
@Suite(.timeLimit(.minutes(2)))
struct StatusPageTests {
    static let headerSecret = "hdr-secret-5f2a"
    static let signingSecret = "whsec_c2lnbmluZy1zZWNyZXQtOWQx"
    static let urlPassword = "url-pass-77c3"

    /// A target `good` that answers 200, and `flaky` that refuses first attempts with 400 (dead-lettered at once)
    /// and accepts replays; both with secrets in the rules.
    static func rules(_ receiver: Receiver) -> [String: String] {
        let good = receiver.url(path: "/good")
        let flaky = receiver.url(path: "/flaky").replacingOccurrences(
            of: "http://",
            with: "http://ops:\(urlPassword)@"
        )
        return [
            "rules.json": """
            {
              "targets": {
                "good": { "url": "\(good)", "headers": { "Authorization": "Bearer \(headerSecret)" } },
                "flaky": { "url": "\(flaky)?token=\(urlPassword)", "signingSecret": "\(signingSecret)",
                           "retry": { "attempts": 1, "initialBackoff": "10ms", "maxBackoff": "10ms" } }
              },
              "rules": [ { "name": "all", "match": {}, "to": ["good", "flaky"] } ]
            }
            """
        ]
    }

    static func responder(_ request: RecordedRequest, _ index: Int) async -> ReceiverResponse {
        if request.path == "/flaky" && request.header("X-Relay-Replay") == nil {
            return ReceiverResponse(status: 400)
        }
        return .ok
    }

    static func object(_ bytes: [UInt8]) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    @Test func isRefusedWith403WhenNoTokenIsSet() async throws {
        try await Receiver.withReceiver { receiver in
            try await TestRelay.with(rules: Self.rules(receiver)) { relay in
                let page = try await TestHTTP.get(relay.url("/status"))
                #expect(page.status == 403)
                #expect(String(decoding: page.body, as: UTF8.self).contains("--admin-token"))
                let json = try await TestHTTP.get(relay.url("/status"), headers: [("Accept", "application/json")])
                #expect(json.status == 403)
                #expect(try Self.object(json.body)["detail"] as? String != nil)
                let replay = try await TestHTTP.post(relay.url("/status/replay"), body: "scope=all")
                #expect(replay.status == 403)
            }
        }
    }

    @Test func answersJSONWithTargetsCountsDeadLettersAndNoSecret() async throws {
        let body = try Fixtures.bytes("minio/put-image.json")
        try await Receiver.withReceiver(responder: Self.responder) { receiver in
            try await TestRelay.configured(rules: Self.rules(receiver), { $0.adminToken = "admin-token-1" }) {
                relay in
                #expect(try await relay.post(body).status == 200)
                _ = try await relay.waitForDeadLetters(count: 1)
                try await relay.waitForEmptySpool()

                let anonymous = try await TestHTTP.get(relay.url("/status"), headers: [("Accept", "application/json")])
                #expect(anonymous.status == 401)
                let wrong = try await TestHTTP.get(
                    relay.url("/status"),
                    headers: [("Accept", "application/json"), ("Authorization", "Bearer admin-token-2")]
                )
                #expect(wrong.status == 401)
                let loginPage = try await TestHTTP.get(relay.url("/status"))
                #expect(loginPage.status == 401)
                #expect(String(decoding: loginPage.body, as: UTF8.self).contains("name=token"))

                let response = try await TestHTTP.get(
                    relay.url("/status"),
                    headers: [("Accept", "application/json"), ("Authorization", "Bearer admin-token-1")]
                )
                #expect(response.status == 200)
                #expect(response.header("Content-Type") == "application/json")
                let text = String(decoding: response.body, as: UTF8.self)
                for secret in [Self.headerSecret, Self.signingSecret, Self.urlPassword] {
                    #expect(!text.contains(secret), "the status JSON shows no secret")
                }
                let json = try Self.object(response.body)
                let targets = try #require(json["targets"] as? [[String: Any]])
                #expect(targets.map { $0["name"] as? String } == ["good", "flaky"])
                let flaky = try #require(targets.last)
                #expect(flaky["circuit"] as? String == "closed")
                #expect(flaky["pending"] as? Int == 0)
                #expect(flaky["attempts"] as? Int == 1)
                #expect(flaky["failures"] as? Int == 1)
                #expect(flaky["lastError"] as? String == "HTTP 400")
                #expect((flaky["url"] as? String)?.contains("REDACTED@") == true)
                #expect((targets.first?["attempts"] as? Int) == 1)
                #expect((targets.first?["failures"] as? Int) == 0)
                let rules = try #require(json["rules"] as? [String: Any])
                #expect(rules["rules"] as? Int == 1)
                #expect(rules["targets"] as? Int == 2)
                #expect((rules["files"] as? [String])?.count == 1)
                #expect(rules["loadedAt"] as? String != nil)
                let letters = try #require(json["deadLetters"] as? [[String: Any]])
                #expect(letters.count == 1)
                #expect(letters.first?["target"] as? String == "flaky")
                #expect(letters.first?["reason"] as? String == "rejected")
                #expect(letters.first?["key"] as? String == "photos/uploads/2026/cat.jpg")
                #expect(letters.first?["replayable"] as? Bool == true)
            }
        }
    }

    @Test func signsInWithAStrictCookieAndRefusesActionsWithoutCSRFOrFromAnotherSite() async throws {
        let body = try Fixtures.bytes("minio/put-image.json")
        try await Receiver.withReceiver(responder: Self.responder) { receiver in
            // No --admin-token: the ingress token guards the page.
            try await TestRelay.configured(rules: Self.rules(receiver), { $0.authToken = "ingress-token" }) { relay in
                let ingress = [("Authorization", "Bearer ingress-token")]
                #expect(try await relay.post(body, headers: ingress).status == 200)
                let letter = try #require(try await relay.waitForDeadLetters(count: 1).first)
                let form = [("Content-Type", "application/x-www-form-urlencoded")]

                let badLogin = try await TestHTTP.post(relay.url("/status/login"), body: "token=nope", headers: form)
                #expect(badLogin.status == 401)
                #expect(badLogin.header("Set-Cookie") == nil)
                let crossLogin = try await TestHTTP.post(
                    relay.url("/status/login"),
                    body: "token=ingress-token",
                    headers: form + [("Origin", "http://evil.example")]
                )
                #expect(crossLogin.status == 403)

                let login = try await TestHTTP.post(
                    relay.url("/status/login"),
                    body: "token=ingress-token",
                    headers: form
                )
                #expect(login.status == 303)
                let setCookie = try #require(login.header("Set-Cookie"))
                #expect(setCookie.contains("HttpOnly"))
                #expect(setCookie.contains("SameSite=Strict"))
                #expect(!setCookie.contains("ingress-token"), "the cookie is derived, not the token")
                let cookie = try #require(setCookie.split(separator: ";").first.map(String.init))

                let page = try await TestHTTP.get(relay.url("/status"), headers: [("Cookie", cookie)])
                #expect(page.status == 200)
                let html = String(decoding: page.body, as: UTF8.self)
                #expect(html.contains("data-target=\"flaky\""))
                for secret in [Self.headerSecret, Self.signingSecret, Self.urlPassword] {
                    #expect(!html.contains(secret), "the status page shows no secret")
                }
                let csrfMarker = "name=csrf value=\""
                let csrfStart = try #require(html.range(of: csrfMarker)).upperBound
                let csrf = String(html[csrfStart...].prefix { $0 != "\"" })
                #expect(csrf.count == 64)

                let replayURL = relay.url("/status/replay")
                let one = "scope=one&deliveryID=\(letter.deliveryID ?? "")"
                let noCSRF = try await TestHTTP.post(replayURL, body: one, headers: form + [("Cookie", cookie)])
                #expect(noCSRF.status == 403)
                let crossSite = try await TestHTTP.post(
                    replayURL,
                    body: one + "&csrf=\(csrf)",
                    headers: form + [("Cookie", cookie), ("Sec-Fetch-Site", "cross-site")]
                )
                #expect(crossSite.status == 403)
                let anonymous = try await TestHTTP.post(replayURL, body: one + "&csrf=\(csrf)", headers: form)
                #expect(anonymous.status == 401)
                #expect(receiver.requests(path: "/flaky").count == 1, "no refused action sent anything")

                let replay = try await TestHTTP.post(
                    replayURL,
                    body: one + "&csrf=\(csrf)",
                    headers: form + [("Cookie", cookie), ("Origin", "http://127.0.0.1:\(relay.port)")]
                )
                #expect(replay.status == 303)
                let replayed = try await receiver.waitForRequests(count: 2, path: "/flaky")
                #expect(replayed.last?.header("X-Relay-Replay") == "1")
                #expect(replayed.last?.header("webhook-id") == letter.deliveryID)
                #expect(try relay.deadLetters().isEmpty, "the replayed line left the file")
                let after = try await TestHTTP.get(relay.url("/status"), headers: [("Cookie", cookie)])
                #expect(String(decoding: after.body, as: UTF8.self).contains("sent 1, failed 0"))
            }
        }
    }

    @Test func showsDeadLetterKeysDecodedAndEscapedAndGivesTheDecodedKeyInJSON() async throws {
        // The record's key as MinIO sends it: form-encoded; decoded, `uploads/2026/cat<b>&"x".jpg`.
        let body = Array(
            """
            {"Records":[{"eventVersion":"2.0","eventSource":"minio:s3","eventName":"s3:ObjectCreated:Put",\
            "eventTime":"2026-11-25T10:00:00.000Z","s3":{"bucket":{"name":"photos"},\
            "object":{"key":"uploads%2F2026%2Fcat%3Cb%3E%26%22x%22.jpg","size":12}}}]}
            """.utf8
        )
        let refuse: Receiver.Responder = { _, _ in ReceiverResponse(status: 400) }
        try await Receiver.withReceiver(responder: refuse) { receiver in
            let rules = [
                "rules.json": """
                { "targets": { "records": { "url": "\(receiver.url(path: "/records"))", "format": "records" } },
                  "rules": [ { "name": "all", "match": {}, "to": ["records"] } ] }
                """
            ]
            try await TestRelay.configured(rules: rules, { $0.adminToken = "admin" }) { relay in
                #expect(try await relay.post(body).status == 200)
                _ = try await relay.waitForDeadLetters(count: 1)
                let page = try await TestHTTP.get(relay.url("/status"), headers: [("Authorization", "Bearer admin")])
                #expect(page.status == 200)
                let html = String(decoding: page.body, as: UTF8.self)
                #expect(html.contains("photos/uploads/2026/cat&lt;b&gt;&amp;&quot;x&quot;.jpg"), "\(html)")
                #expect(!html.contains("%2F"), "no key is shown URL-encoded")
                #expect(!html.contains("cat<b>"), "the key is HTML-escaped")

                let json = try await TestHTTP.get(
                    relay.url("/status"),
                    headers: [("Accept", "application/json"), ("Authorization", "Bearer admin")]
                )
                let letter = try #require((try Self.object(json.body)["deadLetters"] as? [[String: Any]])?.first)
                let raw = "uploads%2F2026%2Fcat%3Cb%3E%26%22x%22.jpg"
                #expect(letter["key"] as? String == raw, "as the payload has it")
                #expect(letter["decodedKey"] as? String == #"uploads/2026/cat<b>&"x".jpg"#)
                #expect(letter["bucket"] as? String == "photos")

                // A line that names no target (an SNS refusal) beside it: replaying all keeps it, counted apart.
                let file = try DeadLetterFile(directory: relay.dataDirectory)
                let refused = DeadLetter(time: Timestamp.now().iso8601, reason: .badSignature, payload: "{}")
                try await file.append([refused])
                file.close()
                let replay = try await TestHTTP.post(
                    relay.url("/status/replay"),
                    body: "scope=all",
                    headers: [("Authorization", "Bearer admin")]
                )
                let result = try Self.object(replay.body)
                #expect(result["neverRouted"] as? Int == 1, "\(result)")
                #expect(result["unsendable"] as? Int == 0, "\(result)")
                #expect(result["failed"] as? Int == 1, "the records target still refuses: \(result)")
                #expect(try relay.deadLetters().count == 2, "both lines stay")
            }
        }
    }

    @Test func showsAFailedReloadAndKeepsTheRulesInForce() async throws {
        try await Receiver.withReceiver { receiver in
            try await TestRelay.configured(rules: Self.rules(receiver), { $0.adminToken = "admin" }) { relay in
                let headers = [("Accept", "application/json"), ("Authorization", "Bearer admin")]
                let before = try Self.object(try await TestHTTP.get(relay.url("/status"), headers: headers).body)
                let loadedAt = try #require((before["rules"] as? [String: Any])?["loadedAt"] as? String)
                #expect((before["rules"] as? [String: Any])?["lastReloadError"] == nil)

                let file = relay.relay.rules.path + "/rules.json"
                try Data(#"{"rules": [{"name": "x", "match": {"suffx": ".jpg"}, "to": ["good"]}]}"#.utf8)
                    .write(to: URL(fileURLWithPath: file))
                #expect(relay.relay.rules.reload(logger: .init(label: "test")) != nil)

                let after = try Self.object(try await TestHTTP.get(relay.url("/status"), headers: headers).body)
                let rules = try #require(after["rules"] as? [String: Any])
                #expect(rules["loadedAt"] as? String == loadedAt, "the running rules stay")
                #expect(rules["targets"] as? Int == 2)
                let errors = try #require(rules["lastReloadError"] as? [String])
                #expect(errors.contains { $0.contains("suffx") && $0.contains("rules.json") })
                let page = try await TestHTTP.get(relay.url("/status"), headers: [("Authorization", "Bearer admin")])
                let html = String(decoding: page.body, as: UTF8.self)
                #expect(html.contains("id=reload-error"))
                #expect(html.contains("suffx"))
            }
        }
    }

    @Test func theBinaryTakesRELAY_ADMIN_TOKENAndPublishesPerTargetGauges() async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        let rulesPath = root + "/rules.json"
        let rules = """
            { "targets": { "dead": { "url": "http://127.0.0.1:1/", "retry": { "attempts": 50, "initialBackoff": "5s" } } },
              "rules": [ { "name": "all", "match": {}, "to": ["dead"] } ] }
            """
        try Data(rules.utf8).write(to: URL(fileURLWithPath: rulesPath))
        let relay = try RelayProcess.start(
            ["serve", "--rules", rulesPath, "--data-dir", root + "/data", "--host", "127.0.0.1", "--port", "0"],
            environment: ["RELAY_ADMIN_TOKEN": "from-the-environment"]
        )
        defer { relay.kill() }
        let port = try await relay.waitForPort()
        let base = "http://127.0.0.1:\(port)"
        #expect(
            try await TestHTTP.post(base + "/minio-event", body: try Fixtures.bytes("minio/put-image.json")).status
                == 200
        )
        let json = [("Accept", "application/json")]
        #expect(try await TestHTTP.get(base + "/status", headers: json).status == 401)
        let status = try await TestHTTP.get(
            base + "/status",
            headers: json + [("Authorization", "Bearer from-the-environment")]
        )
        #expect(status.status == 200)
        let target = try #require((try Self.object(status.body)["targets"] as? [[String: Any]])?.first)
        #expect(target["pending"] as? Int == 1)

        let text = String(decoding: try await TestHTTP.get(base + "/metrics").body, as: UTF8.self)
        #expect(text.contains(#"relay_target_pending_deliveries{target="dead"} 1"#), "\(text)")
        #expect(text.contains(#"relay_target_oldest_pending_age_seconds{target="dead"}"#), "\(text)")
        #expect(text.contains(#"relay_target_circuit_state{target="dead",state="closed"} 1"#), "\(text)")
        #expect(text.contains(#"relay_target_circuit_state{target="dead",state="open"} 0"#), "\(text)")
    }
}
