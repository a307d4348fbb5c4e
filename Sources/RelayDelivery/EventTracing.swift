import Logging
import RelayCore
import Tracing

/// How the relay traces events (docs/operations.md, "Tracing"): one trace per received request, continued from its
/// `traceparent` when it has a valid one, with spans `receive` → `spool` → one `attempt` per delivery attempt.
///
/// With a tracer (`serve --otlp-endpoint`) the spans are recorded and exported; without one (``off``, the default)
/// no span object is made, and the `traceparent` is still carried: the stored one names the event's trace, and each
/// attempt sends that trace with a fresh parent id, so the targets can correlate their own traces with the sender's.
public struct EventTracing: Sendable {
    /// The tracer that records the spans; `nil` when tracing is off.
    public let tracer: (any Tracer)?

    /// Tracing off: no spans; `traceparent` headers still made and passed on.
    public static let off = EventTracing(tracer: nil)

    /// - Parameter tracer: records the spans; `nil` for ``off``.
    public init(tracer: (any Tracer)?) {
        self.tracer = tracer
    }

    /// The W3C header name, lowercase as HTTP/2 and the specification write it.
    public static let traceparentHeader = "traceparent"

    /// Sets `traceparent` in `headers`, replacing any a target configures itself: a fixed value would put every
    /// event into one trace, and the relay's continues the sender's.
    public static func setTraceparent(_ value: String, in headers: inout [(name: String, value: String)]) {
        headers.removeAll { $0.name.lowercased() == traceparentHeader }
        headers.append((name: traceparentHeader, value: value))
    }

    /// A span of ours, or nothing when tracing is off.
    public struct SpanHandle: Sendable {
        let span: (any Span)?
        /// The `traceparent` naming this span (tracing on) or a span of the same trace no one records (off).
        public let traceparent: String
    }

    /// Starts the `receive` span of one request, continuing the request's `traceparent` when it is valid.
    public func startReceive(incoming: String?) -> SpanHandle {
        start("receive", kind: .server, parent: incoming)
    }

    /// Starts the `spool` span of one request's append, a child of its `receive` span.
    public func startSpool(in receive: SpanHandle) -> SpanHandle {
        start("spool", childOf: receive)
    }

    /// Starts the span of one delivery attempt, a child of the `traceparent` stored with the delivery (the event's
    /// `spool` span); a delivery stored without a valid one (by an older relay) gets a trace of its own.
    ///
    /// - Returns: the span and the `traceparent` to send to the target: the event's trace, the attempt as parent.
    public func startAttempt(stored: String?) -> SpanHandle {
        start("attempt", kind: .client, parent: stored)
    }

    /// Starts a span named `name` under the context that `parent` (a `traceparent` value) names; an invalid or
    /// missing `parent` starts a new trace.
    public func start(_ name: String, kind: SpanKind, parent: String?) -> SpanHandle {
        var random = SystemRandomNumberGenerator()
        guard let tracer else {
            let parsed = parent.flatMap { TraceParent(header: $0) }
            let value = parsed?.child(using: &random) ?? TraceParent.random(using: &random)
            return SpanHandle(span: nil, traceparent: value.description)
        }
        var context = ServiceContext.topLevel
        if let parent, TraceParent(header: parent) != nil {
            tracer.extract([Self.traceparentHeader: parent], into: &context, using: DictionaryCarrier())
        }
        let span = tracer.startSpan(name, context: context, ofKind: kind)
        return SpanHandle(span: span, traceparent: Self.traceparent(of: span, tracer: tracer, random: &random))
    }

    /// Starts a span named `name` as a child of `parent` (one of ours).
    public func start(_ name: String, kind: SpanKind = .internal, childOf parent: SpanHandle) -> SpanHandle {
        guard let tracer, let parentSpan = parent.span else {
            var random = SystemRandomNumberGenerator()
            let value =
                TraceParent(header: parent.traceparent)?.child(using: &random) ?? TraceParent.random(using: &random)
            return SpanHandle(span: nil, traceparent: value.description)
        }
        var random = SystemRandomNumberGenerator()
        let span = tracer.startSpan(name, context: parentSpan.context, ofKind: kind)
        return SpanHandle(span: span, traceparent: Self.traceparent(of: span, tracer: tracer, random: &random))
    }

    /// The span's `traceparent`, as the tracer's propagator writes it.
    private static func traceparent(
        of span: any Span,
        tracer: any Tracer,
        random: inout SystemRandomNumberGenerator
    ) -> String {
        var carrier: [String: String] = [:]
        tracer.inject(span.context, into: &carrier, using: DictionaryCarrier())
        if let value = carrier[traceparentHeader], TraceParent(header: value) != nil { return value }
        // A tracer without W3C propagation: still hand on a valid value.
        return TraceParent.random(using: &random).description
    }
}

extension EventTracing.SpanHandle {
    /// Whether a span is being recorded (tracing on); callers skip building attributes otherwise.
    public var isRecording: Bool { span?.isRecording ?? false }

    /// Sets the span's attributes from log metadata, under the same names as the log lines: whole numbers become
    /// integer attributes, everything else a string.
    public func set(_ metadata: Logger.Metadata) {
        guard let span else { return }
        span.attributes = span.attributes.merging(metadata)
    }

    /// Sets one attribute.
    public func set(_ name: String, _ value: some SpanAttributeConvertible) {
        span?.attributes[name] = value
    }

    /// Marks the span failed with `message` (OTLP status `ERROR`).
    public func fail(_ message: String) {
        span?.setStatus(SpanStatus(code: .error, message: message))
    }

    /// Ends the span (it is exported with the next batch).
    public func end() {
        span?.end()
    }
}

extension SpanAttributes {
    fileprivate func merging(_ metadata: Logger.Metadata) -> SpanAttributes {
        var attributes = self
        for (key, value) in metadata {
            let text = "\(value)"
            if let number = Int64(text) {
                attributes[key] = number
            } else {
                attributes[key] = text
            }
        }
        return attributes
    }
}

/// Reads and writes propagation headers in a `[name: value]` dictionary (names lowercase).
struct DictionaryCarrier: Extractor, Injector {
    func extract(key: String, from carrier: [String: String]) -> String? {
        carrier[key.lowercased()]
    }

    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) {
        carrier[key.lowercased()] = value
    }
}
