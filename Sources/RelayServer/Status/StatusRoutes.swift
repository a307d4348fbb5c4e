import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import RelayCore
import RelayJetStream
import Synchronization

/// `GET /status` and its actions (docs/operations.md, "Status page"; docs/security.md).
///
/// - `GET /status`: the page (HTML), or the same data as JSON with `Accept: application/json`.
/// - `POST /status/login` (form `token`): sets the session cookie and redirects to `/status`.
/// - `POST /status/logout`: clears the cookie.
/// - `POST /status/replay` (form or query `scope` = `one` | `target` | `all`, `deliveryID`, `target`, `csrf`):
///   replays dead letters through this relay's HTTP client with the rules in force; with the delivery log on
///   JetStream, re-queues them as pending deliveries (``JetStreamDeadLetterReplay``).
///
/// The token is `--admin-token`, else `--auth-token`; with neither every route answers 403. A request is signed in by
/// `Authorization: Bearer TOKEN` or by the session cookie (HttpOnly, SameSite=Strict, derived from the token by
/// HMAC, so it is not the token and changes with it). POSTs signed in by the cookie need the CSRF field (also derived
/// from the token); every POST whose `Origin` or `Sec-Fetch-Site` says another site is refused with 403.
final class StatusRoutes: Sendable {
    static let cookieName = "relay_status"
    private let relay: Relay
    private let token: String?
    private let session: String
    private let csrf: String
    private let lastReplay = Mutex<StatusSnapshot.ReplayResult?>(nil)

    init(relay: Relay) {
        self.relay = relay
        let token = relay.configuration.adminToken ?? relay.configuration.authToken
        self.token = token
        self.session = Self.derive(token ?? "", "bucket-relay status session v1")
        self.csrf = Self.derive(token ?? "", "bucket-relay status csrf v1")
    }

    func register(on router: Router<RelayRequestContext>) {
        router.get("/status") { request, _ in await self.page(request) }
        router.post("/status/login") { request, _ in try await self.login(request) }
        router.post("/status/logout") { request, _ in self.logout(request) }
        router.post("/status/replay") { request, _ in try await self.replay(request) }
    }

    // MARK: - Routes

    private func page(_ request: Request) async -> Response {
        let wantsJSON = Self.wantsJSON(request)
        guard token != nil else { return disabled(wantsJSON) }
        guard signedIn(request) != nil else {
            if wantsJSON { return Self.error(401, "unauthorized", "send Authorization: Bearer TOKEN (--admin-token)") }
            return Self.html(.unauthorized, StatusPage.login(message: nil))
        }
        let snapshot = await StatusSnapshot.gather(relay: relay, lastReplay: lastReplay.withLock { $0 })
        if wantsJSON {
            return Self.response(.ok, "application/json", snapshot.json())
        }
        return Self.html(.ok, StatusPage.render(snapshot, csrf: csrf))
    }

    private func login(_ request: Request) async throws -> Response {
        guard let token else { return disabled(false) }
        if let refusal = crossSite(request) { return refusal }
        let form = try await Self.form(request)
        guard let given = form["token"], RelayRoutes.constantTimeEqual(given, token) else {
            return Self.html(.unauthorized, StatusPage.login(message: "Wrong token."))
        }
        var response = Self.redirect("/status")
        response.headers[.setCookie] =
            "\(Self.cookieName)=\(session); Path=/status; HttpOnly; SameSite=Strict; Max-Age=43200"
        return response
    }

    private func logout(_ request: Request) -> Response {
        if let refusal = crossSite(request) { return refusal }
        var response = Self.redirect("/status")
        response.headers[.setCookie] = "\(Self.cookieName)=; Path=/status; HttpOnly; SameSite=Strict; Max-Age=0"
        return response
    }

    private func replay(_ request: Request) async throws -> Response {
        let wantsJSON = Self.wantsJSON(request)
        guard token != nil else { return disabled(wantsJSON) }
        if let refusal = crossSite(request) { return refusal }
        guard let method = signedIn(request) else {
            return Self.error(401, "unauthorized", "sign in at /status or send Authorization: Bearer TOKEN")
        }
        var form = try await Self.form(request)
        for (name, value) in request.uri.queryParameters where form[String(name)] == nil {
            form[String(name)] = String(value)
        }
        if method == .cookie {
            guard let given = form["csrf"], RelayRoutes.constantTimeEqual(given, csrf) else {
                return Self.error(403, "forbidden", "the form's CSRF token is missing or wrong; reload /status")
            }
        }
        var filter = DeadLetterReplay.Filter()
        let scope = form["scope"] ?? "all"
        switch scope {
        case "one":
            guard let id = form["deliveryID"], !id.isEmpty else {
                return Self.error(400, "bad request", "scope=one needs deliveryID")
            }
            filter.deliveryID = id
        case "target":
            guard let target = form["target"], !target.isEmpty else {
                return Self.error(400, "bad request", "scope=target needs target")
            }
            filter.target = target
        case "all":
            break
        default:
            return Self.error(400, "bad request", "scope must be one, target or all")
        }
        let replay = DeadLetterReplay(dataDirectory: relay.configuration.dataDirectory, rules: relay.rules.current)
        var result = StatusSnapshot.ReplayResult(
            time: Timestamp.now().iso8601,
            scope: scope,
            target: filter.target,
            deliveryID: filter.deliveryID,
            sent: 0,
            failed: 0,
            unsendable: 0,
            error: nil
        )
        var status: HTTPResponse.Status = .ok
        do {
            let summary: DeadLetterReplay.Summary
            if let jetStream = relay.log as? JetStreamDeliveryLog {
                // On JetStream the dead letters are re-queued for the relays to deliver (docs/delivery.md).
                summary = try await JetStreamDeadLetterReplay(log: jetStream, rules: relay.rules.current)
                    .run(filter, dryRun: false) { _ in }
            } else {
                summary = try await replay.run(filter, dryRun: false, client: relay.client) { _ in }
            }
            result.sent = summary.sent
            result.failed = summary.failed
            result.unsendable = summary.unsendable
            result.neverRouted = summary.neverRouted
        } catch let error as ReplayError {
            result.error = "\(error)"
            status = .conflict
        } catch {
            result.error = "\(error)"
            status = .internalServerError
        }
        relay.logger.notice(
            "Dead letters replayed from the status page",
            metadata: [
                "replay.scope": "\(scope)", "replay.sent": "\(result.sent)", "replay.failed": "\(result.failed)",
                "replay.unsendable": "\(result.unsendable)",
            ]
        )
        lastReplay.withLock { $0 = result }
        if wantsJSON || method == .bearer {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return Self.response(status, "application/json", (try? Array(encoder.encode(result))) ?? [])
        }
        return Self.redirect("/status")
    }

