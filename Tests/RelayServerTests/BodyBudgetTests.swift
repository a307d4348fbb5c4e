import Testing

@testable import RelayServer

/// The body budget's two caps, and the one escaping function of the text log format.
struct BodyBudgetTests {
    @Test func oneClientIsCappedWhileAnotherIsStillServed() {
        let budget = BodyBudget(limit: 100, perClientLimit: 40)
        let first = BodyBudget.Reservation(client: "10.0.0.1")
        let second = BodyBudget.Reservation(client: "10.0.0.1")
        let other = BodyBudget.Reservation(client: "10.0.0.2")
        #expect(budget.reserve(30, for: first))
        #expect(budget.reserve(10, for: second))
        #expect(!budget.reserve(1, for: second), "the client's 40 bytes are held")
        #expect(budget.reserve(40, for: other), "another client has its own share")
        #expect(budget.held() == 80)
        #expect(budget.held(client: "10.0.0.1") == 40)
        budget.release(first)
        #expect(budget.held(client: "10.0.0.1") == 10)
        #expect(budget.reserve(30, for: second))
        budget.release(second)
        budget.release(other)
        budget.release(other)  // releasing twice releases nothing more
        #expect(budget.held() == 0)
    }

    @Test func theGlobalCapHoldsAcrossClients() {
        let budget = BodyBudget(limit: 100, perClientLimit: 60)
        let reservations = (0..<3).map { BodyBudget.Reservation(client: "10.0.0.\($0)") }
        #expect(budget.reserve(50, for: reservations[0]))
        #expect(budget.reserve(50, for: reservations[1]))
        #expect(!budget.reserve(1, for: reservations[2]), "100 bytes held in all")
        budget.release(reservations[0])
        #expect(budget.reserve(1, for: reservations[2]))
    }

    @Test(arguments: [
        ("a\nb", "a\\u{a}b"),
        ("\u{1b}[31mred", "\\u{1b}[31mred"),
        ("csi\u{9b}2J", "csi\\u{9b}2J"),
        ("line\u{2028}sep", "line\\u{2028}sep"),
        ("\u{202e}gpj.exe", "\\u{202e}gpj.exe"),
        ("del\u{7f}", "del\\u{7f}"),
        ("plain ünïcode/key.jpg", "plain ünïcode/key.jpg"),
    ])
    func logTextEscapesWhatCouldForgeALineOrDriveATerminal(input: String, expected: String) {
        #expect(LogText.escaped(input) == expected)
    }
}
