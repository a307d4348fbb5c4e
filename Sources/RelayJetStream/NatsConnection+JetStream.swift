import CNats
import CNatsShim
import RelayCore
import RelayLog

/// The JetStream calls the delivery log makes, each blocking: call them through ``Blocking``.
extension NatsConnection {
    /// What a publish with an expected last subject sequence found.
    enum PublishResult {
        /// Stored (or recognised by its `Nats-Msg-Id` within the duplicate window, `duplicate` true) at `sequence`.
        case stored(sequence: UInt64, duplicate: Bool)
        /// The subject's last sequence was not the expected one: another publish came first.
        case wrongLastSequence
    }

    /// The state of a stream, with per-subject counts when a filter was given.
    struct StreamState {
        var messages: UInt64
        var bytes: UInt64
        var firstSequence: UInt64
        var lastSequence: UInt64
        var subjects: [(subject: String, messages: UInt64)]
    }

    /// The state of a durable consumer.
    struct ConsumerState {
        /// Messages of the filter subject not yet handed out.
        var pending: UInt64
        /// Messages handed out and not yet acked (in flight, waiting, or nak'd with a delay).
        var ackPending: Int64
        var maxAckPending: Int64
        /// Every stream sequence up to this one is acked.
        var ackFloor: UInt64
    }

    /// Creates or updates (idempotently) a stream with one subject filter.
    func ensureStream(
        name: String,
        subject: String,
        retention: jsRetentionPolicy,
        discard: jsDiscardPolicy,
        maxMessages: Int64 = -1,
        maxBytes: Int64 = -1,
        maxAge: Duration = .zero,
        maxMessagesPerSubject: Int64 = -1,
        duplicateWindow: Duration = .zero,
        replicas: Int,
        allowDirect: Bool
    ) throws(DeliveryLogError) {
        var code = jsErrCode(rawValue: 0)
        let status = name.withCString { namePointer in
            subject.withCString { subjectPointer in
                var settings = cnats_stream_settings(
                    name: namePointer,
                    subject: subjectPointer,
                    retention: retention,
                    discard: discard,
                    maxMsgs: maxMessages,
                    maxBytes: maxBytes,
                    maxAgeNanoseconds: maxAge.wholeNanoseconds,
                    maxMsgsPerSubject: maxMessagesPerSubject,
                    duplicatesNanoseconds: duplicateWindow.wholeNanoseconds,
                    replicas: Int64(replicas),
                    allowDirect: allowDirect
                )
                return cnats_ensure_stream(jetStream, &settings, &code)
            }
        }
        guard status == NATS_OK else {
            throw NatsFailure.error(status, code, "cannot create or update JetStream stream \(name)")
        }
    }

    func subscribe(
        stream: String,
        durable: String,
        subject: String,
        settings: JetStreamTargetSettings,
        replicas: Int
    ) throws(DeliveryLogError) -> NatsSubscription {
        var code = jsErrCode(rawValue: 0)
        var status = stream.withCString { streamName in
            durable.withCString { durableName in
                subject.withCString { filter in
                    var consumer = cnats_consumer_settings(
                        stream: streamName,
                        durable: durableName,
                        filterSubject: filter,
                        ackWaitNanoseconds: settings.ackWait.wholeNanoseconds,
                        maxAckPending: Int64(settings.maxAckPending),
                        maxDeliver: -1,
                        replicas: 0
                    )
                    return cnats_ensure_consumer(jetStream, &consumer, &code)
                }
            }
        }
        guard status == NATS_OK else {
            throw NatsFailure.error(status, code, "cannot create or update JetStream consumer \(durable) on \(stream)")
        }
        var subscription: OpaquePointer?
        status = cnats_bind_pull(&subscription, jetStream, stream, durable, subject, &code)
        guard status == NATS_OK, let subscription else {
            throw NatsFailure.error(status, code, "cannot subscribe to JetStream consumer \(durable) on \(stream)")
        }
        return NatsSubscription(subscription, self)
    }

