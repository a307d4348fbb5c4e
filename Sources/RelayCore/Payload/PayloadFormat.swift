/// The body shape sent to a target: a target's `format` in the rule files.
public enum PayloadFormat: String, Sendable, Hashable, CaseIterable {
    /// MinIO's webhook envelope `{"EventName","Key","Records":[record]}`: a service written for MinIO's webhook works
    /// unchanged. A MinIO body with one record is forwarded byte for byte; other records get the envelope built.
    case minio
    /// `{"Records":[record]}`, as AWS S3 and Ceph RGW send it.
    case records
    /// A structured-mode CloudEvents 1.0 JSON event per the CloudEvents AWS S3 adapter, the record as `data`.
    case cloudevents
    /// A binary-mode CloudEvents 1.0 event: the record's JSON text as the body, the attributes as `ce-*` headers
    /// (`PayloadBuilder.cloudEventHeaders(record:recordBytes:)`).
    case cloudeventsBinary = "cloudevents-binary"

    /// The `Content-Type` to send the payload with.
    public var contentType: String {
        switch self {
        case .minio, .records, .cloudeventsBinary: "application/json"
        case .cloudevents: "application/cloudevents+json"
        }
    }
}
