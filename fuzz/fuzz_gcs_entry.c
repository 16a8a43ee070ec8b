/* Fuzz target: the GCS entry decoder (vmu_gcs_decode_entry, json.Unmarshal
 * of one GCSLogEntry). The input is the entry's JSON.
 *
 * Properties:
 *  - a failure has Go's error text, and err holds its beginning;
 *  - a decoded entry obeys the entry rules: its level is error or less
 *    severe (panic and fatal are clamped), its time is a valid instant,
 *    no field is named exactly "time", "level" or "msg", field keys are
 *    unique, every string (message, keys, values, nested ones too) is valid
 *    UTF-8, and no top-level number is a float64 with an int64 value;
 *  - the entry decoder and the stream decoder agree: a decoded entry is the
 *    one record the stream decoder forwards for the same bytes (with uvm-id
 *    and vm.time added), and an entry that is valid JSON but fails to
 *    decode is one "gcs log read" record with the same error. */
#include <math.h>

#include "gcs_records.h"

static const char vm_id[] = "fuzz-vm";

static bool utf8_valid(const char *p, size_t n)
{
    const uint8_t *s = (const uint8_t *)p;
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t need;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            need = 1, cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2, cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3, cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i <= need)
            return false;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += need + 1;
    }
    return true;
}

static void require_utf8_value(const vmu_value *v, int depth)
{
    FUZZ_REQUIRE(depth <= 10001, "nested deeper than encoding/json allows");
    switch (v->kind) {
    case VMU_VALUE_STRING:
        FUZZ_REQUIRE(utf8_valid(v->as.str.ptr, v->as.str.len), "a string is not UTF-8");
        break;
    case VMU_VALUE_ARRAY:
        for (size_t i = 0; i < v->as.array.count; i++)
            require_utf8_value(&v->as.array.items[i], depth + 1);
        break;
    case VMU_VALUE_OBJECT:
        for (size_t i = 0; i < v->as.object.count; i++) {
            const vmu_field *m = &v->as.object.members[i];
            FUZZ_REQUIRE(utf8_valid(m->key, m->key_len), "a nested key is not UTF-8");
            require_utf8_value(&m->value, depth + 1);
        }
        break;
    default:
        break;
    }
}

static bool named(const vmu_field *f, const char *name)
{
    return f->key_len == strlen(name) && memcmp(f->key, name, f->key_len) == 0;
}

static void check_entry(const vmu_gcs_entry *e)
{
    FUZZ_REQUIRE(e->level >= VMU_LEVEL_ERROR && e->level <= VMU_LEVEL_TRACE, "level %d",
                 (int)e->level);
    FUZZ_REQUIRE(e->time.nsec >= 0 && e->time.nsec < 1000000000, "nsec %d", (int)e->time.nsec);
    FUZZ_REQUIRE(utf8_valid(e->msg, e->msg_len), "the message is not UTF-8");
    FUZZ_REQUIRE(e->field_count == 0 || e->fields, "fields missing");
    for (size_t i = 0; i < e->field_count; i++) {
        const vmu_field *f = &e->fields[i];
        FUZZ_REQUIRE(!named(f, "time") && !named(f, "level") && !named(f, "msg"),
                     "a standard key stayed among the fields");
        FUZZ_REQUIRE(utf8_valid(f->key, f->key_len), "a key is not UTF-8");
        for (size_t j = 0; j < i; j++)
            FUZZ_REQUIRE(f->key_len != e->fields[j].key_len ||
                             memcmp(f->key, e->fields[j].key, f->key_len) != 0,
                         "key %.*s repeats", (int)f->key_len, f->key);
        require_utf8_value(&f->value, 1);
        if (f->value.kind == VMU_VALUE_FLOAT) {
            double d = f->value.as.f;
            FUZZ_REQUIRE(!(d >= -9223372036854775808.0 && d < 9223372036854775808.0 && d == trunc(d)),
                         "top-level whole float %.17g was not made an integer", d);
        }
    }
}

static bool syntax_error_text(const char *error, size_t len)
{
    static const char *const starts[] = {"invalid character", "unexpected end of JSON input"};
    for (size_t i = 0; i < 2; i++)
        if (len >= strlen(starts[i]) && memcmp(error, starts[i], strlen(starts[i])) == 0)
            return true;
    return false;
}

static vmu_logger *logger;
static record_log stream, expected;

/* Everything kept between inputs is released at exit, so that a replay
 * under valgrind or LeakSanitizer shows no leak of the target's own. */
static void release(void)
{
    vmu_logger_free(logger);
    record_log_free(&stream);
    record_log_free(&expected);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!logger) {
        logger = vmu_logger_new();
        FUZZ_REQUIRE(logger, "logger");
        atexit(release);
        vmu_logger_set_level(logger, VMU_LEVEL_TRACE);
        vmu_logger_set_sink(logger, keep_record, &stream);
    }
    vmu_gcs_entry entry;
    vmu_err err = {{0}};
    int rc = vmu_gcs_decode_entry((const char *)data, size, &entry, &err);
    FUZZ_REQUIRE(rc == 0 || rc == -1, "status %d", rc);

    FUZZ_REQUIRE(vmu_gcs_decode_stream(vm_id, data, size, NULL, logger, NULL) == 0, "stream failed");
    if (rc == 0) {
        check_entry(&entry);
        vmu_field *fields = malloc((entry.field_count + 2) * sizeof *fields);
        FUZZ_REQUIRE(fields, "malloc");
        if (entry.field_count)
            memcpy(fields, entry.fields, entry.field_count * sizeof *fields);
        fields[entry.field_count] = vmu_field_strn("uvm-id", vm_id, sizeof vm_id - 1);
        vmu_field *t = &fields[entry.field_count + 1];
        t->key = "vm.time";
        t->key_len = 7;
        t->value.kind = VMU_VALUE_TIME;
        t->value.as.time = entry.time;
        vmu_log_record want = {vmu_time_now(), entry.level, entry.msg,   entry.msg_len,
                               fields,         entry.field_count + 2};
        keep_record(&expected, &want);
        free(fields);
        FUZZ_REQUIRE(first_different_record(&expected, &stream) == SIZE_MAX,
                     "the stream decoder logged %zu records, not this entry", stream.count);
    } else {
        FUZZ_REQUIRE(entry.error && entry.error_len > 0, "a failure without its error");
        size_t shown = strlen(err.msg);
        FUZZ_REQUIRE(shown > 0 && shown <= entry.error_len && memcmp(err.msg, entry.error, shown) == 0,
                     "err '%s' is not the error's beginning", err.msg);
        if (!syntax_error_text(entry.error, entry.error_len)) {
            /* Valid JSON (Unmarshal checks that first) that did not decode. */
            FUZZ_REQUIRE(stream.count == 1 && strcmp(stream.items[0].msg, "gcs log read") == 0,
                         "stream: %zu records for an entry that fails with %.*s", stream.count,
                         (int)entry.error_len, entry.error);
            const kept_record *k = &stream.items[0];
            FUZZ_REQUIRE(k->error && k->error_len == entry.error_len &&
                             memcmp(k->error, entry.error, entry.error_len) == 0,
                         "the stream's error differs from %.*s", (int)entry.error_len, entry.error);
        }
    }
    vmu_gcs_entry_free(&entry);
    record_log_clear(&stream);
    record_log_clear(&expected);
    return 0;
}
