import RelayCore
import Testing

/// W3C `traceparent` values (https://www.w3.org/TR/trace-context/#traceparent-header), as the relay reads and
/// writes them (docs/operations.md, "Tracing").
struct TraceParentTests {
    static let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    @Test func aValidValueRoundTrips() throws {
        let value = try #require(TraceParent(header: Self.valid))
        #expect(value.traceIDHex == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(value.parentIDHex == "00f067aa0ba902b7")
        #expect(value.flags == 1)
        #expect(value.description == Self.valid)
    }

    @Test func aHigherVersionIsReadByItsFirstFieldsAndWrittenAsVersion00() throws {
        let value = try #require(TraceParent(header: "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later"))
        #expect(value.description == Self.valid)
    }

    @Test(arguments: [
        "",
        "garbage",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
    ])
    func invalidValuesAreRejected(_ header: String) {
        #expect(TraceParent(header: header) == nil)
    }

    @Test func aChildKeepsTraceAndFlagsWithANewParent() throws {
        var random = SystemRandomNumberGenerator()
        let parent = try #require(TraceParent(header: Self.valid))
        let child = parent.child(using: &random)
        #expect(child.traceID == parent.traceID)
        #expect(child.flags == parent.flags)
        #expect(child.parentID != parent.parentID)
        #expect(TraceParent(header: child.description) == child)
    }

    @Test func randomValuesAreValidAndDistinct() {
        var random = SystemRandomNumberGenerator()
        let values = (0..<100).map { _ in TraceParent.random(using: &random) }
        #expect(values.allSatisfy { TraceParent(header: $0.description) == $0 })
        #expect(Set(values.map(\.traceIDHex)).count == 100)
        #expect(values.allSatisfy { $0.flags == 0 }, "not sampled: nothing records the relay's spans")
    }
}
