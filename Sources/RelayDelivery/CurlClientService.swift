import Foundation
import ServiceLifecycle

/// Runs a ``CurlClient``'s driver thread as a `Service`: the client works from its creation until graceful shutdown,
/// then ``CurlClient/shutdown()`` ends the thread (requests still in flight fail with code `shutdown`, which the
/// delivery service does not count as attempts). Place it before the services that send requests, so that it stops
/// after them.
public struct CurlClientService: Service, CustomStringConvertible {
    /// The client.
    public let client: CurlClient

    public init(client: CurlClient) {
        self.client = client
    }

    public var description: String { "CurlClientService" }

    public func run() async throws {
        try? await gracefulShutdown()
        // `shutdown()` joins the driver thread: keep that wait off the concurrency pool.
        let client = self.client
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let thread = Thread {
                client.shutdown()
                continuation.resume()
            }
            thread.start()
        }
    }
}
