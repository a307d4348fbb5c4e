/// The records of a body that holds S3 events, with the envelope they came in.
public struct DecodedEvents: Sendable, Equatable {
    /// How the records were wrapped.
    public enum Envelope: Sendable, Equatable {
        /// MinIO's `{"EventName":…,"Key":…,"Records":[…]}` (recognised by a top-level `EventName`). `EventName`
        /// and `Key` are informational; the record is authoritative.
        case minio
        /// A bare `{"Records":[…]}` as AWS S3 and Ceph RGW send it.
        case records
        /// The body is itself one record (the form printed in MinIO's webhook blog post): a top-level object with
        /// `s3` and `eventName`.
        case bareRecord
    }

    public var envelope: Envelope
    /// One result per element of `Records`, in order (one element for `.bareRecord`). Never empty.
    public var records: [RecordResult]

    public init(envelope: Envelope, records: [RecordResult]) {
        self.envelope = envelope
        self.records = records
    }

    /// The records that decoded, in order.
    public var decodedRecords: [EventRecord] {
        records.compactMap {
            if case .record(let record) = $0 { return record }
            return nil
        }
    }
}
