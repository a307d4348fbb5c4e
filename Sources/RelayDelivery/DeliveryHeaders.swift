import RelayCore

/// The headers of a delivery request, the same for the delivery service and `replay`.
public enum DeliveryHeaders {
    /// The target's own headers, then `Content-Type` (by format), for `cloudevents-binary` the `ce-*` attributes,
    /// `User-Agent`, `webhook-id` (the delivery id, stable
    /// across attempts), `X-Relay-Rule`, `X-Relay-Attempt` (when given), and with signing secrets the Standard
    /// Webhooks `webhook-timestamp` and `webhook-signature`.
    /// - Parameters:
    ///   - now: the current time; its whole seconds are `webhook-timestamp`.
    public static func make(
        target: Target,
        deliveryID: String,
        rule: String?,
        attempt: Int?,
        body: [UInt8],
        now: Timestamp
    ) -> [(name: String, value: String)] {
        var headers = target.headers
        headers.append((name: "Content-Type", value: target.format.contentType))
        if target.format == .cloudeventsBinary {
            headers += cloudEventHeaders(payload: body)
        }
        headers.append((name: "User-Agent", value: "bucket-relay/1"))
        headers.append((name: "webhook-id", value: deliveryID))
        if let attempt { headers.append((name: "X-Relay-Attempt", value: String(attempt))) }
        if let rule { headers.append((name: "X-Relay-Rule", value: rule)) }
        if !target.signingSecrets.isEmpty {
            let signer = WebhookSigner(secrets: target.signingSecrets)
            headers.append((name: "webhook-timestamp", value: String(now.secondsSince1970)))
            headers.append(
                (
                    name: "webhook-signature",
                    value: signer.signature(id: deliveryID, timestamp: now.secondsSince1970, body: body)
                )
            )
        }
        return headers
    }

    /// The `ce-*` headers of a `cloudevents-binary` payload (the record's JSON text), decoded again from those bytes
    /// so that no attribute needs storing beside the delivery. A payload that does not decode as one record (it was
    /// one at ingress, so only a replayed dead letter edited by hand) still gets the required attributes.
    static func cloudEventHeaders(payload: [UInt8]) -> [(name: String, value: String)] {
        if case .events(let events) = EventDecoder.decode(payload), events.records.count == 1,
            case .record(let record) = events.records[0]
        {
            return PayloadBuilder.cloudEventHeaders(record: record, recordBytes: payload)
        }
        return [
            ("ce-specversion", "1.0"), ("ce-id", "fnv1a64-" + PayloadBuilder.fnv1a64Hex(payload)),
            ("ce-source", "bucket-relay"),
            ("ce-type", "com.amazonaws.s3.Unknown"),
        ]
    }
}
