import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOHTTP1

/// The relay's HTTP/1 server: Hummingbird's, plus one handler that marks every request whose connection must not
/// be kept open (`HTTP/1.0` without `Connection: keep-alive`, or `Connection: close` in any spelling) with
/// `connection: close`, so that the connection is closed once the response is written (RFC 9112 §9.3). Hummingbird
/// converts requests to HTTP types, which carry no version, and would otherwise keep an HTTP/1.0 client's
/// connection open until the idle timeout.
///
/// Use as `Application(router:server: RelayHTTPServer.http1(idleTimeout:), ...)`, or `https(idleTimeout:tls:)`.
public enum RelayHTTPServer {
    /// The same server over TLS (`serve --tls-cert/--tls-key`): the certificate chain and key are read, and checked
    /// to belong together, here, so that a bad file stops the start rather than the first handshake.
    /// - Throws: ``ServerTLSError`` naming the file that cannot be read or used.
    public static func https(idleTimeout: TimeAmount, tls: ServerTLS) throws(ServerTLSError) -> HTTPServerBuilder {
        let configuration = try tls.configuration()
        let base = ClosingHTTP1Channel(
            inner: HTTP1Channel(responder: { _, _, _ in }, configuration: .init(idleTimeout: idleTimeout))
        )
        do {
            _ = try TLSChannel(base, tlsConfiguration: configuration)
        } catch {
            throw ServerTLSError(
                "\(tls.certificateFile) and \(tls.keyFile) cannot be used together (\(error)); is the key the "
                    + "certificate's?"
            )
        }
        return HTTPServerBuilder { responder in
            try TLSChannel(
                ClosingHTTP1Channel(
                    inner: HTTP1Channel(responder: responder, configuration: .init(idleTimeout: idleTimeout))
                ),
                tlsConfiguration: configuration
            )
        }
    }

    /// - Parameter idleTimeout: a connection that sends nothing for this long is closed.
    public static func http1(idleTimeout: TimeAmount) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            ClosingHTTP1Channel(
                inner: HTTP1Channel(responder: responder, configuration: .init(idleTimeout: idleTimeout))
            )
        }
    }
}

/// Hummingbird's `HTTP1Channel` with ``ConnectionCloseMarker`` between the HTTP/1 decoder and the conversion to HTTP
/// types.
struct ClosingHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value
    let inner: HTTP1Channel

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let decoder = try channel.pipeline.syncOperations.handler(
                type: ByteToMessageHandler<HTTPRequestDecoder>.self
            )
            try channel.pipeline.syncOperations.addHandler(ConnectionCloseMarker(), position: .after(decoder))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}

/// Sets `connection: close` on a request head whose connection is not to be kept alive (`isKeepAlive` false).
final class ConnectionCloseMarker: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if case .head(var head) = part, !head.isKeepAlive {
            head.headers.replaceOrAdd(name: "connection", value: "close")
            context.fireChannelRead(wrapInboundOut(.head(head)))
            return
        }
        context.fireChannelRead(data)
    }
}