    // MARK: - Checks

    enum SignIn {
        case bearer
        case cookie
    }

    /// How the request is signed in, nil when it is not.
    private func signedIn(_ request: Request) -> SignIn? {
        guard let token else { return nil }
        if let header = request.headers[.authorization], RelayRoutes.bearerMatches(header, token) {
            return .bearer
        }
        for field in request.headers[values: .cookie] {
            for pair in field.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == Self.cookieName else {
                    continue
                }
                if RelayRoutes.constantTimeEqual(parts[1].trimmingCharacters(in: .whitespaces), session) {
                    return .cookie
                }
            }
        }
        return nil
    }

    /// A 403 when the request says it comes from another site: `Sec-Fetch-Site` other than `same-origin` or `none`,
    /// or an `Origin` whose host is not the request's `Host`.
    private func crossSite(_ request: Request) -> Response? {
        if let site = request.headers[Self.secFetchSite]?.lowercased(), site != "same-origin", site != "none" {
            return Self.error(403, "forbidden", "cross-site request refused (Sec-Fetch-Site: \(site))")
        }
        if let origin = request.headers[.origin] {
            let host = request.head.authority ?? ""
            let originHost = origin.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first
            guard origin != "null", let originHost, originHost.lowercased() == host.lowercased() else {
                return Self.error(403, "forbidden", "cross-site request refused (Origin is not this relay)")
            }
        }
        return nil
    }

    private func disabled(_ wantsJSON: Bool) -> Response {
        if wantsJSON {
            return Self.error(
                403,
                "forbidden",
                "the status page is off: set --admin-token (RELAY_ADMIN_TOKEN) or --auth-token to use it"
            )
        }
        return Self.html(.forbidden, StatusPage.disabled())
    }

    // MARK: - Helpers

    private static let secFetchSite = HTTPField.Name("Sec-Fetch-Site")!

    /// Hex HMAC-SHA256 of `label` keyed by the token: a value only the token's holder can compute.
    static func derive(_ token: String, _ label: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array(label.utf8), using: SymmetricKey(data: Array(token.utf8)))
        return mac.map { String(format: "%02x", $0) }.joined()
    }

    static func wantsJSON(_ request: Request) -> Bool {
        request.headers[.accept]?.lowercased().contains("application/json") ?? false
    }

    /// The fields of an `application/x-www-form-urlencoded` body (at most 64 KiB); empty for any other body.
    static func form(_ request: Request) async throws -> [String: String] {
        let buffer = try await request.body.collect(upTo: 64 << 10)
        let text = String(buffer: buffer)
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = decode(parts[0]) else { continue }
            let value = parts.count > 1 ? decode(parts[1]) ?? "" : ""
            if fields[name] == nil { fields[name] = value }
        }
        return fields
    }

    private static func decode(_ text: Substring) -> String? {
        text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    static func html(_ status: HTTPResponse.Status, _ text: String) -> Response {
        response(status, "text/html; charset=utf-8", Array(text.utf8))
    }

    static func error(_ status: Int, _ error: String, _ detail: String) -> Response {
        var response = RelayRoutes.respond(.error(status, error, detail))
        secure(&response.headers)
        return response
    }

    static func redirect(_ location: String) -> Response {
        var headers = HTTPFields()
        headers[.location] = location
        secure(&headers)
        return Response(status: .seeOther, headers: headers)
    }

    static func response(_ status: HTTPResponse.Status, _ contentType: String, _ body: [UInt8]) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        secure(&headers)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// No caching, no framing, no script, nothing fetched: the page stands alone. The referrer policy is
    /// `same-origin`, not `no-referrer`: with `no-referrer` browsers send `Origin: null` on the page's own form posts,
    /// which the cross-site check refuses.
    private static func secure(_ headers: inout HTTPFields) {
        headers[.cacheControl] = "no-store"
        headers[.contentSecurityPolicy] =
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        headers[HTTPField.Name("Referrer-Policy")!] = "same-origin"
    }
}
