/* Runtime options: decoding Options bytes under Go's protobuf rules (proto3
 * defaults, open enums, unknown and mistyped fields skipped, last value
 * wins, UTF-8), the Any wrapper and its type URLs, Go's error texts, hostile
 * input under the memory budget, allocation failures, the encoder's round
 * trip and bytes, the protojson rendering and the debug record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../core/test_hooks.h"
#include "log_capture.h"
#include "runhcs_options.pb-c.h"
#include "vmutils.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define ROW_TEST(fn, row) {(row).name, fn, NULL, NULL, (void *)&(row)}
#define WIRE_ERROR "proto: cannot parse invalid wire-format data"
#define UTF8_ERROR "string field contains invalid UTF-8"

/* ---- helpers ------------------------------------------------------------- */

typedef struct bytes {
    uint8_t *data;
    size_t len;
} bytes;

/* "0a 01 ff" -> bytes (spaces ignored); test memory, plain malloc. */
static bytes from_hex(const char *hex)
{
    bytes b = {malloc(strlen(hex) / 2 + 1), 0};
    assert_non_null(b.data);
    for (const char *p = hex; *p;) {
        if (*p == ' ') {
            p++;
            continue;
        }
        unsigned v;
        assert_int_equal(sscanf(p, "%2x", &v), 1);
        b.data[b.len++] = (uint8_t)v;
        p += 2;
    }
    return b;
}

static char *to_hex(const char *data, size_t len)
{
    char *out = malloc(len * 2 + 1);
    assert_non_null(out);
    for (size_t i = 0; i < len; i++)
        sprintf(out + 2 * i, "%02x", (unsigned char)data[i]);
    out[len * 2] = '\0';
    return out;
}

static void assert_string_is(vmu_options_string s, const char *want, size_t want_len)
{
    assert_int_equal(s.len, want_len);
    if (want_len)
        assert_memory_equal(s.data, want, want_len);
}

#define ASSERT_TEXT(s, literal) assert_string_is((s), (literal), sizeof(literal) - 1)

static char *json_of(const vmu_runtime_options *o)
{
    vmu_buf b;
    vmu_buf_init(&b);
    assert_int_equal(vmu_runtime_options_format_json(o, &b), 0);
    char *s = malloc(b.len + 1);
    assert_non_null(s);
    memcpy(s, b.data, b.len);
    s[b.len] = '\0';
    vmu_buf_free(&b);
    return s;
}

static vmu_runtime_options *decode_hex(const char *hex, vmu_err *err)
{
    bytes b = from_hex(hex);
    vmu_runtime_options *o = vmu_runtime_options_decode(b.data, b.len, err);
    free(b.data);
    return o;
}

/* ---- the field table agrees with the generated descriptor --------------- */

static void test_field_table_matches_proto(void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *desc = &containerd__runhcs__v1__options__descriptor;
    assert_int_equal(vmu_option_field_count, desc->n_fields);
    for (size_t i = 0; i < vmu_option_field_count; i++) {
        const vmu_option_field *f = &vmu_option_fields[i];
        const ProtobufCFieldDescriptor *pf = protobuf_c_message_descriptor_get_field(desc, f->number);
        assert_non_null(pf);
        assert_string_equal(pf->name, f->name);
        if (i > 0)
            assert_true(vmu_option_fields[i - 1].number < f->number);
    }
}

