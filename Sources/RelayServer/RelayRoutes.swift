import Foundation
import HTTPTypes
import Hummingbird
import Metrics
import NIOCore
import Prometheus
import RelayCore
import RelayDelivery
import RelayLog
import RelaySpool

/// The HTTP interface (docs/interface.md).
enum RelayRoutes {
    static func router(relay: Relay) -> Router<RelayRequestContext> {
        let router = Router(context: RelayRequestContext.self)
        router.middlewares.add(JSONErrorMiddleware())
        let ingress = relay.ingress
        let configuration = relay.configuration
        let maxBody = configuration.maxBodyBytes
        let expectedToken = configuration.authToken
        let budget = BodyBudget(
            limit: max(configuration.maxBufferedBodyBytes, maxBody),
            perClientLimit: max(configuration.maxBufferedBodyBytesPerClient, maxBody)
        )
        let deadlines = relay.bodyDeadlines
        let stallTimeout = configuration.bodyStallTimeout
        let traceparentField = HTTPField.Name(EventTracing.traceparentHeader)
        let sns = relay.sns
        let snsMessageTypeField = HTTPField.Name(SNSMessage.messageTypeHeader)

        let sourceAuthenticator = relay.sourceAuthenticator
        let receive: @Sendable (Request, RelayRequestContext) async throws -> Response = { request, context in
            // The relay's token, or a source's own proof (docs/security.md, "Who may post").
            let credentials: SourceAuthenticator.Credentials
            switch await sourceAuthenticator.authenticate(request.headers) {
            case .refused(let refusal):
                var response = respond(refusal)
                // SNS sends the credentials of its subscription URL only after a challenge.
                if refusal.status == 401 {
                    response.headers.append(HTTPField(name: .wwwAuthenticate, value: basicChallenge))
                }
                return response
            case .proceed(let proved): credentials = proved
            }
            let length = request.headers[.contentLength].flatMap { Int($0) }
            if let length, length > maxBody {
                return respond(tooLarge(maxBody))
            }
            // Bytes are reserved as they arrive (docs/security.md): a request holds only what it has sent.
            let reservation = BodyBudget.Reservation(client: context.clientAddress)
            defer { budget.release(reservation) }
            let buffer: ByteBuffer
            do {
                buffer = try await deadlines.collect(
                    request,
                    upTo: maxBody,
                    budget: budget,
                    reservation: reservation,
                    stallTimeout: stallTimeout
                )
            } catch let error as HTTPError where error.status == .contentTooLarge {
                return closing(tooLarge(maxBody), context.channel)
            } catch is BodyDeadlines.Busy {
                return closing(
                    .error(
                        503,
                        "busy",
                        "too many request bodies are being received at once; retry shortly",
                        retryAfter: 1
                    ),
                    context.channel
                )
            } catch let timeout as BodyDeadlines.Timeout {
                let detail =
                    timeout.stalled
                    ? "no byte of the body arrived for \(stallTimeout); send it at once"
                    : "the body did not arrive within \(deadlines.timeout); send it at once"
                return closing(.error(408, "request timeout", detail), context.channel)
            }

            let body = buffer.getBytes(at: buffer.readerIndex, length: buffer.readableBytes) ?? []
            let traceparent = traceparentField.flatMap { request.headers[$0] }
            // An SNS envelope is verified and handled on its own; anything else (raw message delivery too) is routed.
            let messageType = snsMessageTypeField.flatMap { request.headers[$0] }
            if let answer = await sns.handle(body: body, messageType: messageType, traceparent: traceparent) {
                return respond(answer)
            }
            return respond(
                await ingress.handle(
                    body: body,
                    traceparent: traceparent,
                    admission: sourceAuthenticator.admission(credentials, body: body)
                )
            )
        }
        router.post("/minio-event", use: receive)
        router.post("/", use: receive)
        // Older MinIO releases check liveness with HEAD.
        router.head("/minio-event") { _, _ in Response(status: .ok) }
        router.head("/") { _, _ in Response(status: .ok) }
        // What the event routes take; any other method on them is 405 with this `Allow` (JSONErrorMiddleware).
        for path in eventPaths {
            router.on(RouterPath(path), method: .options) { _, _ in
                var headers = HTTPFields()
                headers[.allow] = eventMethods
                return Response(status: .noContent, headers: headers)
            }
        }
        router.get("/healthz") { _, _ in
            json(.ok, #"{"status":"ok"}"#)
        }
        router.get("/readyz") { _, _ in
            if let refusal = await notReady(relay, maxBody: maxBody) { return respond(refusal) }
            return json(.ok, #"{"status":"ready","rules":"loaded","spool":"writable"}"#)
        }
        if let registry = relay.prometheus {
            let metricsToken = configuration.metricsRequireToken ? expectedToken : nil
            let targetGauges = TargetGauges()
            // 1 when /readyz answers 200, 0 when it answers 503 (docs/operations.md, "Metrics").
            let ready = Gauge(label: "relay_ready")
            router.get("/metrics") { request, _ in
                if let metricsToken, !authorized(request, metricsToken) {
                    return unauthorized()
                }
                ready.record(await notReady(relay, maxBody: maxBody) == nil ? 1 : 0)
                relay.delivery.updateGauges()
                await targetGauges.update(relay: relay)
                var out: [UInt8] = []
                registry.emit(into: &out)
                var headers = HTTPFields()
                headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: out)))
            }
        }
        StatusRoutes(relay: relay).register(on: router)
        TapRoutes.register(on: router, relay: relay)
        return router
    }

    /// The paths events are posted to (docs/interface.md, "HTTP").
    static let eventPaths: Set<String> = ["/minio-event", "/"]
    /// The `Allow` of the event paths: their 405 and their `OPTIONS` answer.
    static let eventMethods = "POST, HEAD, OPTIONS"

    /// The 503 `/readyz` answers when events would be refused: too little free space in the data directory, or a
    /// delivery log that cannot commit; nil when ready.
    static func notReady(_ relay: Relay, maxBody: Int) async -> IngressResponse? {
        if let free = freeBytes(relay.configuration.dataDirectory), free < Int64(4 * maxBody) {
            return .error(
                503,
                "not ready",
                "the data directory has \(free) bytes free; events would be refused (503) until space is freed",
                retryAfter: 5
            )
        }
        if await relay.log.isWritable() { return nil }
        return .error(503, "not ready", "the spool is not writable", retryAfter: 5)
    }

    /// Free bytes on the file system holding `path`, nil when unknown.
    static func freeBytes(_ path: String) -> Int64? {
        guard let attributes = try? FileManager.default.attributesOfFileSystem(forPath: path),
            let free = attributes[.systemFreeSize] as? NSNumber
        else { return nil }
        return free.int64Value
    }

    static func tooLarge(_ maxBody: Int) -> IngressResponse {
        .error(413, "body too large", "the limit is \(maxBody) bytes; raise it with --max-body (env RELAY_MAX_BODY)")
    }

    static func json(_ status: HTTPResponse.Status, _ text: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func respond(_ response: IngressResponse) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if let retryAfter = response.retryAfter {
            headers[.retryAfter] = String(retryAfter)
        }
        return Response(
            status: HTTPResponse.Status(code: response.status),
            headers: headers,
            body: .init(byteBuffer: ByteBuffer(bytes: response.body))
        )
    }

    /// True when the request carries `Authorization: Bearer TOKEN` with the expected token, or HTTP Basic with it as
    /// the password (what an SNS subscription URL `https://relay:TOKEN@host/` sends; docs/security.md).
    static func authorized(_ request: Request, _ token: String) -> Bool {
        guard let given = request.headers[.authorization] else { return false }
        return bearerMatches(given, token) || basicMatches(given, token)
    }

    static func unauthorized() -> Response {
        var response = respond(
            .error(
                401,
                "unauthorized",
                "send Authorization: Bearer TOKEN (the relay's --auth-token), or Basic with the token as the password"
            )
        )
        // SNS sends the credentials of its subscription URL only after a challenge.
        response.headers.append(HTTPField(name: .wwwAuthenticate, value: basicChallenge))
        return response
    }

    /// `response` with `Connection: close`, the connection closed once it is written: after a body that was cut
    /// short the rest of it may still be on its way, and reading it would keep a slow sender's connection.
    static func closing(_ response: IngressResponse, _ channel: any Channel) -> Response {
        var result = respond(response)
        result.headers[.connection] = "close"
        let buffer = ByteBuffer(bytes: response.body)
        result.body = ResponseBody(contentLength: buffer.readableBytes) { writer in
            try await writer.write(buffer)
            try await writer.finish(nil)
            channel.close(promise: nil)
        }
        return result
    }

    /// True when `header` is `Bearer TOKEN` (the scheme is case-insensitive, RFC 9110 §11.1) with the expected token.
    static func bearerMatches(_ header: String, _ token: String) -> Bool {
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, ASCII.equalsIgnoringCase(parts[0], "bearer") else { return false }
        return constantTimeEqual(String(parts[1]).trimmingCharacters(in: .whitespaces), token)
    }

    /// Compares without an early exit, so the time taken does not reveal how much of a token matched.
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        var difference = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) {
            difference |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
        }
        return difference == 0
    }
}
