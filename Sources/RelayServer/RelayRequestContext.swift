import Hummingbird
import Logging
import NIOCore

/// The request context of the relay's routes: Hummingbird's core context plus the connection's channel, for the
/// client's address (the per-client body budget) and for closing a connection whose request body was cut.
public struct RelayRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The connection the request arrived on.
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }

    /// The client's IP address (`unknown` when the channel has none): the key of the per-client body budget.
    public var clientAddress: String {
        channel.remoteAddress?.ipAddress ?? "unknown"
    }
}
