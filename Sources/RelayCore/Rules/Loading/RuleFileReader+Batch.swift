extension RuleFileReader {
    static let batchFields = ["maxRecords", "maxBytes", "maxWait"]

    /// The `batch` object of a target (docs/rules.md, "Targets"): `maxRecords` (required, 1...10,000), `maxBytes`
    /// (a number of bytes or a size string, 1 KiB...64 MiB; default 256 KiB), `maxWait` (a duration, 1 ms...1 min;
    /// default 200 ms). Returns nil when a field is wrong (reported).
    mutating func readBatch(_ value: JSONValue, subject: String) -> TargetBatch? {
        guard let fields = members(of: value, subject: subject, path: "batch", allowed: Self.batchFields) else {
            return nil
        }
        var ok = true
        var maxRecords = 0
        if let member = fields["maxRecords"] {
            if let number = integer(
                member.value,
                subject: subject,
                path: "batch.maxRecords",
                in: 1...TargetBatch.maxRecordsLimit
            ) {
                maxRecords = number
            } else {
                ok = false
            }
        } else {
            report(
                .missingField,
                at: value.range.lowerBound,
                subject: subject,
                field: "batch.maxRecords",
                "required; give the most records one request may carry, e.g. 100"
            )
            ok = false
        }
        var batch = TargetBatch(maxRecords: max(maxRecords, 1))
        if let member = fields["maxBytes"] {
            if let bytes = batchByteCount(member.value, subject: subject) {
                batch.maxBytes = bytes
            } else {
                ok = false
            }
        }
        if let member = fields["maxWait"] {
            if let wait = duration(member.value, subject: subject, path: "batch.maxWait") {
                if wait > TargetBatch.maxWaitLimit {
                    report(
                        .invalidValue,
                        at: member.value.range.lowerBound,
                        subject: subject,
                        field: "batch.maxWait",
                        "must be at most \(DurationParser.format(TargetBatch.maxWaitLimit)), found "
                            + DurationParser.format(wait)
                    )
                    ok = false
                } else if wait < .milliseconds(1) {
                    report(
                        .invalidValue,
                        at: member.value.range.lowerBound,
                        subject: subject,
                        field: "batch.maxWait",
                        "must be at least 1ms, found \(DurationParser.format(wait))"
                    )
                    ok = false
                } else {
                    batch.maxWait = wait
                }
            } else {
                ok = false
            }
        }
        return ok ? batch : nil
    }

    /// `batch.maxBytes`: a JSON integer or a size string (`"256KiB"`), as `match.size` reads them, within
    /// ``TargetBatch/maxBytesRange``.
    private mutating func batchByteCount(_ value: JSONValue, subject: String) -> Int? {
        let path = "batch.maxBytes"
        let range = TargetBatch.maxBytesRange
        let lower = ByteSize.format(Int64(range.lowerBound))
        let bounds = "between \(lower) and \(ByteSize.format(Int64(range.upperBound)))"
        let bytes: Int64
        switch value.kind {
        case .number:
            guard let number = value.int64Value else {
                report(
                    .invalidValue,
                    at: value.range.lowerBound,
                    subject: subject,
                    field: path,
                    "must be a whole number of bytes \(bounds), or a size string like \"256KiB\""
                )
                return nil
            }
            bytes = number
        case .string(let text):
            do {
                bytes = try ByteSize.parse(text)
            } catch {
                report(.invalidValue, at: value.range.lowerBound, subject: subject, field: path, error.message)
                return nil
            }
        default:
            report(
                .wrongType,
                at: value.range.lowerBound,
                subject: subject,
                field: path,
                "expected a number of bytes or a size string like \"256KiB\", found \(value.typeName)"
            )
            return nil
        }
        guard bytes >= Int64(range.lowerBound), bytes <= Int64(range.upperBound) else {
            report(
                .invalidValue,
                at: value.range.lowerBound,
                subject: subject,
                field: path,
                "must be \(bounds), found \(bytes) bytes"
            )
            return nil
        }
        return Int(bytes)
    }

    /// Reports `batch` on a target whose format carries one record per request (every format but `records`).
    mutating func checkBatchFormat(_ target: Target, at offset: Int, subject: String) {
        guard target.format != .records else { return }
        let reason =
            switch target.format {
            case .minio: "MinIO's envelope names one record in \"EventName\" and \"Key\""
            case .cloudevents, .cloudeventsBinary: "a CloudEvent carries one record"
            case .records: ""
            }
        report(
            .invalidValue,
            at: offset,
            subject: subject,
            field: "batch",
            "needs \"format\": \"records\", the only format that carries several records (the format is "
                + "\"\(target.format.rawValue)\": \(reason)); set \"format\": \"records\" or remove \"batch\""
        )
    }
}
