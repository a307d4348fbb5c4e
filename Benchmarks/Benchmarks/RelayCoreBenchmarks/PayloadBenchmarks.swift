import Benchmark
import Foundation
import RelayBenchmarkSupport
import RelayCore

/// Building the body sent to a target: `PayloadBuilder.payload` in each format against what a naive relay does,
/// `JSONSerialization` parse of the body and re-serialisation of the record in an envelope.
enum PayloadBenchmarks {
    /// Why the naive baseline could not find the record it re-serialises.
    struct NoRecordError: Error {}

    static func register(_ fixtures: Fixtures) {
        let minio = fixtures.minioPutImage
        let aws = fixtures.awsTwoRecords
        guard case .events(let minioEvents) = EventDecoder.decode(minio.bytes),
            let minioRecord = minioEvents.decodedRecords.first,
            case .events(let awsEvents) = EventDecoder.decode(aws.bytes),
            let awsRecord = awsEvents.decodedRecords.first
        else {
            registerFailure("payload", "a fixture does not decode into records")
            return
        }
        let passThrough = PayloadBuilder.payload(
            format: .minio,
            body: minio.bytes,
            events: minioEvents,
            record: minioRecord
        )
        guard passThrough == minio.bytes else {
            registerFailure("payload", "a one-record MinIO body is not passed through unchanged")
            return
        }

        Benchmark("payload/\(minio.name)/minio (pass-through)", configuration: .fast) { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(
                    PayloadBuilder.payload(format: .minio, body: minio.bytes, events: minioEvents, record: minioRecord)
                )
            }
        }
        registerNaive(minio, envelope: "MinIO")

        for format in PayloadFormat.allCases {
            Benchmark("payload/\(aws.name)/\(format.rawValue)", configuration: .fast) { benchmark in
                for _ in benchmark.scaledIterations {
                    blackHole(
                        PayloadBuilder.payload(format: format, body: aws.bytes, events: awsEvents, record: awsRecord)
                    )
                }
            }
        }
        registerNaive(aws, envelope: "Records")
    }

    /// Parse the whole body, pick `Records[0]`, serialise it again inside an envelope.
    private static func registerNaive(_ body: Fixtures.Body, envelope: String) {
        let data = Data(body.bytes)
        Benchmark(
            "payload/\(body.name)/baseline JSONSerialization parse + re-serialize",
            configuration: .slow
        ) { benchmark in
            for _ in benchmark.scaledIterations {
                let root = try JSONSerialization.jsonObject(with: data)
                guard let object = root as? [String: Any], let records = object["Records"] as? [Any],
                    let record = records.first
                else { throw NoRecordError() }
                var out: [String: Any] = ["Records": [record]]
                if envelope == "MinIO" {
                    out["EventName"] = object["EventName"]
                    out["Key"] = object["Key"]
                }
                blackHole(try JSONSerialization.data(withJSONObject: out))
            }
        }
    }
}
