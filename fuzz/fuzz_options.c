/* Fuzz target: the runtime options decoder (vmu_runtime_options_decode, the
 * bytes of a containerd.runhcs.v1.Options message).
 *
 * Properties, beyond "no crash, no leak":
 *  - a failure leaves a message;
 *  - decoded strings are valid UTF-8 and annotations strictly sorted by key
 *    (each key once), as the header promises;
 *  - decode -> encode -> decode is stable: the second decode succeeds and
 *    gives the same options, and encoding those gives the same bytes again;
 *  - the protojson rendering of both decodes is the same text;
 *  - marshal (an Any) -> vmu_unmarshal_runtime_options_bytes gives the same
 *    options once more;
 *  - a decode that succeeds under a small memory budget gives what the full
 *    budget gives. */
#include <stdbool.h>

#include "fuzz_input.h"
#include "vmutils.h"

/* Go's definition of valid UTF-8 (no surrogates, no overlong forms, at most
 * U+10FFFF), written independently of the decoder's own check. */
static bool utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf)
            need = 1, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
            need = 2, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
            need = 3, cp = c & 0x07;
        else
            return false;
        if (n - i <= need)
            return false;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += need + 1;
    }
    return true;
}

static bool strings_equal(vmu_options_string a, vmu_options_string b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

static int compare_strings(vmu_options_string a, vmu_options_string b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.data, b.data, n) : 0;
    if (c)
        return c;
    return a.len < b.len ? -1 : a.len > b.len;
}

/* Walks the field table, so that a field added later is compared too. */
static const char *first_difference(const vmu_runtime_options *a, const vmu_runtime_options *b)
{
    for (size_t i = 0; i < vmu_option_field_count; i++) {
        const vmu_option_field *f = &vmu_option_fields[i];
        const char *pa = (const char *)a + f->offset;
        const char *pb = (const char *)b + f->offset;
        switch (f->kind) {
        case VMU_OPTION_BOOL:
            if (*(const bool *)pa != *(const bool *)pb)
                return f->name;
            break;
        case VMU_OPTION_INT32:
        case VMU_OPTION_DEBUG_TYPE:
        case VMU_OPTION_SANDBOX_ISOLATION:
            if (*(const int32_t *)pa != *(const int32_t *)pb)
                return f->name;
            break;
        case VMU_OPTION_STRING:
            if (!strings_equal(*(const vmu_options_string *)pa, *(const vmu_options_string *)pb))
                return f->name;
            break;
        case VMU_OPTION_OPTIONAL_BOOL:
            if (a->has_scrub_logs != b->has_scrub_logs || a->scrub_logs != b->scrub_logs)
                return f->name;
            break;
        case VMU_OPTION_ANNOTATIONS:
            if (a->annotation_count != b->annotation_count)
                return f->name;
            for (size_t k = 0; k < a->annotation_count; k++)
                if (!strings_equal(a->annotations[k].key, b->annotations[k].key) ||
                    !strings_equal(a->annotations[k].value, b->annotations[k].value))
                    return f->name;
            break;
        }
    }
    return NULL;
}

static void check_shape(const vmu_runtime_options *o)
{
    for (size_t i = 0; i < vmu_option_field_count; i++) {
        const vmu_option_field *f = &vmu_option_fields[i];
        if (f->kind != VMU_OPTION_STRING)
            continue;
        const vmu_options_string *s = (const vmu_options_string *)((const char *)o + f->offset);
        FUZZ_REQUIRE(s->len == 0 || s->data, "%s has a length but no data", f->name);
        FUZZ_REQUIRE(utf8_valid((const uint8_t *)s->data, s->len), "%s is not UTF-8", f->name);
    }
    FUZZ_REQUIRE(o->annotation_count == 0 || o->annotations, "annotations missing");
    for (size_t k = 0; k < o->annotation_count; k++) {
        const vmu_annotation *a = &o->annotations[k];
        FUZZ_REQUIRE(utf8_valid((const uint8_t *)a->key.data, a->key.len) &&
                         utf8_valid((const uint8_t *)a->value.data, a->value.len),
                     "annotation %zu is not UTF-8", k);
        if (k)
            FUZZ_REQUIRE(compare_strings(o->annotations[k - 1].key, a->key) < 0,
                         "annotations not strictly sorted at %zu", k);
    }
    FUZZ_REQUIRE(o->has_scrub_logs || !o->scrub_logs, "scrub_logs set without presence");
}

