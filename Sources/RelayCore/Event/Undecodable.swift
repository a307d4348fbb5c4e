/// Why valid JSON is not a routable S3 event (the whole body, or one record of it).
///
/// The server answers such input with a 2xx and writes it to the dead-letter file with reason `undecodable`: a 4xx
/// would make MinIO (queue_dir) or an RGW persistent topic resend it forever (docs/architecture.md, "No poison messages").
public struct Undecodable: Error, Sendable, Equatable, CustomStringConvertible {
    /// Path of the field at fault: `$` for the whole body, `Records`, `Records[0].s3.object.size`; for a body that
    /// is itself one record (MinIO's blog form) the path has no `Records[i].` prefix (`s3.object.key`).
    public var field: String
    /// What is wrong, e.g. `expected an array, found object`.
    public var reason: String

    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }

    /// `field: reason`.
    public var description: String { "\(field): \(reason)" }
}