    /// Publishes and waits for the PubAck.
    func publish(
        _ message: NatsMessage,
        messageID: String?,
        expectLastSubjectSequence: UInt64? = nil,
        what: @autoclosure () -> String
    ) throws(DeliveryLogError) -> PublishResult {
        var code = jsErrCode(rawValue: 0)
        var ack: UnsafeMutablePointer<jsPubAck>?
        let status = withOptionalCString(messageID) { id in
            var options = jsPubOptions()
            jsPubOptions_Init(&options)
            options.MsgId = id
            if let expected = expectLastSubjectSequence {
                if expected == 0 {
                    options.ExpectNoMessage = true
                } else {
                    options.ExpectLastSubjectSeq = expected
                }
            }
            return js_PublishMsg(&ack, jetStream, message.pointer, &options, &code)
        }
        defer { jsPubAck_Destroy(ack) }
        if status != NATS_OK && code.rawValue == JSStreamWrongLastSequenceErr.rawValue {
            return .wrongLastSequence
        }
        guard status == NATS_OK, let ack else { throw NatsFailure.error(status, code, what()) }
        return .stored(sequence: ack.pointee.Sequence, duplicate: ack.pointee.Duplicate)
    }

    /// The last message on `subject` of `stream`; `nil` when there is none.
    func lastMessage(stream: String, subject: String) throws(DeliveryLogError) -> NatsMessage? {
        var code = jsErrCode(rawValue: 0)
        var message: OpaquePointer?
        let status = js_GetLastMsg(&message, jetStream, stream, subject, nil, &code)
        if status == NATS_NOT_FOUND { return nil }
        guard status == NATS_OK, let message else {
            throw NatsFailure.error(status, code, "cannot read the last message of \(subject) in \(stream)")
        }
        return NatsMessage(message)
    }

    /// The first message at or after `sequence` on `subject` (wildcards allowed) of a stream with direct get on.
    func nextMessage(stream: String, from sequence: UInt64, subject: String) throws(DeliveryLogError) -> NatsMessage? {
        var message: OpaquePointer?
        let status = subject.withCString { filter in
            var options = jsDirectGetMsgOptions()
            jsDirectGetMsgOptions_Init(&options)
            options.Sequence = sequence
            options.NextBySubject = filter
            return js_DirectGetMsg(&message, jetStream, stream, nil, &options)
        }
        if status == NATS_NOT_FOUND { return nil }
        guard status == NATS_OK, let message else {
            throw NatsFailure.error(status, nil, "cannot read message \(sequence) of \(stream)")
        }
        return NatsMessage(message)
    }

    /// The message at `sequence`; `nil` when it was deleted or never existed.
    func message(stream: String, sequence: UInt64) throws(DeliveryLogError) -> NatsMessage? {
        var code = jsErrCode(rawValue: 0)
        var message: OpaquePointer?
        let status = js_GetMsg(&message, jetStream, stream, sequence, nil, &code)
        if status == NATS_NOT_FOUND { return nil }
        guard status == NATS_OK, let message else {
            throw NatsFailure.error(status, code, "cannot read message \(sequence) of \(stream)")
        }
        return NatsMessage(message)
    }

    func deleteMessage(stream: String, sequence: UInt64) throws(DeliveryLogError) {
        var code = jsErrCode(rawValue: 0)
        let status = js_DeleteMsg(jetStream, stream, sequence, nil, &code)
        if status == NATS_NOT_FOUND { return }
        guard status == NATS_OK else {
            throw NatsFailure.error(status, code, "cannot delete message \(sequence) of \(stream)")
        }
    }

    /// Removes every message below `sequence` (of `subject` only, when given).
    func purge(stream: String, below sequence: UInt64, subject: String? = nil) throws(DeliveryLogError) {
        var code = jsErrCode(rawValue: 0)
        let status = withOptionalCString(subject) { subject in
            var options = jsOptions()
            jsOptions_Init(&options)
            options.Stream.Purge.Sequence = sequence
            options.Stream.Purge.Subject = subject
            return js_PurgeStream(jetStream, stream, &options, &code)
        }
        guard status == NATS_OK else {
            throw NatsFailure.error(status, code, "cannot purge \(stream) below \(sequence)")
        }
    }

