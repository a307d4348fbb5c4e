extension RuleFileReader {
    static let targetFields = [
        "url", "headers", "format", "timeout", "maxInFlight", "retry", "signingSecret", "tls", "ordering", "batch",
    ]
    static let tlsFields = ["caFile", "certFile", "keyFile", "insecureSkipVerify"]
    static let retryFields = ["attempts", "initialBackoff", "maxBackoff"]
    /// Headers the relay sets itself (body framing, payload type, Standard Webhooks signature).
    static let reservedHeaders: Set<String> = [
        "content-length", "transfer-encoding", "content-type", "webhook-id", "webhook-timestamp",
        "webhook-signature",
    ]

    /// A target declaration. Returns a value even when some fields have errors (the caller checks `errorCount`).
    mutating func readTarget(name: String, _ value: JSONValue, subject: String) -> Target? {
        guard let fields = members(of: value, subject: subject, path: nil, allowed: Self.targetFields) else {
            return nil
        }
        var target = Target(name: name, url: "", file: source.path)
        if let member = fields["url"] {
            if let text = member.value.stringValue {
                if let expanded = expand(text, at: member.value.range.lowerBound, subject: subject, path: "url") {
                    if let problem = Self.urlProblem(expanded) {
                        report(
                            .invalidValue,
                            at: member.value.range.lowerBound,
                            subject: subject,
                            field: "url",
                            "\(text.quotedForMessage) \(problem)"
                        )
                    }
                    target.url = expanded
                }
            } else {
                report(
                    .wrongType,
                    at: member.value.range.lowerBound,
                    subject: subject,
                    field: "url",
                    "expected a URL string, found \(member.value.typeName)"
                )
            }
        } else {
            report(
                .missingField,
                at: value.range.lowerBound,
                subject: subject,
                field: "url",
                "required; give the endpoint's http:// or https:// URL"
            )
        }
        if let member = fields["headers"] {
            target.headers = readHeaders(member.value, subject: subject)
        }
        if let member = fields["format"] {
            if let text = member.value.stringValue {
                if let format = TargetFormat(rawValue: text) {
                    target.format = format
                } else {
                    report(
                        .invalidValue,
                        at: member.value.range.lowerBound,
                        subject: subject,
                        field: "format",
                        "unknown format \(text.quotedForMessage)"
                            + Suggestion.hint(for: text, among: TargetFormat.allCases.map(\.rawValue))
                    )
                }
            } else {
                report(
                    .wrongType,
                    at: member.value.range.lowerBound,
                    subject: subject,
                    field: "format",
                    "expected one of \"minio\", \"records\", \"cloudevents\", \"cloudevents-binary\", found "
                        + member.value.typeName
                )
            }
        }
        if let member = fields["timeout"], let timeout = duration(member.value, subject: subject, path: "timeout") {
            target.timeout = timeout
        }
        if let member = fields["maxInFlight"],
            let maxInFlight = integer(member.value, subject: subject, path: "maxInFlight", in: 1...1024)
        {
            target.maxInFlight = maxInFlight
        }
        if let member = fields["retry"] {
            target.retry = readRetry(member.value, subject: subject)
        }
        if let member = fields["signingSecret"] {
            target.signingSecrets = readSecrets(member.value, subject: subject)
        }
        if let member = fields["tls"] {
            target.tls = readTLS(member.value, subject: subject)
            if target.tls != nil, !target.url.isEmpty, !target.url.lowercased().hasPrefix("https://") {
                report(
                    .invalidValue,
                    at: member.value.range.lowerBound,
                    subject: subject,
                    field: "tls",
                    "the url is not https://; use an https:// url, or remove \"tls\""
                )
            }
        }
        if let member = fields["ordering"] {
            target.ordering = readOrdering(member.value, subject: subject)
        }
        if let member = fields["batch"] {
            target.batch = readBatch(member.value, subject: subject)
            checkBatchFormat(target, at: member.value.range.lowerBound, subject: subject)
            if target.batch != nil, target.ordering == .key {
                report(
                    .invalidValue,
                    at: member.value.range.lowerBound,
                    subject: subject,
                    field: "batch",
                    "cannot be combined with \"ordering\": \"key\" yet; remove one of them"
                )
            }
        }
        return target
    }

    /// The `ordering` field: `"key"` (or `"none"`, the default) (docs/rules.md, "Targets").
    private mutating func readOrdering(_ value: JSONValue, subject: String) -> TargetOrdering {
        let values = TargetOrdering.allCases.map(\.rawValue)
        guard let text = value.stringValue else {
            report(
                .wrongType,
                at: value.range.lowerBound,
                subject: subject,
                field: "ordering",
                "expected \"key\" (one delivery of a bucket and key at a time, in sequencer order) or \"none\", "
                    + "found \(value.typeName)"
            )
            return .none
        }
        guard let ordering = TargetOrdering(rawValue: text) else {
            report(
                .invalidValue,
                at: value.range.lowerBound,
                subject: subject,
                field: "ordering",
                "unknown ordering \(text.quotedForMessage)"
                    + (Suggestion.closest(to: text, among: values).map { "; did you mean \($0.quotedForMessage)?" }
                        ?? "; use \"key\" to deliver each bucket and key in sequencer order, or remove \"ordering\"")
            )
            return .none
        }
        return ordering
    }

    /// The `tls` object: file paths (`${NAME}` expanded, relative ones resolved against the rule file's folder,
    /// each checked by the loader's file check) and `insecureSkipVerify` (a warning when true).
    private mutating func readTLS(_ value: JSONValue, subject: String) -> TargetTLS? {
        guard let fields = members(of: value, subject: subject, path: "tls", allowed: Self.tlsFields) else {
            return nil
        }
        var tls = TargetTLS()
        func path(_ name: String) -> String? {
            guard let member = fields[name] else { return nil }
            let field = "tls." + name
            guard let text = member.value.stringValue else {
                report(
                    .wrongType,
                    at: member.value.range.lowerBound,
                    subject: subject,
                    field: field,
                    "expected a file path string, found \(member.value.typeName)"
                )
                return nil
            }
            guard let expanded = expand(text, at: member.value.range.lowerBound, subject: subject, path: field) else {
                return nil
            }
            guard !expanded.isEmpty else {
                report(
                    .invalidValue,
                    at: member.value.range.lowerBound,
                    subject: subject,
                    field: field,
                    "empty path; give a PEM file, or remove \"\(name)\""
                )
                return nil
            }
            let resolved = Self.resolve(expanded, besides: source.path)
            if let problem = fileCheck?(resolved) {
                report(.invalidValue, at: member.value.range.lowerBound, subject: subject, field: field, problem)
            }
            return resolved
        }
        tls.caFile = path("caFile")
        tls.certFile = path("certFile")
        tls.keyFile = path("keyFile")
        if let member = fields["keyFile"], fields["certFile"] == nil {
            report(
                .missingField,
                at: member.value.range.lowerBound,
                subject: subject,
                field: "tls.certFile",
                "\"keyFile\" needs \"certFile\", the client certificate the key belongs to"
            )
        }
        if let member = fields["insecureSkipVerify"] {
            if let flag = member.value.boolValue {
                tls.insecureSkipVerify = flag
                if flag {
                    report(
                        .insecureTLS,
                        at: member.value.range.lowerBound,
                        subject: subject,
                        field: "tls.insecureSkipVerify",
                        "the target's certificate and host name are not verified: anyone on the path can read and "
                            + "change its deliveries; prefer \"caFile\" with the target's CA",
                        severity: .warning
                    )
                }
            } else {
                report(
                    .wrongType,
                    at: member.value.range.lowerBound,
                    subject: subject,
                    field: "tls.insecureSkipVerify",
                    "expected true or false, found \(member.value.typeName)"
                )
            }
        }
        return tls
    }

    /// `path` when absolute; otherwise `path` in the folder of the rule file `file` (as `file` is written).
    static func resolve(_ path: String, besides file: String) -> String {
        if path.hasPrefix("/") { return path }
        guard let slash = file.lastIndex(of: "/") else { return path }
        return String(file[...slash]) + path
    }

    private mutating func readHeaders(_ value: JSONValue, subject: String) -> [(name: String, value: String)] {
        guard case .object(let members) = value.kind else {
            report(
                .wrongType,
                at: value.range.lowerBound,
                subject: subject,
                field: "headers",
                "expected an object of header names and string values, found \(value.typeName)"
            )
            return []
        }
        var headers: [(name: String, value: String)] = []
        var seen: [String: Int] = [:]
        for member in members {
            let path = "headers." + member.key
            let lower = member.key.lowercased()
            if !ASCII.isToken(member.key) {
                report(
                    .invalidValue,
                    at: member.keyRange.lowerBound,
                    subject: subject,
                    field: path,
                    "not a valid header name; use letters, digits and !#$%&'*+-.^_`|~ only"
                )
                continue
            }
            if Self.reservedHeaders.contains(lower) {
                report(
                    .invalidValue,
                    at: member.keyRange.lowerBound,
                    subject: subject,
                    field: path,
                    "set by the relay; remove it (\"format\" decides the content type, \"signingSecret\" the "
                        + "webhook-* headers)"
                )
                continue
            }
            if let first = seen[lower] {
                let (line, column) = location(of: first)
                report(
                    .duplicateField,
                    at: member.keyRange.lowerBound,
                    subject: subject,
                    field: path,
                    "header given twice (header names ignore case; first at line \(line), column \(column)); "
                        + "remove one"
                )
                continue
            }
            seen[lower] = member.keyRange.lowerBound
            guard let text = member.value.stringValue else {
                report(
                    .wrongType,
                    at: member.value.range.lowerBound,
                    subject: subject,
                    field: path,
                    "expected a string, found \(member.value.typeName)"
                )
                continue
            }
            guard let expanded = expand(text, at: member.value.range.lowerBound, subject: subject, path: path) else {
                continue
            }
            // A CR or LF would end the header line and start another (header injection), NUL ends it early in
            // C code, and the other control characters (HTAB and DEL included) have no place in a webhook header.
            if let control = expanded.utf8.first(where: ASCII.isControl) {
                let origin =
                    ASCII.containsControl(text)
                    ? "" : " after ${...} expansion (an environment variable's value holds it)"
                report(
                    .invalidValue,
                    at: member.value.range.lowerBound,
                    subject: subject,
                    field: path,
                    "the value holds \(Self.controlCharacterName(control))\(origin); header values may hold no "
                        + "control characters, remove it"
                )
                continue
            }
            headers.append((name: member.key, value: expanded))
        }
        return headers
    }

    private mutating func readRetry(_ value: JSONValue, subject: String) -> RetryConfiguration {
        var retry = RetryConfiguration()
        guard let fields = members(of: value, subject: subject, path: "retry", allowed: Self.retryFields) else {
            return retry
        }
        if let member = fields["attempts"],
            let attempts = integer(member.value, subject: subject, path: "retry.attempts", in: 1...1000)
        {
            retry.attempts = attempts
        }
        var initialOK = true
        var maxOK = true
        if let member = fields["initialBackoff"] {
            if let initial = duration(member.value, subject: subject, path: "retry.initialBackoff") {
                retry.initialBackoff = initial
            } else {
                initialOK = false
            }
        }
        if let member = fields["maxBackoff"] {
            if let maximum = duration(member.value, subject: subject, path: "retry.maxBackoff") {
                retry.maxBackoff = maximum
            } else {
                maxOK = false
            }
        }
        if initialOK, maxOK, retry.maxBackoff < retry.initialBackoff {
            let initial = DurationParser.format(retry.initialBackoff)
            let maximum = DurationParser.format(retry.maxBackoff)
            if let member = fields["maxBackoff"] {
                report(
                    .invalidValue,
                    at: member.value.range.lowerBound,
                    subject: subject,
                    field: "retry.maxBackoff",
                    "must be >= retry.initialBackoff (\(initial)), found \(maximum)"
                )
            } else if let member = fields["initialBackoff"] {
                report(
                    .invalidValue,
                    at: member.value.range.lowerBound,
                    subject: subject,
                    field: "retry.initialBackoff",
                    "must be <= retry.maxBackoff (\(maximum), the default); lower it or set retry.maxBackoff"
                )
            }
        }
        return retry
    }

    private mutating func readSecrets(_ value: JSONValue, subject: String) -> [String] {
        guard
            let items = stringList(
                value,
                subject: subject,
                path: "signingSecret",
                emptyMessage:
                    "empty list; give a secret, or remove \"signingSecret\" to send unsigned requests"
            )
        else { return [] }
        var secrets: [String] = []
        for item in items {
            let path = items.count == 1 && value.stringValue != nil ? "signingSecret" : item.path
            guard let secret = expand(item.value, at: item.offset, subject: subject, path: path) else { continue }
            if secret.isEmpty {
                report(
                    .invalidValue,
                    at: item.offset,
                    subject: subject,
                    field: path,
                    "empty secret; give one, or remove \"signingSecret\" to send unsigned requests"
                )
                continue
            }
            if secret.hasPrefix("whsec_"), !Self.isBase64(secret.utf8.dropFirst(6)) {
                report(
                    .invalidValue,
                    at: item.offset,
                    subject: subject,
                    field: path,
                    "a \"whsec_\" secret must be followed by base64 (A-Z, a-z, 0-9, +, /, = padding); "
                        + "copy it whole, or drop the \"whsec_\" prefix to use the text as a raw secret"
                )
                continue
            }
            secrets.append(secret)
        }
        return secrets
    }

    /// A control character named for a message, never the character itself: `a line feed (0x0A)`.
    static func controlCharacterName(_ byte: UInt8) -> String {
        let hex = "0x" + (byte < 0x10 ? "0" : "") + String(byte, radix: 16, uppercase: true)
        switch byte {
        case 0x00: return "a NUL (\(hex))"
        case 0x09: return "a tab (\(hex))"
        case 0x0A: return "a line feed (\(hex))"
        case 0x0D: return "a carriage return (\(hex))"
        case 0x7F: return "a DEL (\(hex))"
        default: return "the control character \(hex)"
        }
    }

    /// Standard base64, padded or not, at least one byte.
    static func isBase64(_ bytes: some Collection<UInt8>) -> Bool {
        var count = 0
        var padding = 0
        for byte in bytes {
            if byte == UInt8(ascii: "=") {
                padding += 1
            } else {
                let valid =
                    (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                    || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                    || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "+")
                    || byte == UInt8(ascii: "/")
                guard valid, padding == 0 else { return false }
            }
            count += 1
        }
        guard count - padding >= 2, padding <= 2 else { return false }
        return padding == 0 ? count % 4 != 1 : count % 4 == 0
    }

    /// Why `url` is not a usable http(s) URL (a phrase completing "<url> ..."), or nil when it is.
    static func urlProblem(_ url: String) -> String? {
        let scheme = url.prefix { $0 != ":" }.lowercased()
        guard scheme == "http" || scheme == "https", url.dropFirst(scheme.count).hasPrefix("://") else {
            return "is not an http:// or https:// URL; write e.g. \"http://thumbnailer:8080/events\""
        }
        if url.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F }) {
            return "holds a space or control character; percent-encode it"
        }
        let rest = url.dropFirst(scheme.count + 3)
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        let hostPort = authority.split(separator: "@", omittingEmptySubsequences: false).last ?? ""
        var host: Substring
        var port: Substring?
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else {
                return "has an unterminated IPv6 address; close it with \"]\""
            }
            host = hostPort[hostPort.index(after: hostPort.startIndex)..<close]
            let after = hostPort[hostPort.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return "has text after the IPv6 address; remove it" }
                port = after.dropFirst()
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = hostPort[..<colon]
            port = hostPort[hostPort.index(after: colon)...]
        } else {
            host = hostPort
        }
        if host.isEmpty {
            return "has no host; write e.g. \"http://thumbnailer:8080/events\""
        }
        if let port {
            guard !port.isEmpty, port.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int(port),
                (1...65535).contains(number)
            else {
                return "has an invalid port; use a number from 1 to 65535"
            }
        }
        return nil
    }
}
