/// How a target receives each matched event (a target's `format` field; DESIGN §3).
public enum TargetFormat: String, Sendable, Hashable, CaseIterable {
    /// MinIO's webhook envelope `{"EventName","Key","Records":[record]}` with the one record; the default.
    case minio
    /// `{"Records":[record]}`, as AWS S3 and Ceph RGW send it.
    case records
    /// A structured CloudEvents 1.0 JSON event per the CloudEvents AWS S3 adapter.
    case cloudevents
}
