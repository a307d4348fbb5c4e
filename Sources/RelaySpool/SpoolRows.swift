import Foundation
import GRDB
import RelayCore
import RelayLog

extension PendingDelivery {
    /// Reads a row selected as `rowid, delivery_id, target, rule, payload, attempts, next_attempt_at,
    /// last_status, last_error, created_at, traceparent`, then optionally `ordering_key, ordering_position`.
    init(row: Row, rowID: Int64) throws {
        var ordering: DeliveryOrdering?
        if row.count >= 13, let key = try row.decode(String?.self, atIndex: 11) {
            ordering = DeliveryOrdering(key: key, position: try row.decode(String?.self, atIndex: 12) ?? "")
        }
        self.init(
            sequence: rowID,
            deliveryID: try row.decode(String.self, atIndex: 1),
            target: try row.decode(String.self, atIndex: 2),
            rule: try row.decode(String.self, atIndex: 3),
            payload: try row.withUnsafeData(atIndex: 4) { data in data.map { [UInt8]($0) } ?? [] },
            attempts: try row.decode(Int.self, atIndex: 5),
            nextAttemptAt: Timestamp(millisecondsSince1970: try row.decode(Int64.self, atIndex: 6)),
            lastStatus: try row.decode(Int?.self, atIndex: 7),
            lastError: try row.decode(String?.self, atIndex: 8),
            createdAt: Timestamp(millisecondsSince1970: try row.decode(Int64.self, atIndex: 9)),
            traceparent: try row.decode(String?.self, atIndex: 10),
            ordering: ordering
        )
    }
}

extension PendingDelivery {
    /// Reads a row selected as ``init(row:rowID:)`` reads it, from a ``ColumnCursor``.
    init(columns: SQLiteColumns, rowID: Int64) throws {
        var ordering: DeliveryOrdering?
        if let key = columns.optionalText(11) {
            ordering = DeliveryOrdering(key: key, position: columns.optionalText(12) ?? "")
        }
        self.init(
            sequence: rowID,
            deliveryID: try columns.text(1),
            target: try columns.text(2),
            rule: try columns.text(3),
            payload: columns.bytes(4),
            attempts: try columns.int(5),
            nextAttemptAt: Timestamp(millisecondsSince1970: try columns.int64(6)),
            lastStatus: columns.optionalInt(7),
            lastError: columns.optionalText(8),
            createdAt: Timestamp(millisecondsSince1970: try columns.int64(9)),
            traceparent: columns.optionalText(10),
            ordering: ordering
        )
    }
}

extension SpoolError {
    static func closed(path: String) -> SpoolError {
        SpoolError(code: .closed, message: "the spool \(path) is closed; the relay is shutting down")
    }

    /// Maps a GRDB, SQLite or other error to a spool error: SQLITE_FULL → `.diskFull`, everything else → `.io`.
    init(_ error: any Error, path: String, operation: String) {
        if let error = error as? SpoolError {
            self = error
            return
        }
        guard let error = error as? DatabaseError else {
            self.init(code: .io, message: "spool \(operation) failed on \(path): \(error)")
            return
        }
        let sqlite = "SQLite error \(error.extendedResultCode.rawValue): \(error.message ?? "no message")"
        switch error.resultCode {
        case .SQLITE_FULL:
            self.init(
                code: .diskFull,
                message: "spool \(operation) failed: the disk holding \(path) is full (\(sqlite)); free space or "
                    + "lower --spool-max"
            )
        case .SQLITE_IOERR, .SQLITE_CANTOPEN:
            self.init(
                code: .io,
                message: "spool \(operation) failed: I/O error on \(path) (\(sqlite)); check the disk, the "
                    + "permissions of --data-dir and the kernel log"
            )
        case .SQLITE_CORRUPT, .SQLITE_NOTADB:
            self.init(
                code: .io,
                message: "spool \(operation) failed: \(path) is damaged or not a spool (\(sqlite)); move it aside "
                    + "and restart (its pending deliveries are lost)"
            )
        default:
            self.init(code: .io, message: "spool \(operation) failed on \(path) (\(sqlite))")
        }
    }
}
