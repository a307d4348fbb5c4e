/// What a webhook request body holds, as decided by `EventDecoder.decode(_:)`.
public enum DecodedBody: Sendable, Equatable {
    /// Zero bytes, or only whitespace (and perhaps a UTF-8 BOM): the server answers 200 (MinIO liveness checks).
    case empty
    /// Not JSON: the server answers 400.
    case notJSON(JSONSyntaxError)
    /// S3's `s3:TestEvent` (top-level `"Event":"s3:TestEvent"`, sent when a notification is configured): answered
    /// 2xx and routed nowhere. The value is the test event's `Bucket` (`""` when absent), for the log line.
    case testEvent(String)
    /// Valid JSON that is not routable as a whole: not an object, no `Records`, `Records` not an array, `Records`
    /// empty. The server answers 2xx and dead-letters the body with reason `undecodable`.
    case undecodable(Undecodable)
    /// One or more records; each one decoded on its own (see `RecordResult`).
    case events(DecodedEvents)
}
