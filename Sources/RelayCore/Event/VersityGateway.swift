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
/// **Keys.** The gateway writes the object part of the request path as the client sent it, percent-encoded as an
/// URL path (`a%20b+c.txt` is `a b+c.txt`: `+` is a plus, not a space, unlike S3's form encoding), except for its
/// own `s3:ObjectRemoved:DeleteObjects` records, whose keys come from the request's XML body as they are. Rules see
/// the decoded name (`key(_:eventName:)`). The event name is kept as sent: `s3:ObjectRemoved:DeleteObjects` (where
/// AWS and MinIO send `s3:ObjectRemoved:Delete` per object) is in the `s3:ObjectRemoved:*` family.
enum VersityGateway {
    /// The `s3.configurationId` values versitygw writes (one per kind of sender).
    static let configurationIDs: Set<String> = ["webhook-global", "kafka-global", "nats-global", "rabbitmq-global"]

    /// versitygw's own event name for each object of a DeleteObjects request.
    static let deleteObjectsEventName = "s3:ObjectRemoved:DeleteObjects"

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

    /// How a versitygw key reads: percent-decoded as an URL path, or as it is for `s3:ObjectRemoved:DeleteObjects`
    /// (`eventName` as sent, `s3:` form). Nil when a `%` is not followed by two hex digits or the bytes are not UTF-8.
    static func key(_ rawKey: String, eventName: String) -> String? {
        if eventName == deleteObjectsEventName { return rawKey }
        guard rawKey.utf8.contains(UInt8(ascii: "%")) else { return rawKey }
        let bytes = Array(rawKey.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%") {
                guard index + 2 < bytes.count, let high = ASCII.hexValue(bytes[index + 1]),
                    let low = ASCII.hexValue(bytes[index + 2])
                else { return nil }
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return String(validating: out, as: UTF8.self)
    }
}
