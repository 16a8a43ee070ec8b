/* Test helper (header-only): a logger whose sink keeps copies of the
 * records, so a test can check a warning's message and fields exactly.
 * Values are kept as text: strings as they are, integers in decimal. */
#ifndef VMUTILS_TEST_LOG_CAPTURE_H
#define VMUTILS_TEST_LOG_CAPTURE_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmutils.h"

#define CAPTURE_MAX_RECORDS 8
#define CAPTURE_MAX_FIELDS 8

typedef struct captured_field {
    char key[64];
    vmu_value_kind kind;
    char *text;
    size_t text_len;
} captured_field;

typedef struct captured_record {
    vmu_log_level level;
    char *msg;
    size_t field_count;
    captured_field fields[CAPTURE_MAX_FIELDS];
} captured_record;

typedef struct log_capture {
    vmu_logger *logger;
    size_t count;   /* records kept */
    size_t dropped; /* records past CAPTURE_MAX_RECORDS */
    captured_record records[CAPTURE_MAX_RECORDS];
} log_capture;

/* Test memory: plain malloc, so allocation-failure injection in the core
 * does not reach the capture. */
static inline char *capture_dup(const char *s, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy)
        abort();
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

static inline void capture_sink(void *user, const vmu_log_record *record)
{
    log_capture *cap = user;
    if (cap->count == CAPTURE_MAX_RECORDS) {
        cap->dropped++;
        return;
    }
    captured_record *r = &cap->records[cap->count++];
    r->level = record->level;
    r->msg = capture_dup(record->msg, record->msg_len);
    r->field_count = record->field_count < CAPTURE_MAX_FIELDS ? record->field_count
                                                              : CAPTURE_MAX_FIELDS;
    for (size_t i = 0; i < r->field_count; i++) {
        const vmu_field *f = &record->fields[i];
        captured_field *c = &r->fields[i];
        snprintf(c->key, sizeof c->key, "%.*s", (int)f->key_len, f->key);
        c->kind = f->value.kind;
        char number[32];
        switch (f->value.kind) {
        case VMU_VALUE_STRING:
            c->text = capture_dup(f->value.as.str.ptr, f->value.as.str.len);
            c->text_len = f->value.as.str.len;
            break;
        case VMU_VALUE_INT:
            snprintf(number, sizeof number, "%" PRId64, f->value.as.i);
            c->text = capture_dup(number, strlen(number));
            c->text_len = strlen(number);
            break;
        case VMU_VALUE_UINT:
            snprintf(number, sizeof number, "%" PRIu64, f->value.as.u);
            c->text = capture_dup(number, strlen(number));
            c->text_len = strlen(number);
            break;
        default:
            c->text = capture_dup("?", 1);
            c->text_len = 1;
            break;
        }
    }
}

/* A fresh logger at `level` that captures into `cap`. */
static inline void capture_start(log_capture *cap, vmu_log_level level)
{
    memset(cap, 0, sizeof *cap);
    cap->logger = vmu_logger_new();
    if (!cap->logger)
        abort();
    vmu_logger_set_level(cap->logger, level);
    vmu_logger_set_sink(cap->logger, capture_sink, cap);
}

static inline void capture_clear(log_capture *cap)
{
    for (size_t i = 0; i < cap->count; i++) {
        free(cap->records[i].msg);
        for (size_t j = 0; j < cap->records[i].field_count; j++)
            free(cap->records[i].fields[j].text);
    }
    cap->count = 0;
    cap->dropped = 0;
}

static inline void capture_stop(log_capture *cap)
{
    capture_clear(cap);
    vmu_logger_free(cap->logger);
    cap->logger = NULL;
}

/* The field `key` of record `r`, or NULL. */
static inline const captured_field *capture_field(const captured_record *r, const char *key)
{
    for (size_t i = 0; i < r->field_count; i++)
        if (strcmp(r->fields[i].key, key) == 0)
            return &r->fields[i];
    return NULL;
}

#endif
