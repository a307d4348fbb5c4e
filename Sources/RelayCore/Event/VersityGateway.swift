#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// versitygw (Versity's S3 gateway) webhook bodies: bare `{"Records":[record]}` in AWS's shape, one POST per object
/// (one per key of a DeleteObjects too), fire-and-forget (no retry), an `s3:TestEvent` when the gateway starts.
///
/// What tells its records from AWS's (versitygw's `s3event/event.go`): `userIdentity` is written
/// `{"PrincipalId":…}` (AWS and MinIO write `principalId`), and `s3.configurationId` is the gateway's fixed
/// `webhook-global` (`kafka-global`, `nats-global`, `rabbitmq-global` for its other senders). A body whose every
/// record has both is decoded as versitygw's (`isVersityGateway(_:)`); this is the one place that decides it.
/// Records are forwarded as received; `eTag` and `versionId` may be `null` (accepted, as absent); there is no
/// `contentType`.
///
/// **Keys.** versitygw writes the object part of the request path, `ctx.Path()`, after its `DecodeURL` middleware
/// has path-unescaped it (`s3api/middlewares/url-decoder.go`, on every S3 route since 2023): the object's name as it
/// is, like Ceph RGW's, not form-encoded like AWS's (`a+b%20c.txt` is that literal name). DeleteObjects keys come
/// from the request's XML body, as they are too. So rules see the key as sent
/// (`EventDecoder.KeyDecoding.versityGateway`, decided per body by `isVersityGateway(_:)`, never from a key's
/// bytes). The event name is kept as sent: versitygw's own `s3:ObjectRemoved:DeleteObjects` (where AWS and MinIO
/// send `s3:ObjectRemoved:Delete` per object) is in the `s3:ObjectRemoved:*` family.
enum VersityGateway {
    /// Whether `body` may be a versitygw body: it holds `"PrincipalId"` (capital P; AWS and MinIO write
    /// `principalId`). The scanner's fast path, which reads keys as AWS's, is not taken for such a body; the full
    /// parse then decides with `isVersityGateway(_:)`. One `memchr` pass over the body.
    static func mayBeVersityGateway(_ body: UnsafeRawBufferPointer) -> Bool {
        ByteSearch.contains(body, marker, anchor: 1)
    }

    private static let marker: [UInt8] = Array(#""PrincipalId""#.utf8)

    /// The `s3.configurationId` values versitygw writes (one per kind of sender).
    static let configurationIDs: Set<String> = ["webhook-global", "kafka-global", "nats-global", "rabbitmq-global"]

    /// Whether `root` is a versitygw body: a non-empty `Records` array of objects, each with
    /// `userIdentity.PrincipalId` and one of versitygw's `s3.configurationId` values.
    static func isVersityGateway(_ root: JSONValue) -> Bool {
        guard let records = root["Records"]?.arrayValue, !records.isEmpty else { return false }
        return records.allSatisfy { record in
            guard let identity = record["userIdentity"]?.objectValue,
                identity.contains(where: { $0.key == "PrincipalId" }),
                let configurationID = record["s3"]?["configurationId"]?.stringValue
            else { return false }
            return configurationIDs.contains(configurationID)
        }
    }
}