static void require_same_json(const vmu_runtime_options *a, const vmu_runtime_options *b)
{
    vmu_buf ja, jb;
    vmu_buf_init(&ja);
    vmu_buf_init(&jb);
    FUZZ_REQUIRE(vmu_runtime_options_format_json(a, &ja) == 0, "format_json failed");
    FUZZ_REQUIRE(vmu_runtime_options_format_json(b, &jb) == 0, "format_json failed");
    FUZZ_REQUIRE(ja.len == jb.len && (ja.len == 0 || memcmp(ja.data, jb.data, ja.len) == 0),
                 "JSON differs after a round trip");
    vmu_buf_free(&ja);
    vmu_buf_free(&jb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vmu_err err = {{0}};
    vmu_runtime_options *first = vmu_runtime_options_decode(data, size, &err);
    if (!first) {
        FUZZ_REQUIRE(err.msg[0] != '\0', "decode failed without a message");
        return 0;
    }
    check_shape(first);

    vmu_buf encoded;
    vmu_buf_init(&encoded);
    FUZZ_REQUIRE(vmu_runtime_options_encode(first, &encoded, &err) == 0,
                 "decoded options do not encode: %s", err.msg);
    vmu_runtime_options *second =
        vmu_runtime_options_decode((const uint8_t *)encoded.data, encoded.len, &err);
    FUZZ_REQUIRE(second, "encoded options do not decode: %s", err.msg);
    check_shape(second);
    const char *diff = first_difference(first, second);
    FUZZ_REQUIRE(!diff, "field %s changed in decode -> encode -> decode", diff);
    require_same_json(first, second);

    vmu_buf reencoded;
    vmu_buf_init(&reencoded);
    FUZZ_REQUIRE(vmu_runtime_options_encode(second, &reencoded, &err) == 0, "%s", err.msg);
    FUZZ_REQUIRE(reencoded.len == encoded.len &&
                     (encoded.len == 0 || memcmp(reencoded.data, encoded.data, encoded.len) == 0),
                 "encoding is not stable (%zu vs %zu bytes)", encoded.len, reencoded.len);

    vmu_buf any;
    vmu_buf_init(&any);
    FUZZ_REQUIRE(vmu_marshal_runtime_options(first, &any, &err) == 0, "marshal: %s", err.msg);
    vmu_logger *quiet = vmu_logger_new();
    FUZZ_REQUIRE(quiet, "no logger");
    vmu_logger_set_level(quiet, VMU_LEVEL_PANIC);
    vmu_runtime_options *third =
        vmu_unmarshal_runtime_options_bytes(quiet, (const uint8_t *)any.data, any.len, &err);
    FUZZ_REQUIRE(third, "marshalled Any does not unmarshal: %s", err.msg);
    diff = first_difference(first, third);
    FUZZ_REQUIRE(!diff, "field %s changed through an Any", diff);

    /* A tight budget may refuse; when it does not, it must not change the
     * result. */
    vmu_runtime_options *tight = vmu_runtime_options_decode_budget(data, size, 4096, &err);
    if (tight) {
        diff = first_difference(first, tight);
        FUZZ_REQUIRE(!diff, "field %s differs under a small budget", diff);
        vmu_runtime_options_free(tight);
    } else {
        FUZZ_REQUIRE(strstr(err.msg, "memory") != NULL,
                     "a small budget failed for another reason: %s", err.msg);
    }

    vmu_runtime_options_free(third);
    vmu_logger_free(quiet);
    vmu_buf_free(&any);
    vmu_buf_free(&reencoded);
    vmu_runtime_options_free(second);
    vmu_buf_free(&encoded);
    vmu_runtime_options_free(first);
    return 0;
}
