import Foundation
import Logging
import RelayCore
import RelayLog
import RelaySpool
import RelayTestSupport
import Testing

/// The delivery-log contract (``DeliveryLogContract``) against the SQLite implementation.
@Suite(.timeLimit(.minutes(1)))
struct SQLiteDeliveryLogContractTests {
    @Test(arguments: DeliveryLogContract.Case.allCases)
    func contract(_ testCase: DeliveryLogContract.Case) async throws {
        try await TemporaryDirectory.with { directory in
            try await DeliveryLogContract.run(testCase) { window in
                var configuration = SpoolConfiguration()
                configuration.resendWindow = window
                return try SQLiteDeliveryLog(directory: directory, configuration: configuration, logger: .quiet)
            }
        }
    }
}
