/*
 * record_json.c - a record as one JSON object (jsonl, kafka, webhooks).
 *
 * {"type":"measurement","name":"http","timestamp":"2026-11-22T12:00:00.123Z",
 *  "ts_ns":...,"tags":{...},"fields":{...}}
 * Events add "kind", "severity", "message", "dedup_key" and, when there is
 * one, the "measurement" that caused them.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include <outpost/record.h>

static json_t *
timestamp_json(int64_t ts_ns)
{
    time_t secs = (time_t) (ts_ns / 1000000000LL);
    int ms = (int) ((ts_ns / 1000000LL) % 1000);
    struct tm tm;
    char buf[80];

    gmtime_r(&secs, &tm);
    snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, ms);
    return json_string(buf);
}

static json_t *
field_json(const outpost_field_t *f)
{
    switch (f->type) {
    case OUTPOST_FIELD_INT:    return json_integer(f->v.i);
    case OUTPOST_FIELD_FLOAT:  return json_real(f->v.f);
    case OUTPOST_FIELD_BOOL:   return json_boolean(f->v.b);
    case OUTPOST_FIELD_STRING: return json_string(f->v.s);
    default:                   return json_null();
    }
}

static json_t *
record_json(const outpost_record_t *rec)
{
    json_t *o = json_object(), *tags = json_object(), *fields = json_object();
    size_t ntags = outpost_tagset_count(rec->tags);

    json_object_set_new(o, "type", json_string(
        rec->kind == OUTPOST_EVENT ? "event" : "measurement"));
    json_object_set_new(o, "name", json_string(rec->name));
    json_object_set_new(o, "timestamp", timestamp_json(rec->ts_ns));
    json_object_set_new(o, "ts_ns", json_integer(rec->ts_ns));
    if (rec->kind == OUTPOST_EVENT && rec->event) {
        const char *integ = outpost_record_tag(rec, "integration");

        json_object_set_new(o, "kind", json_string(
            outpost_event_kind_name(rec->event_kind)));
        json_object_set_new(o, "severity", json_string(
            outpost_severity_name(rec->severity)));
        json_object_set_new(o, "integration",
                            integ ? json_string(integ) : json_null());
        json_object_set_new(o, "message", json_string(rec->event->message));
        json_object_set_new(o, "dedup_key",
                            json_string(rec->event->dedup_key));
    }
    for (size_t i = 0; i < ntags; i++) {
        const outpost_tag_t *t = outpost_tagset_at(rec->tags, i);
        json_object_set_new(tags, t->key, json_string(t->value));
    }
    for (uint16_t i = 0; i < rec->nfields; i++)
        json_object_set_new(fields, rec->fields[i].key,
                            field_json(&rec->fields[i]));
    json_object_set_new(o, "tags", tags);
    json_object_set_new(o, "fields", fields);
    if (rec->kind == OUTPOST_EVENT && rec->event && rec->event->cause)
        json_object_set_new(o, "measurement", record_json(rec->event->cause));
    return o;
}

int
outpost_record_to_json(const outpost_record_t *rec, char **out, size_t *len)
{
    json_t *o = record_json(rec);
    char *s;

    if (o == NULL)
        return -1;
    s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER
                   | JSON_REAL_PRECISION(10));
    json_decref(o);
    if (s == NULL)
        return -1;
    *out = s;
    if (len)
        *len = strlen(s);
    return 0;
}
