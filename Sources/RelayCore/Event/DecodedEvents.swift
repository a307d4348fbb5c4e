/// The records of a body that holds S3 events, with the envelope they came in.
public struct DecodedEvents: Sendable, Equatable {
    /// How the records were wrapped.
    public enum Envelope: Sendable, Equatable {
        /// MinIO's `{"EventName":…,"Key":…,"Records":[…]}` (recognised by a top-level `EventName`). `EventName`
        /// and `Key` are informational; the record is authoritative (see `envelopeMatchesRecord`).
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
    /// True only for a `.minio` envelope with exactly one record, which decoded, whose `EventName` is the record's
    /// event name (`s3:` form) and whose `Key` is the record's bucket, `/` and decoded key, byte for byte: MinIO's
    /// own envelope, which `PayloadBuilder` may forward as received. False for every other body.
    public var envelopeMatchesRecord: Bool
    /// The body the records' ranges index when it is not the request body: an EventBridge S3 event, a B2 or a GCS
    /// notification is translated into AWS's `{"Records":[…]}` form (see `EventBridgeEvent`, `B2Event`,
    /// `GCSPushEvent`), and payloads are built from that. Nil: the request body.
    public var translatedBody: [UInt8]?
    /// Where the records came from: a webhook body as MinIO, AWS or RGW send it, an EventBridge event, a B2 or GCS
    /// notification, versitygw records.
    public var origin: Origin = .records

    /// The shape a sender used, before any translation.
    public enum Origin: String, Sendable, Equatable {
        /// MinIO, AWS S3 or Ceph RGW records (each record's `eventSource` tells which).
        case records
        /// An Amazon EventBridge event with `"source":"aws.s3"`.
        case eventBridge = "eventbridge"
        /// A Backblaze B2 event notification body, `{"events":[…]}` (see `B2Event`).
        case b2
        /// A Pub/Sub push of a Google Cloud Storage notification (see `GCSPushEvent`).
        case gcsPush = "gcs"
        /// versitygw records (see `VersityGateway`).
        case versityGateway = "versitygw"
    }

    /// The bytes `records`' ranges index: `translatedBody`, else `requestBody`.
    public func payloadBody(_ requestBody: [UInt8]) -> [UInt8] { translatedBody ?? requestBody }

    /// - Parameter envelopeMatchesRecord: see the property; false (the envelope is rebuilt) unless given.
    public init(envelope: Envelope, records: [RecordResult], envelopeMatchesRecord: Bool = false) {
        self.envelope = envelope
        self.records = records
        self.envelopeMatchesRecord = envelopeMatchesRecord
    }

    /// The records that decoded, in order.
    public var decodedRecords: [EventRecord] {
        records.compactMap {
            if case .record(let record) = $0 { return record }
            return nil
        }
    }
}
