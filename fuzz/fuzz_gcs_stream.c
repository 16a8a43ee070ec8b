/* Fuzz target: the GCS log stream decoder (vmu_gcs_decoder_*), in Go mode
 * and in resync mode, fed in chunks the fuzzer chooses.
 *
 * Input: one flag byte (bits 0-1 pick max_entry_bytes: the default, 64, 300
 * or 4100, so that oversized entries and split text blocks happen on small
 * inputs), four chunk sizes (0..255 each, used in turn; 0 feeds an empty
 * chunk), then the stream.
 *
 * Properties, for each mode:
 *  - the records are the same whether the stream is fed whole
 *    (vmu_gcs_decode_stream), in the fuzzer's chunks, or a byte at a time
 *    (for streams up to 4 KiB);
 *  - every record carries the VM's uvm-id; the stats count every forwarded
 *    entry and every byte;
 *  - resync mode loses nothing: walking the stream along the records, each
 *    forwarded entry is the next JSON value, each "entry" field (whole, or
 *    its head with "size" for an oversized one) and each "stderr" text is
 *    the next bytes, and only white space lies between them and after the
 *    last. (White space is Go's unicode.IsSpace: text records are trimmed
 *    with bytes.TrimSpace, as Go trims "gcs terminated".) */
#include "gcs_records.h"

static const char vm_id[] = "fuzz-vm";

static record_log whole, chunked, bytewise;
static vmu_logger *logger;

/* ---- the runs -------------------------------------------------------------- */

static void run_whole(const uint8_t *s, size_t n, const vmu_gcs_options *opts, vmu_gcs_stats *st)
{
    vmu_logger_set_sink(logger, keep_record, &whole);
    FUZZ_REQUIRE(vmu_gcs_decode_stream(vm_id, s, n, opts, logger, st) == 0, "decode_stream failed");
}

static void run_chunks(record_log *into, const uint8_t *s, size_t n, const vmu_gcs_options *opts,
                       const uint8_t *sizes, size_t size_count, vmu_gcs_stats *st)
{
    vmu_logger_set_sink(logger, keep_record, into);
    vmu_gcs_decoder *d = vmu_gcs_decoder_new(vm_id, sizeof vm_id - 1, opts, logger);
    FUZZ_REQUIRE(d, "decoder_new failed");
    size_t pos = 0, turn = 0, empty_in_a_row = 0;
    while (pos < n) {
        size_t want = sizes[turn++ % size_count];
        if (want == 0 && ++empty_in_a_row > size_count)
            want = n - pos; /* all sizes zero: the rest at once */
        if (want)
            empty_in_a_row = 0;
        if (want > n - pos)
            want = n - pos;
        FUZZ_REQUIRE(vmu_gcs_decoder_feed(d, s + pos, want) == 0, "feed failed at %zu", pos);
        pos += want;
    }
    FUZZ_REQUIRE(vmu_gcs_decoder_finish(d) == 0, "finish failed");
    FUZZ_REQUIRE(vmu_gcs_decoder_feed(d, "x", 1) == -1, "feeding after finish succeeded");
    vmu_gcs_decoder_stats(d, st);
    vmu_gcs_decoder_free(d);
}

static void require_same(const record_log *a, const record_log *b, const char *what, bool resync)
{
    size_t at = first_different_record(a, b);
    FUZZ_REQUIRE(at == SIZE_MAX, "%s mode: %s: record %zu differs (%zu vs %zu records; '%s' vs '%s')",
                 resync ? "resync" : "Go", what, at, a->count, b->count,
                 at < a->count ? a->items[at].msg : "-", at < b->count ? b->items[at].msg : "-");
}

/* ---- the byte-coverage walk (resync mode) ------------------------------ */

/* Go's unicode.IsSpace on the UTF-8 rune at s[i]; its length or 0. */
static size_t go_space_at(const uint8_t *s, size_t n, size_t i)
{
    uint8_t c = s[i];
    if (c == ' ' || (c >= '\t' && c <= '\r'))
        return 1;
    if (c == 0xC2 && i + 1 < n && (s[i + 1] == 0x85 || s[i + 1] == 0xA0))
        return 2;
    if (i + 2 < n) {
        uint32_t r = (uint32_t)(c & 0x0F) << 12 | (uint32_t)(s[i + 1] & 0x3F) << 6 | (s[i + 2] & 0x3F);
        if ((c & 0xF0) == 0xE0 && (s[i + 1] & 0xC0) == 0x80 && (s[i + 2] & 0xC0) == 0x80 &&
            (r == 0x1680 || (r >= 0x2000 && r <= 0x200A) || r == 0x2028 || r == 0x2029 ||
             r == 0x202F || r == 0x205F || r == 0x3000))
            return 3;
    }
    return 0;
}

static size_t skip_space(const uint8_t *s, size_t n, size_t i)
{
    size_t k;
    while (i < n && (k = go_space_at(s, n, i)) > 0)
        i += k;
    return i;
}

