import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Prometheus
import RelayDelivery
import RelaySpool

/// The HTTP interface of DESIGN §5.
enum RelayRoutes {
    static func router(relay: Relay) -> Router<BasicRequestContext> {
        let router = Router()
        router.middlewares.add(JSONErrorMiddleware())
        let ingress = relay.ingress
        let maxBody = relay.configuration.maxBodyBytes
        let expectedToken = relay.configuration.authToken
        let budget = BodyBudget(limit: max(relay.configuration.maxBufferedBodyBytes, maxBody))
        let deadlines = relay.bodyDeadlines

        let receive: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
            if let expectedToken {
                guard let given = request.headers[.authorization], bearerMatches(given, expectedToken)
                else {
                    return respond(
                        .error(401, "unauthorized", "send Authorization: Bearer TOKEN (the relay's --auth-token)")
                    )
                }
            }
            let length = request.headers[.contentLength].flatMap { Int($0) }
            if let length, length > maxBody {
                return respond(tooLarge(maxBody))
            }
            let reserved = length ?? maxBody
            guard budget.reserve(reserved) else {
                return respond(
                    .error(
                        503,
                        "busy",
                        "too many request bodies are being received at once; retry shortly",
                        retryAfter: 1
                    )
                )
            }
            defer { budget.release(reserved) }
            let buffer: ByteBuffer
            do {
                buffer = try await deadlines.collect(request, upTo: maxBody)
            } catch let error as HTTPError where error.status == .contentTooLarge {
                return respond(tooLarge(maxBody))
            } catch is BodyDeadlines.Timeout {
                return respond(
                    .error(
                        408,
                        "request timeout",
                        "the body did not arrive within \(deadlines.timeout); send it at once"
                    )
                )
            }

            let body = buffer.getBytes(at: buffer.readerIndex, length: buffer.readableBytes) ?? []
            return respond(await ingress.handle(body: body))
        }
        router.post("/minio-event", use: receive)
        router.post("/", use: receive)
        // Older MinIO releases check liveness with HEAD (DESIGN §1).
        router.head("/minio-event") { _, _ in Response(status: .ok) }
        router.head("/") { _, _ in Response(status: .ok) }
        router.get("/healthz") { _, _ in
            json(.ok, #"{"status":"ok"}"#)
        }
        router.get("/readyz") { _, _ in
            if let free = freeBytes(relay.configuration.dataDirectory), free < Int64(4 * maxBody) {
                return respond(
                    .error(
                        503,
                        "not ready",
                        "the data directory has \(free) bytes free; events would be refused (503) until space is freed",
                        retryAfter: 5
                    )
                )
            }
            let writable = await relay.spool.isWritable()
            if writable {
                return json(.ok, #"{"status":"ready","rules":"loaded","spool":"writable"}"#)
            }
            return respond(.error(503, "not ready", "the spool is not writable", retryAfter: 5))
        }
        if let registry = relay.prometheus {
            router.get("/metrics") { _, _ in
                relay.delivery.updateGauges()
                var out: [UInt8] = []
                registry.emit(into: &out)
                var headers = HTTPFields()
                headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: out)))
            }
        }
        return router
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

    /// True when `header` is `Bearer TOKEN` (the scheme is case-insensitive, RFC 9110 §11.1) with the expected token.
    static func bearerMatches(_ header: String, _ token: String) -> Bool {
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return false }
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
