import Benchmark
import Foundation
import RelayBenchmarkSupport
import RelayCore

/// Decoding a webhook body: `EventDecoder.decode` against Foundation's `JSONSerialization` and a typed `JSONDecoder`
/// of the few fields a typed relay reads (`MinioEnvelope`).
///
/// `JSONParser.parse` alone is measured too, to split EventDecoder's cost into parsing and record extraction. The
/// baselines get the body as `Data` built once outside the loop, and one `JSONDecoder` reused across operations.
enum DecodeBenchmarks {
    static func register(_ fixtures: Fixtures) {
        for body in [fixtures.minioPutImage, fixtures.awsTwoRecords] {
            register(body)
        }
    }

    private static func register(_ body: Fixtures.Body) {
        let bytes = body.bytes
        let data = Data(bytes)
        let prefix = "decode/\(body.name)/"

        guard case .events(let events) = EventDecoder.decode(bytes), !events.decodedRecords.isEmpty,
            events.decodedRecords.count == events.records.count
        else {
            registerFailure(prefix + "EventDecoder", "the fixture does not decode into records")
            return
        }
        Benchmark(prefix + "EventDecoder.decode", configuration: .slow) { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(EventDecoder.decode(bytes))
            }
        }
        Benchmark(prefix + "JSONParser.parse (EventDecoder's parse step)", configuration: .slow) { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(try JSONParser.parse(bytes))
            }
        }
        Benchmark(prefix + "baseline JSONSerialization.jsonObject", configuration: .slow) { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(try JSONSerialization.jsonObject(with: data))
            }
        }
        let decoder = JSONDecoder()
        Benchmark(prefix + "baseline JSONDecoder typed envelope", configuration: .slow) { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(try decoder.decode(MinioEnvelope.self, from: data))
            }
        }
    }
}
