import RelayCore
import Testing

@Suite("EventRecord")
struct EventRecordTests {
    @Test(
        arguments: [
            ("s3:ObjectCreated:Put", true),
            ("s3:ObjectCreated:CompleteMultipartUpload", true),
            ("s3:ObjectRemoved:Delete", false),
            ("s3:ObjectAccessed:Get", false),
            ("ObjectCreated:Put", false),
        ]
    )
    func isCreatedOnlyForTheObjectCreatedFamily(eventName: String, expected: Bool) {
        let record = EventRecord(eventName: eventName, bucket: "b", key: "k")
        #expect(record.isCreated == expected)
    }

    @Test func initialiserDefaultsRawKeyToKeyAndOptionalsToAbsent() {
        let record = EventRecord(eventName: "s3:ObjectCreated:Put", bucket: "b", key: "a b")
        #expect(record.rawKey == "a b")
        #expect(record.eventSource == "")
        #expect(record.size == nil)
        #expect(record.metadata.isEmpty)
        #expect(record.recordRange.isEmpty)
    }
}
