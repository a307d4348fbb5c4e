import GRDB
import GRDBSQLite

/// A cursor over a cached spool statement that reads each step's columns by index, straight from SQLite.
///
/// GRDB's `Row` cursors build, per cursor, a dictionary of the statement's lowercased column names (for access by
/// name, which the spool never uses): about a hundred instructions and an allocation per column, paid on every read
/// of the request path (claims, next attempt times, deletes). This cursor reads what the spool selects, nothing else.
/// Valid only inside the database access that made it, like every GRDB cursor.
final class ColumnCursor<Element>: DatabaseCursor {
    let _statement: Statement
    var _isDone = false
    private let read: (SQLiteColumns) throws -> Element

    /// Resets `statement`, binds `arguments` (validated by GRDB) and reads each row with `read`.
    init(
        _ statement: Statement,
        arguments: StatementArguments,
        read: @escaping (SQLiteColumns) throws -> Element
    ) throws {
        self._statement = statement
        self.read = read
        try statement.setArguments(arguments)
    }

    deinit {
        // The statement is cached: reset it, so that it holds no read snapshot (which would hold back checkpoints)
        // until its next use.
        sqlite3_reset(_statement.sqliteStatement)
    }

    func _element(sqliteStatement: SQLiteStatement) throws -> Element {
        try read(SQLiteColumns(statement: sqliteStatement, owner: _statement))
    }
}

/// The columns of the current row. Indexes start at 0, in the order of the statement's SELECT (or RETURNING).
struct SQLiteColumns {
    let statement: SQLiteStatement
    /// GRDB's statement, for its SQL in an error only: `Statement.sql` trims the text anew at each call (through
    /// NSString, about 100,000 instructions).
    let owner: Statement

    func isNull(_ index: CInt) -> Bool { sqlite3_column_type(statement, index) == SQLITE_NULL }

    func int64(_ index: CInt) throws -> Int64 {
        if isNull(index) { throw unexpectedNull(index) }
        return sqlite3_column_int64(statement, index)
    }

    func int(_ index: CInt) throws -> Int { Int(try int64(index)) }

    func optionalInt(_ index: CInt) -> Int? { isNull(index) ? nil : Int(sqlite3_column_int64(statement, index)) }

    func text(_ index: CInt) throws -> String {
        guard let text = optionalText(index) else { throw unexpectedNull(index) }
        return text
    }

    func optionalText(_ index: CInt) -> String? {
        guard let pointer = sqlite3_column_text(statement, index) else { return nil }
        let count = Int(sqlite3_column_bytes(statement, index))
        return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
    }

    /// A blob's bytes ([] for an empty blob or NULL).
    func bytes(_ index: CInt) -> [UInt8] {
        guard let pointer = sqlite3_column_blob(statement, index) else { return [] }
        let count = Int(sqlite3_column_bytes(statement, index))
        return [UInt8](UnsafeRawBufferPointer(start: pointer, count: count))
    }

    private func unexpectedNull(_ index: CInt) -> DatabaseError {
        DatabaseError(
            resultCode: .SQLITE_MISMATCH,
            message: "column \(index) is NULL where the spool's schema has a value",
            sql: owner.sql
        )
    }
}
