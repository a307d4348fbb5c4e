import Testing

@testable import RelayCore

@Suite struct RuleUnitsTests {
    static let durations: [(String, Duration)] = [
        ("200ms", .milliseconds(200)),
        ("5s", .seconds(5)),
        ("1m", .seconds(60)),
        ("1h", .seconds(3600)),
        ("1h30m", .seconds(5400)),
        ("1s500ms", .milliseconds(1500)),
        ("1.5s", .milliseconds(1500)),
        (".5s", .milliseconds(500)),
        ("0.25h", .seconds(900)),
        ("10us", .microseconds(10)),
        ("10µs", .microseconds(10)),
        ("3ns", .nanoseconds(3)),
        ("1.0000000001s", .seconds(1)),
        ("0", .zero),
        ("0s", .zero),
    ]

    @Test(arguments: durations)
    func parsesDurations(_ text: String, _ expected: Duration) throws {
        #expect(try DurationParser.parse(text) == expected)
    }

    static let badDurations: [(String, UnitParseError.Code)] = [
        ("", .invalidDuration),
        ("5", .invalidDuration),
        ("5 s", .invalidDuration),
        ("s", .invalidDuration),
        ("-5s", .invalidDuration),
        ("5d", .invalidDuration),
        ("5sec", .invalidDuration),
        ("1h30", .invalidDuration),
        (".s", .invalidDuration),
        ("3000000h", .outOfRange),
    ]

    @Test(arguments: badDurations)
    func refusesMalformedDurations(_ text: String, _ code: UnitParseError.Code) {
        #expect(throws: UnitParseError.self) { try DurationParser.parse(text) }
        do {
            _ = try DurationParser.parse(text)
        } catch {
            #expect(error.code == code)
            #expect(error.input == text)
        }
    }

    @Test func explainsABadDurationWithAnExample() {
        #expect(throws: UnitParseError.self) { try DurationParser.parse("5 sec") }
        do {
            _ = try DurationParser.parse("5 sec")
        } catch {
            #expect(
                error.message
                    == #""5 sec" is not a duration; write a number and a unit (ms, s, m, h), e.g. "200ms", "5s", "1h30m""#
            )
        }
    }

    @Test func aNegativeDurationIsToldToBePositive() {
        do {
            _ = try DurationParser.parse("-500ms")
            Issue.record("-500ms was accepted")
        } catch {
            #expect(error.code == .invalidDuration)
            #expect(error.message == #""-500ms": durations must be positive; drop the "-""#)
        }
        // A "-" before something that is not a duration is the usual answer.
        do {
            _ = try DurationParser.parse("-5 sec")
        } catch {
            #expect(error.message.contains("is not a duration"))
        }
    }

    static let formattedDurations: [(Duration, String)] = [
        (.zero, "0s"),
        (.milliseconds(200), "200ms"),
        (.seconds(90), "1m30s"),
        (.seconds(3600), "1h"),
        (.seconds(5400), "1h30m"),
        (.milliseconds(1500), "1s500ms"),
        (.microseconds(10), "10us"),
        (.nanoseconds(1500), "1500ns"),
        (.seconds(300), "5m"),
    ]

    @Test(arguments: formattedDurations)
    func formatsDurationsSoThatTheyParseBack(_ duration: Duration, _ expected: String) throws {
        #expect(DurationParser.format(duration) == expected)
        #expect(try DurationParser.parse(expected) == duration)
    }

    static let sizes: [(String, Int64)] = [
        ("1048576", 1_048_576),
        ("0", 0),
        ("512KiB", 524_288),
        ("1MiB", 1_048_576),
        ("10MB", 10_000_000),
        ("1 GiB", 1_073_741_824),
        ("5B", 5),
        ("5b", 5),
        ("1kb", 1000),
        ("2TiB", 2_199_023_255_552),
        ("50mib", 52_428_800),
    ]

    @Test(arguments: sizes)
    func parsesByteSizes(_ text: String, _ expected: Int64) throws {
        #expect(try ByteSize.parse(text) == expected)
    }

    static let badSizes: [(String, UnitParseError.Code)] = [
        ("", .invalidByteSize),
        ("MiB", .invalidByteSize),
        ("1.5MiB", .invalidByteSize),
        ("-1", .invalidByteSize),
        ("1 ", .invalidByteSize),
        ("1  MiB", .invalidByteSize),
        ("1XB", .invalidByteSize),
        ("9223372036854775808", .outOfRange),
        ("9000000TiB", .outOfRange),
    ]

    @Test(arguments: badSizes)
    func refusesMalformedByteSizes(_ text: String, _ code: UnitParseError.Code) {
        #expect(throws: UnitParseError.self) { try ByteSize.parse(text) }
        do {
            _ = try ByteSize.parse(text)
        } catch {
            #expect(error.code == code)
        }
    }

    static let formattedSizes: [(Int64, String)] = [
        (0, "0B"),
        (1024, "1KiB"),
        (1_048_576, "1MiB"),
        (52_428_800, "50MiB"),
        (10_000_000, "10MB"),
        (1234, "1234B"),
        (1500, "1500B"),
    ]

    @Test(arguments: formattedSizes)
    func formatsByteSizesSoThatTheyParseBack(_ bytes: Int64, _ expected: String) throws {
        #expect(ByteSize.format(bytes) == expected)
        #expect(try ByteSize.parse(expected) == bytes)
    }
}