static void test_enum_names(void **state)
{
    (void)state;
    assert_string_equal(vmu_option_enum_name(VMU_OPTION_DEBUG_TYPE, 0), "NPIPE");
    assert_string_equal(vmu_option_enum_name(VMU_OPTION_DEBUG_TYPE, 1), "FILE");
    assert_string_equal(vmu_option_enum_name(VMU_OPTION_DEBUG_TYPE, 2), "ETW");
    assert_null(vmu_option_enum_name(VMU_OPTION_DEBUG_TYPE, 3));
    assert_null(vmu_option_enum_name(VMU_OPTION_DEBUG_TYPE, -1));
    assert_string_equal(vmu_option_enum_name(VMU_OPTION_SANDBOX_ISOLATION, 0), "PROCESS");
    assert_string_equal(vmu_option_enum_name(VMU_OPTION_SANDBOX_ISOLATION, 1), "HYPERVISOR");
    assert_null(vmu_option_enum_name(VMU_OPTION_BOOL, 0));
    int32_t v = -1;
    assert_int_equal(vmu_option_enum_value(VMU_OPTION_DEBUG_TYPE, "ETW", 3, &v), 0);
    assert_int_equal(v, 2);
    assert_int_equal(vmu_option_enum_value(VMU_OPTION_SANDBOX_ISOLATION, "HYPERVISOR", 10, &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(vmu_option_enum_value(VMU_OPTION_DEBUG_TYPE, "etw", 3, &v), -1);
    assert_int_equal(vmu_option_enum_value(VMU_OPTION_DEBUG_TYPE, "ETWX", 4, &v), -1);
    assert_int_equal(vmu_option_enum_value(VMU_OPTION_DEBUG_TYPE, "HYPERVISOR", 10, &v), -1);
}

/* ---- decoding: one row per wire feature --------------------------------- */

typedef struct decode_case {
    const char *name;
    const char *hex;
    const char *json; /* the decoded options as protojson */
} decode_case;

static const decode_case decode_cases[] = {
    {"decode: empty message is all defaults", "", "{}"},
    {"decode: bools", "08 01 58 01 70 01 98 01 01",
     "{\"debug\":true,\"scale_cpu_limits_to_sandbox\":true,\"share_scratch\":true,"
     "\"no_inherit_host_timezone\":true}"},
    {"decode: bool from a long varint", "08 80 01", "{\"debug\":true}"},
    {"decode: enums by name", "10 02 30 01", "{\"debug_type\":\"ETW\",\"sandbox_isolation\":\"HYPERVISOR\"}"},
    {"decode: unknown enum numbers stay numbers", "10 07 30 ff ff ff ff ff ff ff ff ff 01",
     "{\"debug_type\":7,\"sandbox_isolation\":-1}"},
    {"decode: every string", "1a 01 61 22 01 62 2a 0b 6c 69 6e 75 78 2f 61 6d 64 36 34 3a 01 63 52 01 64 7a 01 65 82 01 05 64 65 62 75 67",
     "{\"registry_root\":\"a\",\"sandbox_image\":\"b\",\"sandbox_platform\":\"linux/amd64\","
     "\"boot_files_root_path\":\"c\",\"GPUVHDPath\":\"d\",\"NCProxyAddr\":\"e\",\"log_level\":\"debug\"}"},
    {"decode: int32 fields", "40 02 48 80 08 60 14 68 0a 88 01 1e",
     "{\"vm_processor_count\":2,\"vm_memory_size_in_mb\":1024,"
     "\"default_container_scratch_size_in_gb\":20,\"default_vm_scratch_size_in_gb\":10,"
     "\"io_retry_timeout_in_sec\":30}"},
    {"decode: negative int32 from a 10-byte varint", "40 fe ff ff ff ff ff ff ff ff 01",
     "{\"vm_processor_count\":-2}"},
    {"decode: int32 keeps the low 32 bits of a wider varint", "40 ff ff ff ff 0f 48 80 80 80 80 10",
     "{\"vm_processor_count\":-1}"},
    {"decode: INT32_MIN", "48 80 80 80 80 f8 ff ff ff ff 01", "{\"vm_memory_size_in_mb\":-2147483648}"},
    {"decode: scrub_logs false is present", "a0 01 00", "{\"scrub_logs\":false}"},
    {"decode: scrub_logs true", "a0 01 01", "{\"scrub_logs\":true}"},
    {"decode: last value of a field wins", "10 01 10 02 1a 01 61 1a 01 62", "{\"debug_type\":\"ETW\",\"registry_root\":\"b\"}"},
    {"decode: unknown fields of every wire type are skipped",
     "f8 06 05 82 07 03 61 62 63 8d 07 01 02 03 04 91 07 01 02 03 04 05 06 07 08 08 01",
     "{\"debug\":true}"},
    {"decode: a known field with another wire type is skipped as unknown",
     "0a 01 01 18 05 45 01 00 00 00 90 01 05", "{}"},
    {"decode: mistyped field then the real one", "0d 01 00 00 00 08 01", "{\"debug\":true}"},
    {"decode: highest field number is unknown, not an error", "f8 ff ff ff 0f 01", "{}"},
    {"decode: annotations sorted, last duplicate wins",
     "92 01 06 0a 01 62 12 01 32 92 01 06 0a 01 61 12 01 31 92 01 06 0a 01 62 12 01 33",
     "{\"default_container_annotations\":{\"a\":\"1\",\"b\":\"3\"}}"},
    {"decode: annotation entries missing key or value", "92 01 03 12 01 76 92 01 03 0a 01 6b 92 01 00",
     "{\"default_container_annotations\":{\"\":\"\",\"k\":\"\"}}"},
    {"decode: annotation entry with unknown fields", "92 01 08 18 05 0a 01 6b 12 01 76",
     "{\"default_container_annotations\":{\"k\":\"v\"}}"},
    {"decode: strings keep NUL bytes and UTF-8", "1a 03 61 00 62 22 04 e2 82 ac 7f",
     "{\"registry_root\":\"a\\u0000b\",\"sandbox_image\":\"\xe2\x82\xac\x7f\"}"},
};

static void test_decode(void **state)
{
    const decode_case *c = *state;
    vmu_err err = {{0}};
    vmu_runtime_options *o = decode_hex(c->hex, &err);
    if (!o)
        fail_msg("%s: %s", c->name, err.msg);
    char *json = json_of(o);
    assert_string_equal(json, c->json);
    free(json);
    vmu_runtime_options_free(o);
}

static void test_decode_fields_exactly(void **state)
{
    (void)state;
    vmu_err err;
    vmu_runtime_options *o = decode_hex(
        "08 01 10 01 1a 03 72 00 74 40 fb ff ff ff ff ff ff ff ff 01 92 01 06 0a 01 62 12 01 32 "
        "92 01 06 0a 01 61 12 01 31 a0 01 00",
        &err);
    assert_non_null(o);
    assert_true(o->debug);
    assert_int_equal(o->debug_type, VMU_DEBUG_TYPE_FILE);
    assert_string_is(o->registry_root, "r\0t", 3);
    assert_int_equal(o->vm_processor_count, -5);
    assert_int_equal(o->annotation_count, 2);
    ASSERT_TEXT(o->annotations[0].key, "a");
    ASSERT_TEXT(o->annotations[0].value, "1");
    ASSERT_TEXT(o->annotations[1].key, "b");
    ASSERT_TEXT(o->annotations[1].value, "2");
    assert_true(o->has_scrub_logs);
    assert_false(o->scrub_logs);
    assert_int_equal(o->sandbox_image.len, 0);
    assert_null(o->sandbox_image.data);
    vmu_runtime_options_free(o);
}

/* ---- decoding errors -------------------------------------------------- */

typedef struct error_case {
    const char *name;
    const char *hex;
    const char *error;
} error_case;

static const error_case error_cases[] = {
    {"error: truncated varint", "08", WIRE_ERROR},
    {"error: unterminated varint", "08 ff ff", WIRE_ERROR},
    {"error: varint longer than 10 bytes", "08 ff ff ff ff ff ff ff ff ff ff 01", WIRE_ERROR},
    {"error: 10-byte varint past 64 bits", "40 ff ff ff ff ff ff ff ff ff 02", WIRE_ERROR},
    {"error: unknown varint past 64 bits", "f8 06 80 80 80 80 80 80 80 80 80 7f", WIRE_ERROR},
    {"error: string shorter than its length", "1a 05 61 62", WIRE_ERROR},
    {"error: length prefix without data", "1a", WIRE_ERROR},
    {"error: huge length prefix", "1a ff ff ff ff 0f 61", WIRE_ERROR},
    {"error: 2 GiB length prefix", "1a 80 80 80 80 08 61", WIRE_ERROR},
    {"error: truncated fixed32", "8d 07 01 02", WIRE_ERROR},
    {"error: truncated fixed64", "91 07 01 02 03", WIRE_ERROR},
    {"error: field number 0", "00 01", WIRE_ERROR},
    {"error: field number past 2^29-1", "80 80 80 80 10 01", WIRE_ERROR},
    {"error: wire type 6", "0e 01", WIRE_ERROR},
    {"error: wire type 7", "0f", WIRE_ERROR},
    {"error: a group (protobuf-c has no groups)", "fb 06 fc 06", WIRE_ERROR},
    {"error: stray end of group", "0c", WIRE_ERROR},
    {"error: truncated map entry", "92 01 04 0a 05 61 62", WIRE_ERROR},
    {"error: map entry shorter than declared", "92 01 06 0a 01 61", WIRE_ERROR},
    {"error: invalid UTF-8 in a string", "1a 02 c3 28", UTF8_ERROR},
    {"error: overlong UTF-8", "7a 02 c0 80", UTF8_ERROR},
    {"error: UTF-8 surrogate", "82 01 03 ed a0 80", UTF8_ERROR},
    {"error: UTF-8 past U+10FFFF", "3a 04 f4 90 80 80", UTF8_ERROR},
    {"error: invalid UTF-8 in an annotation key", "92 01 05 0a 01 ff 12 00", UTF8_ERROR},
    {"error: invalid UTF-8 in an annotation value", "92 01 04 12 02 e2 82", UTF8_ERROR},
};

static void test_decode_error(void **state)
{
    const error_case *c = *state;
    vmu_err err = {{0}};
    vmu_runtime_options *o = decode_hex(c->hex, &err);
    if (o) {
        char *json = json_of(o);
        vmu_runtime_options_free(o);
        fail_msg("%s: decoded to %s", c->name, json);
    }
    assert_string_equal(err.msg, c->error);
}

static void test_deeply_nested_groups(void **state)
{
    (void)state;
    /* 100000 nested starts of group 127 (tag bytes fb 07), then their ends
     * (fc 07): Go would give up past its recursion limit; protobuf-c refuses
     * the first group. Either way: an error, no recursion, no crash. */
    size_t depth = 100000;
    uint8_t *data = malloc(depth * 4);
    assert_non_null(data);
    for (size_t i = 0; i < depth; i++) {
        data[2 * i] = 0xfb;
        data[2 * i + 1] = 0x07;
        data[2 * depth + 2 * i] = 0xfc;
        data[2 * depth + 2 * i + 1] = 0x07;
    }
    vmu_err err;
    assert_null(vmu_runtime_options_decode(data, depth * 4, &err));
    assert_string_equal(err.msg, WIRE_ERROR);
    free(data);
}

/* Map entries of 3 bytes each (an empty entry): millions of them need far
 * more memory than the input, which the budget refuses. */
static void test_budget_refuses_many_tiny_entries(void **state)
{
    (void)state;
    size_t entries = 400000;
    uint8_t *data = malloc(entries * 3);
    assert_non_null(data);
    for (size_t i = 0; i < entries; i++) {
        data[3 * i] = 0x92;
        data[3 * i + 1] = 0x01;
        data[3 * i + 2] = 0x00;
    }
    vmu_err err;
    assert_null(vmu_runtime_options_decode_budget(data, entries * 3, 4u << 20, &err));
    assert_string_equal(err.msg, "decoding needs more than the 4194304 bytes of memory allowed");
    /* The default budget takes them all, as one empty key. */
    vmu_runtime_options *o = vmu_runtime_options_decode(data, entries * 3, &err);
    assert_non_null(o);
    assert_int_equal(o->annotation_count, 1);
    vmu_runtime_options_free(o);
    free(data);
}

static void test_budget_refuses_input_larger_than_budget(void **state)
{
    (void)state;
    bytes b = from_hex("1a 05 61 62 63 64 65");
    vmu_err err;
    assert_null(vmu_runtime_options_decode_budget(b.data, b.len, 4, &err));
    assert_string_equal(err.msg, "decoding needs more than the 4 bytes of memory allowed");
    free(b.data);
}

/* One large value: decodes within the default budget. */
static void test_large_annotation_value(void **state)
{
    (void)state;
    size_t value_len = 8u << 20;
    size_t len = 2 + 5 + 3 + 1 + 5 + value_len;
    uint8_t *data = malloc(len);
    assert_non_null(data);
    size_t entry_len = 3 + 1 + 5 + value_len;
    uint8_t *p = data;
    *p++ = 0x92;
    *p++ = 0x01;
    for (size_t v = entry_len, i = 0; i < 5; i++, v >>= 7)
        *p++ = (uint8_t)((v & 0x7f) | (i < 4 ? 0x80 : 0));
    *p++ = 0x0a;
    *p++ = 0x01;
    *p++ = 'k';
    *p++ = 0x12;
    for (size_t v = value_len, i = 0; i < 5; i++, v >>= 7)
        *p++ = (uint8_t)((v & 0x7f) | (i < 4 ? 0x80 : 0));
    memset(p, 'x', value_len);
    vmu_err err;
    vmu_runtime_options *o = vmu_runtime_options_decode(data, len, &err);
    if (!o)
        fail_msg("%s", err.msg);
    assert_int_equal(o->annotation_count, 1);
    assert_int_equal(o->annotations[0].value.len, value_len);
    assert_int_equal(o->annotations[0].value.data[value_len - 1], 'x');
    vmu_runtime_options_free(o);
    free(data);
}

static void test_allocation_failures(void **state)
{
    (void)state;
    bytes b = from_hex("08 01 1a 01 61 0a 01 01 92 01 06 0a 01 62 12 01 32 92 01 06 0a 01 61 12 01 31 "
                       "f8 06 05");
    int succeeded = 0;
    for (long n = 0; n < 200 && !succeeded; n++) {
        vmu_err err = {{0}};
        vmu_alloc_fail_after(n);
        vmu_runtime_options *o = vmu_runtime_options_decode(b.data, b.len, &err);
        vmu_alloc_fail_after(-1);
        if (o) {
            succeeded = 1;
            assert_int_equal(o->annotation_count, 2);
            vmu_runtime_options_free(o);
        } else {
            assert_string_equal(err.msg, "out of memory");
        }
    }
    assert_true(succeeded);

    vmu_runtime_options opts;
    vmu_runtime_options_init(&opts);
    opts.debug = true;
    vmu_annotation pairs[] = {{{"b", 1}, {"2", 1}}, {{"a", 1}, {"1", 1}}};
    opts.annotations = pairs;
    opts.annotation_count = 2;
    succeeded = 0;
    for (long n = 0; n < 50 && !succeeded; n++) {
        vmu_buf out;
        vmu_buf_init(&out);
        vmu_err err = {{0}};
        vmu_alloc_fail_after(n);
        int rc = vmu_marshal_runtime_options(&opts, &out, &err);
        vmu_alloc_fail_after(-1);
        if (rc == 0)
            succeeded = 1;
        else
            assert_string_equal(err.msg, "out of memory");
        vmu_buf_free(&out);
    }
    assert_true(succeeded);
    free(b.data);
}

/* ---- the Any and UnmarshalRuntimeOptions ------------------------------ */

static void test_nil_any_gives_defaults(void **state)
{
    (void)state;
    log_capture cap;
    capture_start(&cap, VMU_LEVEL_DEBUG);
    vmu_err err;
    vmu_runtime_options *o = vmu_unmarshal_runtime_options(cap.logger, NULL, &err);
    assert_non_null(o);
    vmu_runtime_options zero;
    vmu_runtime_options_init(&zero);
    zero.storage_ = o->storage_;
    assert_memory_equal(o, &zero, sizeof zero);
    assert_int_equal(cap.count, 0); /* Go returns before logging */
    vmu_runtime_options_free(o);
    capture_stop(&cap);
}

typedef struct url_case {
    const char *name;
    const char *type_url;
    const char *error; /* NULL: decodes */
} url_case;

static const url_case url_cases[] = {
    {"type URL: bare full name", "containerd.runhcs.v1.Options", NULL},
    {"type URL: type.googleapis.com prefix", "type.googleapis.com/containerd.runhcs.v1.Options", NULL},
    {"type URL: any prefix with slashes", "a/b/c/containerd.runhcs.v1.Options", NULL},
    {"type URL: just a slash", "/containerd.runhcs.v1.Options", NULL},
    {"type URL: empty", "", "failed to unmarshal options: type with url : not found"},
    {"type URL: other message", "google.protobuf.Duration",
     "failed to unmarshal options: type with url google.protobuf.Duration: not found"},
    {"type URL: name with a suffix", "containerd.runhcs.v1.OptionsX",
     "failed to unmarshal options: type with url containerd.runhcs.v1.OptionsX: not found"},
    {"type URL: short name", "x/Options", "failed to unmarshal options: type with url x/Options: not found"},
    {"type URL: trailing slash", "containerd.runhcs.v1.Options/",
     "failed to unmarshal options: type with url containerd.runhcs.v1.Options/: not found"},
    {"type URL: different case", "containerd.runhcs.v1.options",
     "failed to unmarshal options: type with url containerd.runhcs.v1.options: not found"},
    {"type URL: the package's other message", "containerd.runhcs.v1.ProcessDetails",
     "failed to unmarshal runtime options: expected *runhcsoptions.Options, got "
     "*options.ProcessDetails"},
};

static void test_type_url(void **state)
{
    const url_case *c = *state;
    static const uint8_t value[] = {0x08, 0x01};
    vmu_any any = {c->type_url, strlen(c->type_url), value, c->error && strstr(c->error, "ProcessDetails") ? 0 : sizeof value};
    vmu_err err = {{0}};
    vmu_runtime_options *o = vmu_unmarshal_runtime_options(NULL, &any, &err);
    if (!c->error) {
        if (!o)
            fail_msg("%s: %s", c->name, err.msg);
        assert_true(o->debug);
        vmu_runtime_options_free(o);
    } else {
        assert_null(o);
        assert_string_equal(err.msg, c->error);
    }
}

/* A type URL of n bytes: "x/" then repeated "ab". */
static char *long_url(size_t n)
{
    char *url = malloc(n + 1);
    assert_non_null(url);
    for (size_t i = 0; i < n; i++)
        url[i] = i < 2 ? "x/"[i] : "ab"[i % 2];
    url[n] = '\0';
    return url;
}

/* Go prints an unknown type URL whole, however long: every one that fits
 * the message buffer comes out whole (401 bytes and more included); a longer
 * one is shortened at a character boundary with "..." and keeps the
 * reason. */
static void test_long_type_url(void **state)
{
    (void)state;
    static const char head[] = "failed to unmarshal options: type with url ";
    static const char tail[] = ": not found";
    size_t fits = sizeof ((vmu_err *)0)->msg - 1 - (sizeof head - 1) - (sizeof tail - 1);
    static const uint8_t value[] = {0x08, 0x01};
    size_t lengths[] = {399, 400, 401, 420, fits, fits + 1, 4000};
    for (size_t k = 0; k < ARRAY_LEN(lengths); k++) {
        char *url = long_url(lengths[k]);
        vmu_any any = {url, lengths[k], value, sizeof value};
        vmu_err err = {{0}};
        assert_null(vmu_unmarshal_runtime_options(NULL, &any, &err));
        size_t len = strlen(err.msg);
        assert_memory_equal(err.msg, head, sizeof head - 1);
        assert_string_equal(err.msg + len - (sizeof tail - 1), tail);
        if (lengths[k] <= fits) {
            char want[sizeof err.msg];
            snprintf(want, sizeof want, "%s%s%s", head, url, tail);
            assert_string_equal(err.msg, want);
        } else {
            size_t kept = len - (sizeof head - 1) - (sizeof tail - 1) - 3;
            assert_memory_equal(err.msg + sizeof head - 1, url, kept);
            assert_memory_equal(err.msg + sizeof head - 1 + kept, "...", 3);
        }
        free(url);
    }
    /* The cut never splits a character: "é" is two bytes. */
    size_t n = 2000;
    char *url = long_url(n);
    for (size_t i = 2; i + 1 < n; i += 2) {
        url[i] = (char)0xc3;
        url[i + 1] = (char)0xa9;
    }
    vmu_any any = {url, n, value, sizeof value};
    vmu_err err = {{0}};
    assert_null(vmu_unmarshal_runtime_options(NULL, &any, &err));
    const char *dots = strstr(err.msg, "...: not found");
    assert_non_null(dots);
    assert_int_equal((size_t)(dots - err.msg - (sizeof head - 1)) % 2, 0);
    assert_int_equal((unsigned char)dots[-1], 0xa9);
    free(url);
}

static void test_process_details_errors(void **state)
{
    (void)state;
    const char *url = "containerd.runhcs.v1.ProcessDetails";
    struct {
        const char *hex;
        const char *error;
    } rows[] = {
        {"0a 04 6e 61 6d 65 12 04 08 01 10 02 38 07",
         "failed to unmarshal runtime options: expected *runhcsoptions.Options, got "
         "*options.ProcessDetails"},
        {"0a 05 61", "failed to unmarshal options: " WIRE_ERROR},
        {"0a 01 ff", "failed to unmarshal options: " UTF8_ERROR},
    };
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        bytes b = from_hex(rows[i].hex);
        vmu_any any = {url, strlen(url), b.data, b.len};
        vmu_err err;
        assert_null(vmu_unmarshal_runtime_options(NULL, &any, &err));
        assert_string_equal(err.msg, rows[i].error);
        free(b.data);
    }
}

static void test_unmarshal_wraps_decode_errors(void **state)
{
    (void)state;
    const char *url = VMU_OPTIONS_TYPE_URL;
    bytes b = from_hex("1a 05 61");
    vmu_any any = {url, strlen(url), b.data, b.len};
    vmu_err err;
    assert_null(vmu_unmarshal_runtime_options(NULL, &any, &err));
    assert_string_equal(err.msg, "failed to unmarshal options: " WIRE_ERROR);
    free(b.data);
    /* An Any with no value is an empty message: defaults. */
    vmu_any empty = {url, strlen(url), NULL, 5};
    vmu_runtime_options *o = vmu_unmarshal_runtime_options(NULL, &empty, &err);
    assert_non_null(o);
    assert_false(o->debug);
    vmu_runtime_options_free(o);
}

typedef struct any_bytes_case {
    const char *name;
    const char *hex;
    const char *json;  /* when it decodes */
    const char *error; /* otherwise */
} any_bytes_case;

static const any_bytes_case any_bytes_cases[] = {
    {"Any bytes: options", "0a 1c 636f6e7461696e6572642e72756e6863732e76312e4f7074696f6e73 12 02 08 01",
     "{\"debug\":true}", NULL},
    {"Any bytes: value before type URL, unknown field between",
     "12 02 10 02 18 07 0a 1c 636f6e7461696e6572642e72756e6863732e76312e4f7074696f6e73",
     "{\"debug_type\":\"ETW\"}", NULL},
    {"Any bytes: empty is an Any with no type URL", "", NULL,
     "failed to unmarshal options: type with url : not found"},
    {"Any bytes: truncated", "0a 1c 63 6f", NULL, "failed to unmarshal options: " WIRE_ERROR},
    {"Any bytes: invalid UTF-8 type URL", "0a 01 ff", NULL, "failed to unmarshal options: " UTF8_ERROR},
    {"Any bytes: garbage", "ff ff ff ff", NULL, "failed to unmarshal options: " WIRE_ERROR},
    {"Any bytes: bad options inside", "0a 1c 636f6e7461696e6572642e72756e6863732e76312e4f7074696f6e73 12 01 08",
     NULL, "failed to unmarshal options: " WIRE_ERROR},
};

static void test_any_bytes(void **state)
{
    const any_bytes_case *c = *state;
    bytes b = from_hex(c->hex);
    vmu_err err = {{0}};
    vmu_runtime_options *o = vmu_unmarshal_runtime_options_bytes(NULL, b.data, b.len, &err);
    free(b.data);
    if (c->json) {
        if (!o)
            fail_msg("%s: %s", c->name, err.msg);
        char *json = json_of(o);
        assert_string_equal(json, c->json);
        free(json);
        vmu_runtime_options_free(o);
    } else {
        assert_null(o);
        assert_string_equal(err.msg, c->error);
    }
}

/* ---- the debug record ---------------------------------------------------- */

static void test_debug_record(void **state)
{
    (void)state;
    const char *url = VMU_OPTIONS_TYPE_URL;
    bytes b = from_hex("08 01 10 07 1a 02 3c 22 92 01 06 0a 01 6b 12 01 76 a0 01 00");
    vmu_any any = {url, strlen(url), b.data, b.len};
    log_capture cap;
    capture_start(&cap, VMU_LEVEL_DEBUG);
    vmu_err err;
    vmu_runtime_options *o = vmu_unmarshal_runtime_options(cap.logger, &any, &err);
    assert_non_null(o);
    assert_int_equal(cap.count, 1);
    assert_int_equal(cap.records[0].level, VMU_LEVEL_DEBUG);
    assert_string_equal(cap.records[0].msg, "parsed runtime options");
    assert_int_equal(cap.records[0].field_count, 1);
    const captured_field *f = capture_field(&cap.records[0], "options");
    assert_non_null(f);
    assert_int_equal(f->kind, VMU_VALUE_STRING);
    assert_string_equal(f->text, "{\"debug\":true,\"debug_type\":7,\"registry_root\":\"<\\\"\","
                                 "\"default_container_annotations\":{\"k\":\"v\"},"
                                 "\"scrub_logs\":false}");
    vmu_runtime_options_free(o);
    capture_stop(&cap);

    /* At info level nothing is logged. */
    capture_start(&cap, VMU_LEVEL_INFO);
    o = vmu_unmarshal_runtime_options(cap.logger, &any, &err);
    assert_non_null(o);
    assert_int_equal(cap.count, 0);
    vmu_runtime_options_free(o);
    capture_stop(&cap);
    free(b.data);
}

/* ---- JSON rendering ------------------------------------------------------ */

static void test_json_escaping(void **state)
{
    (void)state;
    vmu_runtime_options o;
    vmu_runtime_options_init(&o);
    static const char tricky[] = "q\"b\\s/\b\f\n\r\t\x01\x1f<>&\x7f\xc3\xa9";
    o.log_level.data = tricky;
    o.log_level.len = sizeof tricky - 1;
    o.sandbox_isolation = 1;
    char *json = json_of(&o);
    assert_string_equal(json, "{\"sandbox_isolation\":\"HYPERVISOR\",\"log_level\":"
                              "\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f<>&\x7f\xc3\xa9\"}");
    free(json);
    /* Hand-built invalid UTF-8 becomes \ufffd per bad byte. */
    o.log_level.data = "a\xff\xe2\x82z";
    o.log_level.len = 5;
    o.sandbox_isolation = 0;
    json = json_of(&o);
    assert_string_equal(json, "{\"log_level\":\"a\\ufffd\\ufffd\\ufffdz\"}");
    free(json);
}

/* Each invalid byte becomes one \ufffd and a valid sequence is copied,
 * whatever surrounds it: surrogates, overlong forms, code points past
 * U+10FFFF, stray continuation bytes, a sequence cut by the end. */
static void test_json_invalid_utf8_cases(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd"},
        {"\xc0\xaf", "\\ufffd\\ufffd"},
        {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},
        {"\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd"},
        {"\xc3\xa9\xa9x", "\xc3\xa9\\ufffdx"},
        {"\xe2\x82", "\\ufffd\\ufffd"},
        {"\xf0\x9f\x98\x80\x80\x80\x80", "\xf0\x9f\x98\x80\\ufffd\\ufffd\\ufffd"},
        {"\xe2\x82\xac\xe2\x82", "\xe2\x82\xac\\ufffd\\ufffd"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vmu_runtime_options o;
        vmu_runtime_options_init(&o);
        o.log_level.data = cases[i].in;
        o.log_level.len = strlen(cases[i].in);
        char *json = json_of(&o);
        char want[128];
        snprintf(want, sizeof want, "{\"log_level\":\"%s\"}", cases[i].want);
        assert_string_equal(json, want);
        free(json);
    }
}

static void test_json_sorts_hand_built_annotations(void **state)
{
    (void)state;
    vmu_runtime_options o;
    vmu_runtime_options_init(&o);
    vmu_annotation pairs[] = {{{"b", 1}, {"1", 1}}, {{"a", 1}, {"2", 1}}, {{"b", 1}, {"3", 1}},
                              {{"ab", 2}, {"4", 1}}};
    o.annotations = pairs;
    o.annotation_count = ARRAY_LEN(pairs);
    char *json = json_of(&o);
    assert_string_equal(json, "{\"default_container_annotations\":{\"a\":\"2\",\"ab\":\"4\",\"b\":\"3\"}}");
    free(json);
}

/* ---- encoding -------------------------------------------------------------- */

static void test_marshal_bytes(void **state)
{
    (void)state;
    vmu_runtime_options o;
    vmu_runtime_options_init(&o);
    o.debug = true;
    o.debug_type = VMU_DEBUG_TYPE_ETW;
    o.registry_root.data = "x\0y";
    o.registry_root.len = 3;
    o.vm_processor_count = -5;
    vmu_annotation pairs[] = {{{"b", 1}, {"2", 1}}, {{"a", 1}, {"1", 1}}};
    o.annotations = pairs;
    o.annotation_count = 2;
    o.has_scrub_logs = true;
    o.scrub_logs = false;
    vmu_buf out;
    vmu_buf_init(&out);
    vmu_err err;
    assert_int_equal(vmu_marshal_runtime_options(&o, &out, &err), 0);
    char *hex = to_hex(out.data, out.len);
    assert_string_equal(hex, "0a1c636f6e7461696e6572642e72756e6863732e76312e4f7074696f6e73"
                             "1229" "0801" "1002" "1a03780079" "40fbffffffffffffffff01"
                             "9201060a0161120131" "9201060a0162120132" "a00100");
    free(hex);
    vmu_buf_free(&out);

    vmu_runtime_options empty;
    vmu_runtime_options_init(&empty);
    vmu_buf_init(&out);
    assert_int_equal(vmu_runtime_options_encode(&empty, &out, &err), 0);
    assert_int_equal(out.len, 0);
    vmu_buf_free(&out);
}

static void test_round_trip(void **state)
{
    (void)state;
    vmu_runtime_options o;
    vmu_runtime_options_init(&o);
    o.debug = true;
    o.debug_type = 42;
    o.registry_root = (vmu_options_string){"HKLM\\reg", 8};
    o.sandbox_image = (vmu_options_string){"mcr.microsoft.com/pause:3.9", 27};
    o.sandbox_platform = (vmu_options_string){"linux/amd64", 11};
    o.sandbox_isolation = VMU_SANDBOX_ISOLATION_HYPERVISOR;
    o.boot_files_root_path = (vmu_options_string){"C:\\boot", 7};
    o.vm_processor_count = INT32_MIN;
    o.vm_memory_size_in_mb = INT32_MAX;
    o.gpu_vhd_path = (vmu_options_string){"g\0pu", 4};
    o.scale_cpu_limits_to_sandbox = true;
    o.default_container_scratch_size_in_gb = 20;
    o.default_vm_scratch_size_in_gb = -1;
    o.share_scratch = true;
    o.nc_proxy_addr = (vmu_options_string){"\xe2\x82\xac", 3};
    o.log_level = (vmu_options_string){"trace", 5};
    o.io_retry_timeout_in_sec = 7;
    vmu_annotation pairs[] = {{{"z", 1}, {"", 0}}, {{"", 0}, {"empty key", 9}}, {{"m", 1}, {"v", 1}}};
    o.annotations = pairs;
    o.annotation_count = ARRAY_LEN(pairs);
    o.no_inherit_host_timezone = true;
    o.has_scrub_logs = true;
    o.scrub_logs = true;

    vmu_buf out;
    vmu_buf_init(&out);
    vmu_err err;
    assert_int_equal(vmu_marshal_runtime_options(&o, &out, &err), 0);
    vmu_runtime_options *back = vmu_unmarshal_runtime_options_bytes(NULL, (const uint8_t *)out.data, out.len, &err);
    if (!back)
        fail_msg("%s", err.msg);
    char *want = json_of(&o);
    char *got = json_of(back);
    assert_string_equal(got, want);
    assert_int_equal(back->annotation_count, 3);
    ASSERT_TEXT(back->annotations[0].key, "");
    ASSERT_TEXT(back->annotations[0].value, "empty key");
    ASSERT_TEXT(back->gpu_vhd_path, "g\0pu");
    free(want);
    free(got);
    vmu_runtime_options_free(back);
    vmu_buf_free(&out);
}

static void test_encode_refuses_invalid_utf8(void **state)
{
    (void)state;
    vmu_runtime_options o;
    vmu_runtime_options_init(&o);
    vmu_annotation pairs[] = {{{"k", 1}, {"\xff", 1}}};
    o.annotations = pairs;
    o.annotation_count = 1;
    vmu_buf out;
    vmu_buf_init(&out);
    vmu_err err;
    assert_int_equal(vmu_marshal_runtime_options(&o, &out, &err), -1);
    assert_string_equal(err.msg, UTF8_ERROR);
    o.annotation_count = 0;
    o.log_level = (vmu_options_string){"\xed\xa0\x80", 3};
    assert_int_equal(vmu_runtime_options_encode(&o, &out, &err), -1);
    assert_string_equal(err.msg, UTF8_ERROR);
    assert_int_equal(out.len, 0);
    vmu_buf_free(&out);
}

/* utf8.Valid's edges: the encoder takes exactly the strings Go would. */
static void test_encode_utf8_edges(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        bool valid;
    } cases[] = {
        {"\xef\xbf\xbd", true},      /* U+FFFD itself */
        {"\xf0\x9f\x98\x80", true},  /* a 4-byte rune */
        {"\xf4\x8f\xbf\xbf", true},  /* U+10FFFF */
        {"\xed\x9f\xbf", true},      /* U+D7FF, below the surrogates */
        {"\xc0\xaf", false},          /* overlong */
        {"\xe0\x80\xaf", false},     /* overlong */
        {"\xed\xa0\x80", false},     /* a surrogate */
        {"\xf4\x90\x80\x80", false}, /* past U+10FFFF */
        {"a\x80", false},             /* a stray continuation byte */
        {"\xe2\x82", false},          /* cut short */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vmu_runtime_options o;
        vmu_runtime_options_init(&o);
        o.log_level = (vmu_options_string){cases[i].text, strlen(cases[i].text)};
        vmu_buf out;
        vmu_buf_init(&out);
        vmu_err err;
        assert_int_equal(vmu_runtime_options_encode(&o, &out, &err), cases[i].valid ? 0 : -1);
        vmu_buf_free(&out);
    }
}

