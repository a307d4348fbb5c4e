import Foundation
import Testing

@testable import RelayCore

/// Real request bodies from `Tests/Fixtures`, decoded by `EventDecoder` and matched against rules.
@Suite struct RuleFixtureTests {
    static let rules = #"""
        {
          "targets": {
            "thumbnailer": {"url": "http://thumbnailer:8080/events"},
            "markers": {"url": "http://markers/"},
            "audit": {"url": "http://audit/"},
            "rgw": {"url": "http://rgw/"}
          },
          "rules": [
            {
              "name": "new-images",
              "match": {
                "event": ["s3:ObjectCreated:*"],
                "bucket": ["photos"],
                "prefix": ["uploads/"],
                "suffix": [".jpg", ".jpeg", ".png"],
                "contentType": ["image/*"],
                "size": {"min": 1, "max": 52428800},
                "metadata": {"x-amz-meta-kind": ["avatar"]},
                "not": {"prefix": ["uploads/tmp/"]}
              },
              "to": ["thumbnailer"]
            },
            {"name": "empty-markers", "match": {"event": "ObjectCreated:*", "bucket": "logs", "size": {"max": 0}},
             "to": "markers"},
            {"name": "photo-deletes", "match": {"event": "ObjectRemoved:*", "bucket": "photos"}, "to": "audit"},
            {"name": "sized-deletes", "match": {"event": "ObjectRemoved:*", "size": {"min": 0}}, "to": "rgw"},
            {"name": "rgw-demo", "match": {"prefix": "in/hello world ", "metadata": {"demo": "1"}}, "to": "rgw"},
            {"name": "aws-beach", "match": {"prefix": "uploads/beach day/", "suffix": "Ü01.jpg"}, "to": "audit"},
            {"name": "special-key", "match": {"prefix": "uploads/summer trip/a+b ", "suffix": ".JPG",
             "contentType": "image/jpeg"}, "to": "thumbnailer"}
          ]
        }
        """#

    static let cases: [(fixture: String, matches: [[String]])] = [
        ("minio/put-image.json", [["thumbnailer by new-images"]]),
        ("minio/put-special-key.json", [["thumbnailer by special-key"]]),
        ("minio/put-zero-size.json", [["markers by empty-markers"]]),
        // A delete has no size: it fails "size" (sized-deletes) but not "bucket" (photo-deletes).
        ("minio/delete.json", [["audit by photo-deletes"]]),
        ("minio/get.json", [[]]),
        ("rgw/put.json", [["rgw by rgw-demo"]]),
        ("aws/two-records.json", [["audit by aws-beach"], ["audit by photo-deletes"]]),
    ]

    @Test(arguments: cases)
    func routesRealBodies(_ fixture: String, _ matches: [[String]]) throws {
        let ruleSet = try RuleSetCompiler.compile(
            [RuleSource(path: "rules/a.json", text: Self.rules)],
            environment: [:]
        )
        .get()
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        let body = [UInt8](try Data(contentsOf: directory.appendingPathComponent("Fixtures/" + fixture)))
        guard case .events(let events) = EventDecoder.decode(body) else {
            Issue.record("\(fixture) did not decode to events")
            return
        }
        let routed = events.decodedRecords.map { record in
            ruleSet.match(record).map { "\(ruleSet.targets[$0.targetIndex].name) by \($0.rule)" }
        }
        #expect(routed == matches)
    }
}
