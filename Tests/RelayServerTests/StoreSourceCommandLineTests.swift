import Foundation
import RelayTestSupport
import Testing

/// The `bucket-relay` executable with the bodies and flags of Backblaze B2, Google Cloud Storage and versitygw.
@Suite(.timeLimit(.minutes(2)))
struct StoreSourceCommandLineTests {
    @Test(
        arguments: [
            ("b2/upload-image.json", "source=b2", "s3:ObjectCreated:Put"),
            ("gcs/finalize-image.json", "source=gcs", "s3:ObjectCreated:Put"),
            ("versitygw/put-special-key.json", "source=versitygw", "key=uploads/summer trip/a+b ü.JPG"),
        ]
    )
    func matchExplainNamesTheSource(fixture: String, source: String, detail: String) async throws {
        let result = try await RelayProcess.run(
            ["match", "--rules", Fixtures.packageRoot + "/rules", "--explain", Fixtures.directory + "/" + fixture],
            environment: ["RECEIVER_URL": "http://127.0.0.1:9000"]
        )
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains(source), "\(result.output)")
        #expect(result.output.contains(detail), "\(result.output)")
    }

    @Test(
        arguments: [
            (["--gcs-audience", "https://relay.example/"], "--gcs-service-account"),
            (["--gcs-service-account", "a@b.iam.gserviceaccount.com"], "need --gcs-audience"),
            (["--b2-signing-secret", "s", "--b2-signing-secret-file", "/nonexistent"], "exclusive"),
            (["--b2-signing-secret-file", "/nonexistent/secret"], "cannot read"),
        ]
    )
    func serveRefusesIncompleteSourceFlags(flags: [String], message: String) async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        let result = try await RelayProcess.run(
            ["serve", "--rules", Fixtures.packageRoot + "/rules", "--data-dir", root + "/data", "--port", "0"] + flags,
            environment: ["RECEIVER_URL": "http://127.0.0.1:9000"]
        )
        #expect(result.status == 64, "\(result.output)")
        #expect(result.output.contains(message), "\(result.output)")
    }

    @Test func serveRefusesAKeysFileWithoutKeys() async throws {
        let root = try TemporaryDirectory.make()
        defer { TemporaryDirectory.remove(root) }
        try Data(#"{"keys":[]}"#.utf8).write(to: URL(fileURLWithPath: root + "/keys.json"))
        let result = try await RelayProcess.run(
            [
                "serve", "--rules", Fixtures.packageRoot + "/rules", "--data-dir", root + "/data", "--port", "0",
                "--gcs-audience", "https://relay.example/", "--gcs-service-account", "a@b.iam.gserviceaccount.com",
                "--gcs-keys", root + "/keys.json",
            ],
            environment: ["RECEIVER_URL": "http://127.0.0.1:9000"]
        )
        #expect(result.status == 1, "\(result.output)")
        #expect(result.output.contains("no RSA public key"), "\(result.output)")
    }
}