/* The end of the forwarded entry at s[i]: an object, or null (a literal
 * ends after its last letter: "nullnull" is two values, as in Go). */
static size_t value_end(const uint8_t *s, size_t n, size_t i)
{
    if (s[i] == 'n')
        return i + 4 <= n ? i + 4 : n;
    size_t depth = 0;
    bool in_string = false;
    for (; i < n; i++) {
        uint8_t c = s[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (--depth == 0)
                return i + 1;
        }
    }
    return n;
}

static void require_coverage(const record_log *log, const uint8_t *s, size_t n)
{
    size_t at = 0;
    for (size_t r = 0; r < log->count; r++) {
        const kept_record *k = &log->items[r];
        at = skip_space(s, n, at);
        if (k->is_entry) {
            FUZZ_REQUIRE(at < n, "record %zu: an entry past the end of the stream", r);
            at = value_end(s, n, at);
        } else if (k->entry) {
            FUZZ_REQUIRE(k->entry_len <= n - at && memcmp(s + at, k->entry, k->entry_len) == 0,
                         "record %zu (%s): its entry is not the next bytes (offset %zu)", r, k->msg,
                         at);
            size_t span = k->size >= 0 ? (size_t)k->size : k->entry_len;
            FUZZ_REQUIRE(span >= k->entry_len && span <= n - at, "record %zu: size %lld", r,
                         (long long)k->size);
            at += span;
        } else if (k->stderr_text) {
            FUZZ_REQUIRE(k->stderr_len <= n - at && memcmp(s + at, k->stderr_text, k->stderr_len) == 0,
                         "record %zu (%s): its text is not the next bytes (offset %zu)", r, k->msg,
                         at);
            at += k->stderr_len;
        } else {
            FUZZ_REQUIRE(false, "record %zu (%s) accounts for no bytes", r, k->msg);
        }
    }
    at = skip_space(s, n, at);
    FUZZ_REQUIRE(at == n, "resync mode dropped bytes from offset %zu of %zu", at, n);
}

/* ---- the target ------------------------------------------------------------ */

static void check_mode(const uint8_t *s, size_t n, bool resync, size_t max_entry,
                       const uint8_t *sizes)
{
    vmu_gcs_options opts;
    vmu_gcs_options_init(&opts);
    opts.resync = resync;
    if (max_entry)
        opts.max_entry_bytes = max_entry;

    vmu_gcs_stats whole_stats, chunk_stats, byte_stats;
    run_whole(s, n, &opts, &whole_stats);
    run_chunks(&chunked, s, n, &opts, sizes, 4, &chunk_stats);
    require_same(&whole, &chunked, "whole vs fuzzer chunks", resync);
    if (n <= 4096) {
        static const uint8_t one[1] = {1};
        run_chunks(&bytewise, s, n, &opts, one, 1, &byte_stats);
        require_same(&whole, &bytewise, "whole vs 1-byte chunks", resync);
    }

    size_t entries = 0;
    for (size_t r = 0; r < whole.count; r++) {
        const kept_record *k = &whole.items[r];
        entries += k->is_entry;
        FUZZ_REQUIRE(k->uvm && k->uvm_len == sizeof vm_id - 1 && memcmp(k->uvm, vm_id, k->uvm_len) == 0,
                     "record %zu (%s) has another uvm-id", r, k->msg);
    }
    FUZZ_REQUIRE(whole_stats.entries == entries && chunk_stats.entries == entries,
                 "stats count %llu/%llu entries, %zu were logged",
                 (unsigned long long)whole_stats.entries, (unsigned long long)chunk_stats.entries,
                 entries);
    FUZZ_REQUIRE(whole_stats.bytes == n && chunk_stats.bytes == n, "stats count %llu bytes of %zu",
                 (unsigned long long)chunk_stats.bytes, n);
    if (resync)
        require_coverage(&whole, s, n);
    record_log_clear(&whole);
    record_log_clear(&chunked);
    record_log_clear(&bytewise);
}

/* Everything kept between inputs is released at exit, so that a replay
 * under valgrind or LeakSanitizer shows no leak of the target's own. */
static void release(void)
{
    vmu_logger_free(logger);
    record_log_free(&whole);
    record_log_free(&chunked);
    record_log_free(&bytewise);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!logger) {
        logger = vmu_logger_new();
        FUZZ_REQUIRE(logger, "logger");
        atexit(release);
        vmu_logger_set_level(logger, VMU_LEVEL_TRACE);
    }
    fuzz_input in = fuzz_input_of(data, size);
    static const size_t max_entries[4] = {0, 64, 300, 4100};
    size_t max_entry = max_entries[fuzz_u8(&in) & 3];
    uint8_t sizes[4];
    for (int i = 0; i < 4; i++)
        sizes[i] = fuzz_u8(&in);
    size_t n;
    const uint8_t *stream = fuzz_rest(&in, &n);
    check_mode(stream, n, false, max_entry, sizes);
    check_mode(stream, n, true, max_entry, sizes);
    return 0;
}
