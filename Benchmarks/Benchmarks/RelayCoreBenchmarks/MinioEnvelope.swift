/// The few fields a typed relay decodes from a MinIO or AWS body with `JSONDecoder`: the typed baseline of the decode
/// benchmarks.
///
/// `EventName` and `Key` are MinIO's envelope fields (absent from AWS bodies); each record contributes its bucket
/// name, key and size (absent for deletes).
struct MinioEnvelope: Decodable {
    struct Record: Decodable {
        var s3: S3
    }

    struct S3: Decodable {
        var bucket: Bucket
        var object: Object
    }

    struct Bucket: Decodable {
        var name: String
    }

    struct Object: Decodable {
        var key: String
        var size: Int64?
    }

    var eventName: String?
    var key: String?
    var records: [Record]

    private enum CodingKeys: String, CodingKey {
        case eventName = "EventName"
        case key = "Key"
        case records = "Records"
    }
}
