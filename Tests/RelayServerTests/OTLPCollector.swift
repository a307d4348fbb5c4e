import RelayTestSupport

/// One span as an OTLP/HTTP exporter sent it, decoded from the protobuf `ExportTraceServiceRequest`.
struct ExportedSpan: Sendable, CustomStringConvertible {
    var traceID: String
    var spanID: String
    /// Empty for a root span.
    var parentSpanID: String
    var name: String
    /// String and integer attributes, integers written in decimal.
    var attributes: [String: String]
    /// The `service.name` of the span's resource.
    var serviceName: String?

    var description: String { "\(name) \(traceID)/\(spanID) parent=\(parentSpanID) \(attributes)" }
}

/// The collector side of OTLP/HTTP for tests: a ``Receiver`` that answers `POST /v1/traces` as a collector does
/// (an empty `ExportTraceServiceResponse`), and a reader of the protobuf wire format for the fields the tests need:
/// `ExportTraceServiceRequest` → resource_spans(1) → resource(1) / scope_spans(2) → spans(2) → trace_id(1),
/// span_id(2), parent_span_id(4), name(5), attributes(9).
enum OTLPCollector {
    static let path = "/v1/traces"

    static let responder: Receiver.Responder = { _, _ in
        ReceiverResponse(status: 200, headers: [(name: "Content-Type", value: "application/x-protobuf")])
    }

    /// Every span the receiver was sent on ``path``.
    static func spans(_ receiver: Receiver) throws -> [ExportedSpan] {
        var spans: [ExportedSpan] = []
        for request in receiver.requests(path: path) {
            guard request.header("content-type") == "application/x-protobuf" else {
                throw ReceiverError("OTLP request with content type \(request.header("content-type") ?? "none")")
            }
            spans += try decode(request.body)
        }
        return spans
    }

    /// Waits until `condition` holds for the spans received so far.
    static func waitForSpans(
        _ receiver: Receiver,
        timeout: Duration = .seconds(15),
        until condition: ([ExportedSpan]) -> Bool
    ) async throws -> [ExportedSpan] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let spans = try spans(receiver)
            if condition(spans) { return spans }
            guard ContinuousClock.now < deadline else {
                throw ReceiverError(
                    "waited \(timeout) for spans; received:\n\(spans.map(\.description).joined(separator: "\n"))"
                )
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    static func decode(_ body: [UInt8]) throws -> [ExportedSpan] {
        var spans: [ExportedSpan] = []
        for resourceSpans in try fields(body[...]) where resourceSpans.number == 1 {
            var serviceName: String?
            var resourceSpanList: [ExportedSpan] = []
            for field in try fields(resourceSpans.bytes) {
                if field.number == 1 {
                    for attribute in try fields(field.bytes) where attribute.number == 1 {
                        let (key, value) = try keyValue(attribute.bytes)
                        if key == "service.name" { serviceName = value }
                    }
                } else if field.number == 2 {
                    for span in try fields(field.bytes) where span.number == 2 {
                        resourceSpanList.append(try decodeSpan(span.bytes))
                    }
                }
            }
            for var span in resourceSpanList {
                span.serviceName = serviceName
                spans.append(span)
            }
        }
        return spans
    }

    private static func decodeSpan(_ bytes: ArraySlice<UInt8>) throws -> ExportedSpan {
        var span = ExportedSpan(traceID: "", spanID: "", parentSpanID: "", name: "", attributes: [:])
        for field in try fields(bytes) {
            switch field.number {
            case 1: span.traceID = hex(field.bytes)
            case 2: span.spanID = hex(field.bytes)
            case 4: span.parentSpanID = hex(field.bytes)
            case 5: span.name = String(decoding: field.bytes, as: UTF8.self)
            case 9:
                let (key, value) = try keyValue(field.bytes)
                span.attributes[key] = value
            default: break
            }
        }
        return span
    }

    /// A `KeyValue`: key(1), value(2) an `AnyValue` with string_value(1), bool_value(2), int_value(3).
    private static func keyValue(_ bytes: ArraySlice<UInt8>) throws -> (String, String) {
        var key = ""
        var value = ""
        for field in try fields(bytes) {
            if field.number == 1 {
                key = String(decoding: field.bytes, as: UTF8.self)
            } else if field.number == 2 {
                for any in try fields(field.bytes) {
                    switch any.number {
                    case 1: value = String(decoding: any.bytes, as: UTF8.self)
                    case 2: value = any.varint == 0 ? "false" : "true"
                    case 3: value = String(Int64(bitPattern: any.varint))
                    default: break
                    }
                }
            }
        }
        return (key, value)
    }

    struct Field {
        var number: Int
        /// The value of a varint field.
        var varint: UInt64 = 0
        /// The bytes of a length-delimited field.
        var bytes: ArraySlice<UInt8> = []
    }

    /// The fields of one message, in order; fixed-size fields are skipped over.
    static func fields(_ bytes: ArraySlice<UInt8>) throws -> [Field] {
        var out: [Field] = []
        var index = bytes.startIndex
        func varint() throws -> UInt64 {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard index < bytes.endIndex, shift < 64 else { throw ReceiverError("truncated protobuf varint") }
                let byte = bytes[index]
                index += 1
                value |= UInt64(byte & 0x7f) << shift
                if byte & 0x80 == 0 { return value }
                shift += 7
            }
        }
        while index < bytes.endIndex {
            let tag = try varint()
            let number = Int(tag >> 3)
            switch tag & 7 {
            case 0:
                out.append(Field(number: number, varint: try varint()))
            case 1:
                index += 8
            case 2:
                let length = Int(try varint())
                guard length >= 0, length <= bytes.endIndex - index else {
                    throw ReceiverError("protobuf length \(length) beyond the message")
                }
                out.append(Field(number: number, bytes: bytes[index..<index + length]))
                index += length
            case 5:
                index += 4
            default:
                throw ReceiverError("unexpected protobuf wire type \(tag & 7)")
            }
            guard index <= bytes.endIndex else { throw ReceiverError("truncated protobuf field") }
        }
        return out
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined()
    }
}