    func streamState(_ stream: String, subjects filter: String? = nil) throws(DeliveryLogError) -> StreamState {
        var code = jsErrCode(rawValue: 0)
        var info: UnsafeMutablePointer<jsStreamInfo>?
        let status = withOptionalCString(filter) { filter in
            var options = jsOptions()
            jsOptions_Init(&options)
            options.Stream.Info.SubjectsFilter = filter
            return js_GetStreamInfo(&info, jetStream, stream, &options, &code)
        }
        defer { jsStreamInfo_Destroy(info) }
        guard status == NATS_OK, let info else {
            throw NatsFailure.error(status, code, "cannot read the state of JetStream stream \(stream)")
        }
        let state = info.pointee.State
        var subjects: [(String, UInt64)] = []
        if let list = state.Subjects, let entries = list.pointee.List {
            for index in 0..<Int(list.pointee.Count) {
                let entry = entries[index]
                if let subject = entry.Subject { subjects.append((String(cString: subject), entry.Msgs)) }
            }
        }
        return StreamState(
            messages: state.Msgs,
            bytes: state.Bytes,
            firstSequence: state.FirstSeq,
            lastSequence: state.LastSeq,
            subjects: subjects
        )
    }

    func consumerState(stream: String, durable: String) throws(DeliveryLogError) -> ConsumerState? {
        var code = jsErrCode(rawValue: 0)
        var info: UnsafeMutablePointer<jsConsumerInfo>?
        let status = js_GetConsumerInfo(&info, jetStream, stream, durable, nil, &code)
        defer { jsConsumerInfo_Destroy(info) }
        if status == NATS_NOT_FOUND { return nil }
        guard status == NATS_OK, let info else {
            throw NatsFailure.error(status, code, "cannot read JetStream consumer \(durable) on \(stream)")
        }
        return ConsumerState(
            pending: info.pointee.NumPending,
            ackPending: info.pointee.NumAckPending,
            maxAckPending: info.pointee.Config?.pointee.MaxAckPending ?? 0,
            ackFloor: info.pointee.AckFloor.Stream
        )
    }

    /// Fetches up to `batch` messages: those available now, at once; when there are none, the first that arrive
    /// within `wait` (nats-server 2.9 holds a no-wait request with an expiry until it expires or a message comes).
    /// None when none came or the consumer has `MaxAckPending` messages out. Messages that arrive after `wait` stay
    /// queued in the subscription and come with the next fetch. Not to be called twice at once on one subscription.
    func fetch(
        _ subscription: NatsSubscription,
        batch: Int,
        wait: Duration
    ) throws(DeliveryLogError)
        -> [NatsMessage]
    {
        guard batch > 0 else { return [] }
        var request = jsFetchRequest()
        jsFetchRequest_Init(&request)
        request.Batch = Int32(clamping: batch)
        request.NoWait = true
        request.Expires = wait.wholeNanoseconds
        var list = natsMsgList()
        let status = natsSubscription_FetchRequest(&list, subscription.pointer, &request)
        defer { natsMsgList_Destroy(&list) }
        switch status {
        case NATS_OK:
            var messages: [NatsMessage] = []
            if let pointers = list.Msgs {
                for index in 0..<Int(list.Count) {
                    if let message = pointers[index] {
                        messages.append(NatsMessage(message, subscription: subscription))
                        pointers[index] = nil  // ours now: natsMsgList_Destroy must not destroy it
                    }
                }
            }
            return messages
        case NATS_NOT_FOUND, NATS_TIMEOUT:
            return []
        default:
            let text = String(cString: cnats_last_error())
            if status == NATS_ERR && text.contains("MaxAckPending") { return [] }
            throw NatsFailure.error(status, nil, "cannot fetch from JetStream")
        }
    }

    /// Acks and waits for JetStream to confirm.
    func ack(_ message: NatsMessage, what: @autoclosure () -> String) throws(DeliveryLogError) {
        var code = jsErrCode(rawValue: 0)
        let status = natsMsg_AckSync(message.pointer, nil, &code)
        guard status == NATS_OK else { throw NatsFailure.error(status, code, what()) }
    }

    /// Naks (redelivery after `delay`, at once when `nil`); best effort: a lost nak is redelivered after the ack wait.
    func nak(_ message: NatsMessage, delay: Duration?) {
        if let delay, delay > .zero {
            _ = natsMsg_NakWithDelay(message.pointer, delay.wholeMilliseconds, nil)
        } else {
            _ = natsMsg_Nak(message.pointer, nil)
        }
    }

    /// Tells JetStream the message is still being worked on: its ack wait starts again.
    func inProgress(_ message: NatsMessage) {
        _ = natsMsg_InProgress(message.pointer, nil)
    }
}

private func withOptionalCString<T>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> T) -> T {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}
