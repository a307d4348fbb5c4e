#include "CNatsShim.h"

#include <string.h>

bool cnats_check_compatibility(void) {
    return nats_CheckCompatibility();
}

const char *cnats_last_error(void) {
    natsStatus status = NATS_OK;
    const char *text = nats_GetLastError(&status);
    return text == NULL ? "" : text;
}

static void cnats_stream_config(jsStreamConfig *config, const cnats_stream_settings *settings, const char **subjects) {
    jsStreamConfig_Init(config);
    subjects[0] = settings->subject;
    config->Name = settings->name;
    config->Subjects = subjects;
    config->SubjectsLen = 1;
    config->Retention = settings->retention;
    config->Discard = settings->discard;
    config->MaxMsgs = settings->maxMsgs;
    config->MaxBytes = settings->maxBytes;
    config->MaxAge = settings->maxAgeNanoseconds;
    config->MaxMsgsPerSubject = settings->maxMsgsPerSubject;
    config->Duplicates = settings->duplicatesNanoseconds;
    config->Replicas = settings->replicas;
    config->Storage = js_FileStorage;
    config->AllowDirect = settings->allowDirect;
}

static bool cnats_stream_differs(const jsStreamConfig *have, const jsStreamConfig *want) {
    if (have == NULL) return true;
    if (have->SubjectsLen != 1 || have->Subjects == NULL || have->Subjects[0] == NULL
        || strcmp(have->Subjects[0], want->Subjects[0]) != 0) {
        return true;
    }
    return have->Retention != want->Retention || have->Discard != want->Discard || have->MaxMsgs != want->MaxMsgs
        || have->MaxBytes != want->MaxBytes || have->MaxAge != want->MaxAge
        || have->MaxMsgsPerSubject != want->MaxMsgsPerSubject
        || (want->Duplicates != 0 && have->Duplicates != want->Duplicates) || have->Replicas != want->Replicas
        || have->AllowDirect != want->AllowDirect;
}

natsStatus cnats_ensure_stream(jsCtx *js, const cnats_stream_settings *settings, jsErrCode *errCode) {
    jsStreamConfig config;
    const char *subjects[1];
    jsStreamInfo *info = NULL;
    natsStatus status;

    *errCode = 0;
    cnats_stream_config(&config, settings, subjects);
    status = js_GetStreamInfo(&info, js, settings->name, NULL, errCode);
    if (status == NATS_NOT_FOUND) {
        *errCode = 0;
        status = js_AddStream(&info, js, &config, NULL, errCode);
        if (status == NATS_OK || *errCode != JSStreamNameExistErr) {
            jsStreamInfo_Destroy(info);
            return status;
        }
        // Another relay created it at the same moment, with other settings: update it below.
        *errCode = 0;
        status = js_GetStreamInfo(&info, js, settings->name, NULL, errCode);
    }
    if (status != NATS_OK) return status;
    if (cnats_stream_differs(info->Config, &config)) {
        jsStreamInfo *updated = NULL;
        status = js_UpdateStream(&updated, js, &config, NULL, errCode);
        jsStreamInfo_Destroy(updated);
    }
    jsStreamInfo_Destroy(info);
    return status;
}

natsStatus cnats_ensure_consumer(jsCtx *js, const cnats_consumer_settings *settings, jsErrCode *errCode) {
    jsConsumerConfig config;
    jsConsumerInfo *info = NULL;
    natsStatus status;

    *errCode = 0;
    jsConsumerConfig_Init(&config);
    config.Durable = settings->durable;
    config.FilterSubject = settings->filterSubject;
    config.AckPolicy = js_AckExplicit;
    config.DeliverPolicy = js_DeliverAll;
    config.AckWait = settings->ackWaitNanoseconds;
    config.MaxAckPending = settings->maxAckPending;
    config.MaxDeliver = settings->maxDeliver;
    config.Replicas = settings->replicas;

    status = js_GetConsumerInfo(&info, js, settings->stream, settings->durable, NULL, errCode);
    if (status == NATS_NOT_FOUND) {
        *errCode = 0;
        status = js_AddConsumer(&info, js, settings->stream, &config, NULL, errCode);
        jsConsumerInfo_Destroy(info);
        return status;
    }
    if (status != NATS_OK) return status;
    if (info->Config == NULL || info->Config->AckWait != config.AckWait
        || info->Config->MaxAckPending != config.MaxAckPending || info->Config->MaxDeliver != config.MaxDeliver) {
        jsConsumerInfo *updated = NULL;
        status = js_UpdateConsumer(&updated, js, settings->stream, &config, NULL, errCode);
        jsConsumerInfo_Destroy(updated);
    }
    jsConsumerInfo_Destroy(info);
    return status;
}

natsStatus cnats_bind_pull(natsSubscription **sub, jsCtx *js, const char *stream, const char *durable,
                           const char *filterSubject, jsErrCode *errCode) {
    jsSubOptions options;
    jsSubOptions_Init(&options);
    options.Stream = stream;
    options.Consumer = durable;
    options.ManualAck = true;
    return js_PullSubscribe(sub, js, filterSubject, durable, NULL, &options, errCode);
}