static void test_null_safety(void **state)
{
    (void)state;
    vmu_runtime_options_free(NULL);
    vmu_runtime_options built;
    vmu_runtime_options_init(&built);
    vmu_runtime_options_free(&built); /* not the decoder's: left alone */
    vmu_err err;
    vmu_runtime_options *o = vmu_runtime_options_decode(NULL, 0, &err);
    assert_non_null(o);
    vmu_runtime_options_free(o);
    o = vmu_runtime_options_decode(NULL, 10, NULL);
    assert_non_null(o);
    vmu_runtime_options_free(o);
    assert_null(vmu_unmarshal_runtime_options_bytes(NULL, NULL, 0, NULL));
    vmu_buf out;
    vmu_buf_init(&out);
    assert_int_equal(vmu_runtime_options_encode(NULL, &out, &err), -1);
    assert_int_equal(vmu_marshal_runtime_options(NULL, &out, NULL), -1);
    vmu_buf_free(&out);
}

int main(void)
{
    struct CMUnitTest tests[ARRAY_LEN(decode_cases) + ARRAY_LEN(error_cases) + ARRAY_LEN(url_cases) +
                            ARRAY_LEN(any_bytes_cases) + 32];
    size_t n = 0;
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_field_table_matches_proto);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_enum_names);
    for (size_t i = 0; i < ARRAY_LEN(decode_cases); i++)
        tests[n++] = (struct CMUnitTest)ROW_TEST(test_decode, decode_cases[i]);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_decode_fields_exactly);
    for (size_t i = 0; i < ARRAY_LEN(error_cases); i++)
        tests[n++] = (struct CMUnitTest)ROW_TEST(test_decode_error, error_cases[i]);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_deeply_nested_groups);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_budget_refuses_many_tiny_entries);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_budget_refuses_input_larger_than_budget);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_large_annotation_value);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_allocation_failures);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_nil_any_gives_defaults);
    for (size_t i = 0; i < ARRAY_LEN(url_cases); i++)
        tests[n++] = (struct CMUnitTest)ROW_TEST(test_type_url, url_cases[i]);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_process_details_errors);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_long_type_url);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_unmarshal_wraps_decode_errors);
    for (size_t i = 0; i < ARRAY_LEN(any_bytes_cases); i++)
        tests[n++] = (struct CMUnitTest)ROW_TEST(test_any_bytes, any_bytes_cases[i]);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_debug_record);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_json_escaping);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_json_invalid_utf8_cases);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_json_sorts_hand_built_annotations);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_marshal_bytes);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_round_trip);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_encode_refuses_invalid_utf8);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_encode_utf8_edges);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_null_safety);
    return _cmocka_run_group_tests("options", tests, n, NULL, NULL);
}
