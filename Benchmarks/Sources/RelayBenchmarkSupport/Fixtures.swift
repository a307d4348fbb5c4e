import Foundation

/// The request bodies the benchmarks decode, read from the project's `Tests/Fixtures`.
public struct Fixtures {
    /// One fixture file's bytes and the short name benchmarks show for it.
    public struct Body {
        /// E.g. `minio-put-image`.
        public var name: String
        /// The file's bytes, exactly as a sender POSTs them.
        public var bytes: [UInt8]

        public init(name: String, bytes: [UInt8]) {
            self.name = name
            self.bytes = bytes
        }
    }

    /// Why a fixture could not be read.
    public struct LoadError: Error, CustomStringConvertible {
        var path: String
        var reason: String

        public var description: String {
            "cannot read fixture \(path): \(reason); run the benchmarks from the bucket-relay checkout "
                + "(Benchmarks/ beside Tests/Fixtures/)"
        }
    }

    /// `minio/put-image.json`: a MinIO envelope with one `s3:ObjectCreated:Put` record (1,123 bytes).
    public var minioPutImage: Body
    /// `aws/two-records.json`: an AWS S3 body with a Put and a Delete record (1,442 bytes).
    public var awsTwoRecords: Body

    /// Reads the fixtures from `Tests/Fixtures`, located from this source file's path (compile time).
    public static func load(sourceFile: String = #filePath) throws(LoadError) -> Fixtures {
        // <checkout>/Benchmarks/Sources/RelayBenchmarkSupport/Fixtures.swift -> <checkout>/Tests/Fixtures
        let checkout = URL(fileURLWithPath: sourceFile)
            .deletingLastPathComponent()
            .deletingLastPathComponent()
            .deletingLastPathComponent()
            .deletingLastPathComponent()
        let directory = checkout.appendingPathComponent("Tests/Fixtures")
        return Fixtures(
            minioPutImage: try read(directory, "minio/put-image.json", name: "minio-put-image"),
            awsTwoRecords: try read(directory, "aws/two-records.json", name: "aws-two-records")
        )
    }

    private static func read(_ directory: URL, _ file: String, name: String) throws(LoadError) -> Body {
        let url = directory.appendingPathComponent(file)
        do {
            return Body(name: name, bytes: [UInt8](try Data(contentsOf: url)))
        } catch {
            throw LoadError(path: url.path, reason: "\(error)")
        }
    }
}
