import Foundation
import RelayDelivery
import RelayTestSupport
import Testing

/// libcurl is told to ignore proxy variables from the environment (docs/security.md).
@Suite(.timeLimit(.minutes(1)))
struct ProxyEnvironmentTests {
    /// The relay, started with proxy variables pointing at a closed port, still delivers directly. In a subprocess:
    /// setting the variables here would race with every test that starts a process (glibc's environment is not
    /// safe to change while another thread reads it).
    @Test func ignoresProxyEnvironmentVariables() async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        try await Receiver.withReceiver { receiver in
            let rules = """
                { "targets": { "direct": { "url": "\(receiver.url(path: "/direct"))" } },
                  "rules": [ { "name": "all", "match": {}, "to": ["direct"] } ] }
                """
            try Data(rules.utf8).write(to: URL(fileURLWithPath: root + "/rules.json"))
            let proxy = "http://127.0.0.1:1"
            let relay = try RelayProcess.start(
                [
                    "serve", "--rules", root + "/rules.json", "--data-dir", root + "/data", "--host", "127.0.0.1",
                    "--port", "0",
                ],
                environment: ["http_proxy": proxy, "HTTP_PROXY": proxy, "https_proxy": proxy, "ALL_PROXY": proxy]
            )
            defer { relay.kill() }
            let port = try await relay.waitForPort()
            let body = try Fixtures.bytes("minio/put-image.json")
            #expect(try await TestHTTP.post("http://127.0.0.1:\(port)/minio-event", body: body).status == 200)
            _ = try await receiver.waitForRequests(count: 1, path: "/direct")
        }
    }

}
