// Typed wrappers around the parts of libnats that Swift cannot call or can only call awkwardly: the
// nats_CheckCompatibility() macro, and stream and consumer configurations whose C string arrays and nested
// structures would otherwise need pointer juggling on the Swift side. Every function returns libnats's own status
// and, where JetStream answers, its error code in *errCode (0 when none).
#ifndef CNATSSHIM_H
#define CNATSSHIM_H

#include <stdbool.h>
#include <stdint.h>
#include <nats/nats.h>

/// Whether the libnats the process loaded is the one the headers describe (nats_CheckCompatibility()).
bool cnats_check_compatibility(void);

/// The settings of a stream with one subject filter (`subject`, wildcards allowed).
typedef struct cnats_stream_settings {
    const char *name;
    const char *subject;
    jsRetentionPolicy retention;
    jsDiscardPolicy discard;
    int64_t maxMsgs;            ///< -1 for no limit.
    int64_t maxBytes;           ///< -1 for no limit.
    int64_t maxAgeNanoseconds;  ///< 0 for no limit.
    int64_t maxMsgsPerSubject;  ///< -1 for no limit.
    int64_t duplicatesNanoseconds; ///< The Nats-Msg-Id duplicate window; 0 for the server's default (2 min).
    int64_t replicas;
    bool allowDirect;
} cnats_stream_settings;

/// Creates the stream, or updates it to `settings` when it exists with other settings (idempotent).
natsStatus cnats_ensure_stream(jsCtx *js, const cnats_stream_settings *settings, jsErrCode *errCode);

/// The settings of a durable pull consumer with explicit acks on one filter subject.
typedef struct cnats_consumer_settings {
    const char *stream;
    const char *durable;
    const char *filterSubject;
    int64_t ackWaitNanoseconds;
    int64_t maxAckPending;
    int64_t maxDeliver;         ///< -1 for no limit.
    int64_t replicas;           ///< 0 for the stream's.
} cnats_consumer_settings;

/// Creates the durable consumer, or updates its ack wait and max ack pending when they differ (idempotent).
natsStatus cnats_ensure_consumer(jsCtx *js, const cnats_consumer_settings *settings, jsErrCode *errCode);

/// Binds a pull subscription to an existing durable consumer of `stream` (no consumer is created).
natsStatus cnats_bind_pull(natsSubscription **sub, jsCtx *js, const char *stream, const char *durable,
                           const char *filterSubject, jsErrCode *errCode);

/// The text of the last error on this thread (libnats keeps one per thread), or "" when none.
const char *cnats_last_error(void);

#endif
