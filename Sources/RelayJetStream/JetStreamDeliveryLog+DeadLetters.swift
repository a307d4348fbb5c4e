import Foundation
import RelayCore
import RelayLog

/// One message of the dead-letters stream: its sequence, its line, and the line decoded.
public struct JetStreamDeadLetter: Sendable {
    /// The message's sequence in `RELAY_DEADLETTERS`.
    public var sequence: UInt64
    /// The message body: one dead-letter line (JSON, no newline), as written.
    public var line: [UInt8]
    /// The line decoded; `nil` for a message that is not a dead-letter line (published by something else).
    public var letter: DeadLetter?
}

/// Reading, re-queueing and removing dead letters on JetStream, for `replay --jetstream` and
/// `dead-letters export --jetstream` (docs/delivery.md, "Replay").
extension JetStreamDeliveryLog {
    /// The dead letters at sequences `from` and above, oldest first, at most `limit` of them (each one read costs a
    /// request to the server).
    /// - Returns: the letters, and the sequence to continue from (`nil` when the stream holds no more).
    /// - Throws: ``DeliveryLogError`` when the stream cannot be read.
    public func deadLetters(
        from sequence: UInt64,
        limit: Int
    ) async throws -> (letters: [JetStreamDeadLetter], next: UInt64?) {
        let connection = self.connection
        let stream = configuration.deadLettersStream
        return try await Blocking.run { () throws -> ([JetStreamDeadLetter], UInt64?) in
            let state = try connection.streamState(stream)
            guard state.messages > 0 else { return ([], nil) }
            var current = max(sequence, state.firstSequence)
            var letters: [JetStreamDeadLetter] = []
            let decoder = JSONDecoder()
            while current <= state.lastSequence && letters.count < max(1, limit) {
                if let message = try connection.message(stream: stream, sequence: current) {
                    let line = message.data
                    letters.append(
                        JetStreamDeadLetter(
                            sequence: current,
                            line: line,
                            letter: try? decoder.decode(DeadLetter.self, from: Data(line))
                        )
                    )
                }
                current += 1
            }
            return (letters, current <= state.lastSequence ? current : nil)
        }
    }

    /// Appends `delivery` (a dead letter sent again) as a new pending delivery of its target, then removes the dead
    /// letter from the stream. The delivery keeps its id (the receiver's `webhook-id`); its message id is
    /// `<delivery id>~replay-<dead letter sequence>`, so a replay that dies between the two steps and runs again
    /// stores it once (within the resend window).
    /// - Throws: ``DeliveryLogError`` `.full` when the deliveries stream is at its limit (the dead letter stays),
    ///   `.unavailable` while NATS is away.
    public func requeue(_ deadLetter: JetStreamDeadLetter, as delivery: NewDelivery) async throws {
        let message = try deliveryMessage(for: delivery)
        let connection = self.connection
        let deliveries = configuration.deliveriesStream
        let deadLetters = configuration.deadLettersStream
        try await Blocking.run {
            _ = try connection.publish(
                message,
                messageID: "\(delivery.deliveryID)~replay-\(deadLetter.sequence)",
                what: "cannot publish the replay of delivery \(delivery.deliveryID) to \(deliveries)"
            )
            try connection.deleteMessage(stream: deadLetters, sequence: deadLetter.sequence)
        }
    }
}
