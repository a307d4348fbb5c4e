import HTTPTypes
import Hummingbird
import NIOCore

/// `GET /tap`: the live tap as server-sent events (docs/interface.md, "`GET /tap`").
///
/// Guarded like `/status`: `Authorization: Bearer TOKEN` with `--admin-token`, else `--auth-token` (401 without or
/// with a wrong token; 403 when neither is set). Query: `rule=NAME` and `target=NAME`, each repeatable, keep the
/// events about those rules and targets. At most ``TapHub/maxTaps`` taps at once; the next gets 503.
///
/// The stream: `event: ready` with `{"buffer":N,"rules":[…],"targets":[…]}` first, then `decision`, `delivered`,
/// `retry`, `dead_letter` events as they happen, `dropped` with `{"dropped":N}` after events were dropped for a tap
/// that read too slowly, a `: keep-alive` comment when idle, and `closing` when the relay stops.
enum TapRoutes {
    static func register(on router: Router<RelayRequestContext>, relay: Relay) {
        let token = relay.configuration.adminToken ?? relay.configuration.authToken
        let hub = relay.tap
        router.get("/tap") { request, context in
            guard let token else {
                return StatusRoutes.error(
                    403,
                    "forbidden",
                    "the tap is off: set --admin-token (RELAY_ADMIN_TOKEN) or --auth-token to use it"
                )
            }
            guard let header = request.headers[.authorization], RelayRoutes.bearerMatches(header, token) else {
                return StatusRoutes.error(401, "unauthorized", "send Authorization: Bearer TOKEN (--admin-token)")
            }
            let query = request.uri.queryParameters
            let filter = TapFilter(
                rules: Set(query.getAll("rule").filter { !$0.isEmpty }),
                targets: Set(query.getAll("target").filter { !$0.isEmpty })
            )
            let channel = context.channel
            let tap: TapSubscriber
            do throws(TapHub.Refusal) {
                tap = try hub.subscribe(filter: filter) { channel.close(promise: nil) }
            } catch .full {
                var response = StatusRoutes.error(
                    503,
                    "too many taps",
                    "\(hub.maxTaps) taps are connected, the most at once; close one or retry later"
                )
                response.headers[.retryAfter] = "5"
                return response
            } catch .closed {
                return StatusRoutes.error(503, "stopping", "the relay is stopping")
            }
            // Frees the tap when the client goes, whether or not its response was ever written: when the connection
            // closes, or when the client closes its side (the server allows half-closed connections, so that alone
            // would not end the response until a write failed).
            channel.closeFuture.whenComplete { _ in hub.unsubscribe(tap) }
            // A small kernel send buffer: a tap that reads nothing holds its own buffer and little else, instead of
            // megabytes of auto-tuned socket memory, and its drops start (and are counted) early.
            channel.setOption(ChannelOptions.socketOption(.so_sndbuf), value: 32 << 10).whenFailure { _ in }
            channel.pipeline.addHandler(HangupHandler { hub.unsubscribe(tap) }, position: .first).whenFailure { _ in
                hub.unsubscribe(tap)
            }
            var headers = HTTPFields()
            headers[.contentType] = "text/event-stream; charset=utf-8"
            headers[.cacheControl] = "no-store"
            headers[HTTPField.Name("X-Accel-Buffering")!] = "no"
            return Response(
                status: .ok,
                headers: headers,
                body: ResponseBody { writer in
                    defer { hub.unsubscribe(tap) }
                    try await stream(tap, filter: filter, hub: hub, to: &writer)
                }
            )
        }
    }

    /// Writes the tap's events until it ends or the client goes (a write then fails).
    private static func stream(
        _ tap: TapSubscriber,
        filter: TapFilter,
        hub: TapHub,
        to writer: inout any ResponseBodyWriter
    ) async throws {
        var ready = JSONObject()
        ready.number("buffer", Int64(hub.bufferCapacity))
        ready.strings("rules", filter.rules.sorted())
        ready.strings("targets", filter.targets.sorted())
        var out: [UInt8] = []
        TapEvent(name: "ready", data: ready.finished(), rules: [], targets: []).frame(into: &out)
        try await writer.write(ByteBuffer(bytes: out))
        let heartbeat = hub.heartbeat
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    try await Task.sleep(for: heartbeat)
                    tap.poke()
                }
            }
            loop: while true {
                out.removeAll(keepingCapacity: true)
                switch await tap.next() {
                case .events(let events, let dropped):
                    for event in events { event.frame(into: &out) }
                    if dropped > 0 { TapEvent.dropped(dropped).frame(into: &out) }
                case .heartbeat:
                    out.append(contentsOf: Array(": keep-alive\n\n".utf8))
                case .finished(let reason):
                    if let reason {
                        var closing = JSONObject()
                        closing.string("reason", reason)
                        TapEvent(name: "closing", data: closing.finished(), rules: [], targets: []).frame(into: &out)
                        try await writer.write(ByteBuffer(bytes: out))
                    }
                    break loop
                }
                try await writer.write(ByteBuffer(bytes: out))
            }
            group.cancelAll()
        }
        try await writer.finish(nil)
    }
}

/// Calls `onHangup` when the peer closes its side of the connection (`ChannelEvent.inputClosed`); passes everything
/// on unchanged.
final class HangupHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    private let onHangup: @Sendable () -> Void

    init(_ onHangup: @escaping @Sendable () -> Void) {
        self.onHangup = onHangup
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .some(.inputClosed) = event as? ChannelEvent { onHangup() }
        context.fireUserInboundEventTriggered(event)
    }
}
