/* The GCS log stream driver, vmu_gcs_decoder (hcsshim's ParseGCSLogrus;
 * the forwarders that read a source into it are gcs_forward.c).
 *
 * Bytes go through one of four modes:
 *   PARSE       yajl decodes top-level values; each complete one becomes a
 *               record (gcs_builder.c builds it, gcs_entry.c applies the rules)
 *   SKIP        resync only: after a syntax error, text is gathered into a
 *               "gcs output" block until a line starts with '{'
 *   OVERSIZE    an entry over max_entry_bytes: Go's scanner finds its end
 *               without keeping it, and a record reports its head and size
 *   TERMINATED  Go mode after a bad entry or a syntax error: the rest of the
 *               stream is "gcs terminated" text
 * Text blocks are logged in pieces of at most max_entry_bytes, so memory
 * stays bounded by that size whatever the guest writes.
 *
 * Where Go's behaviour depends on a position (the text after a syntax error
 * starts at the failed value; the resync point is searched from the line of
 * the error) the exact byte of the error comes from Go's scanner
 * (gcs_json_scan.c) run over the failed value, not from yajl, whose error
 * offsets are token-based. The records are therefore the same however the
 * stream is cut into chunks. */
#include <string.h>
#include <time.h>

#include "gcs_builder.h"
#include "gcs_json_scan.h"
#include "gcs_stream.h"
#include "gcs_text.h"
#include "gcs_token.h"

enum { MODE_PARSE, MODE_SKIP, MODE_OVERSIZE, MODE_TERMINATED, MODE_DONE };

struct vmu_gcs_decoder {
    char *vm_id;
    size_t vm_id_len;
    bool resync;
    size_t max_entry;
    vmu_logger *logger;
    int mode;
    bool broken; /* out of memory: the decoder stopped */
    gcs_parser parser;
    uint64_t stream_len; /* bytes fed so far */

    /* SKIP and TERMINATED: the text block not yet logged. */
    vmu_buf block;
    bool skip_line_start; /* SKIP: only blanks since the last newline */

    /* OVERSIZE, and the exact position of syntax errors. */
    gcs_json_scanner *scanner;
    uint64_t over_start;
    char head[VMU_GCS_ENTRY_HEAD_BYTES + 4];
    size_t head_len;

    /* PARSE: the token yajl is inside at the end of the last feed (see
     * run_hold), and whether the bytes from hold_off on (in the carry) are
     * held back from it. */
    gcs_token_state lex;
    uint64_t tok_start;
    bool holding;
    uint64_t hold_off;
    uint64_t lexed; /* bytes yajl's lexer went over, rescans included */

    uint64_t entries;
    /* The host clock's zone offset, looked up once a second. */
    int64_t clock_sec;
    int32_t clock_offset;
};

void vmu_gcs_options_init(vmu_gcs_options *opts)
{
    opts->resync = false;
    opts->max_entry_bytes = VMU_GCS_DEFAULT_MAX_ENTRY_BYTES;
}

/* ---- records ---- */

static vmu_time host_now(vmu_gcs_decoder *d)
{
    struct timespec now;
    /* The coarse clock, as vmu_log's: records print whole seconds. */
    clock_gettime(CLOCK_REALTIME_COARSE, &now);
    if (now.tv_sec != d->clock_sec) {
        struct tm local;
        time_t secs = now.tv_sec;
        localtime_r(&secs, &local);
        d->clock_offset = (int32_t)local.tm_gmtoff;
        d->clock_sec = now.tv_sec;
    }
    vmu_time t;
    t.unix_sec = (int64_t)now.tv_sec;
    t.nsec = (int32_t)now.tv_nsec;
    t.utc_offset = d->clock_offset;
    t.utc = d->clock_offset == 0;
    return t;
}

static vmu_field str_field(const char *key, size_t key_len, const char *s, size_t len)
{
    vmu_field f;
    f.key = key;
    f.key_len = key_len;
    f.value.kind = VMU_VALUE_STRING;
    f.value.as.str.ptr = s;
    f.value.as.str.len = len;
    return f;
}

static vmu_field uvm_id_field(const vmu_gcs_decoder *d)
{
    return str_field("uvm-id", 6, d->vm_id, d->vm_id_len);
}

static void log_error_record(vmu_gcs_decoder *d, const char *msg, const vmu_field *fields,
                             size_t count)
{
    if (!vmu_logger_enabled(d->logger, VMU_LEVEL_ERROR))
        return;
    vmu_time now = host_now(d);
    vmu_log_at(d->logger, &now, VMU_LEVEL_ERROR, msg, strlen(msg), fields, count);
}

/* "gcs log read": an entry that did not decode (raw: the entry, shown in
 * resync mode), or a failed read (raw NULL). */
static void log_read_error(vmu_gcs_decoder *d, const char *error, size_t error_len,
                           const uint8_t *raw, size_t raw_len)
{
    vmu_field fields[3];
    size_t n = 0;
    fields[n++] = uvm_id_field(d);
    fields[n++] = str_field("error", 5, error, error_len);
    if (raw && d->resync)
        fields[n++] = str_field("entry", 5, (const char *)raw, raw_len);
    log_error_record(d, "gcs log read", fields, n);
}

static void report_oversize(vmu_gcs_decoder *d, uint64_t size, bool cut_off)
{
    char text[96];
    int len = cut_off ? snprintf(text, sizeof text, "unexpected EOF")
                      : snprintf(text, sizeof text, "gcs log entry exceeds max_entry_bytes (%zu)",
                                 d->max_entry);
    size_t head = gcs_utf8_cut((const uint8_t *)d->head, d->head_len, VMU_GCS_ENTRY_HEAD_BYTES);
    vmu_field fields[4];
    fields[0] = uvm_id_field(d);
    fields[1] = str_field("error", 5, text, (size_t)len);
    fields[2] = str_field("entry", 5, d->head, head);
    fields[3].key = "size";
    fields[3].key_len = 4;
    fields[3].value.kind = VMU_VALUE_INT;
    fields[3].value.as.i = (int64_t)size;
    log_error_record(d, "gcs log read", fields, 4);
}

static void head_add(vmu_gcs_decoder *d, const uint8_t *s, size_t n)
{
    size_t room = sizeof d->head - d->head_len;
    if (n > room)
        n = room;
    if (n == 0)
        return;
    memcpy(d->head + d->head_len, s, n);
    d->head_len += n;
}

/* Logs one piece of a text block, trimmed as Go trims the rest. */
static void log_text(vmu_gcs_decoder *d, const char *msg, const uint8_t *s, size_t n)
{
    size_t start, len;
    gcs_trim_space(s, n, &start, &len);
    if (len == 0)
        return;
    vmu_field fields[2] = {uvm_id_field(d), str_field("stderr", 6, (const char *)s + start, len)};
    log_error_record(d, msg, fields, 2);
}

static const char *block_msg(const vmu_gcs_decoder *d)
{
    return d->mode == MODE_SKIP ? "gcs output" : "gcs terminated";
}

/* Bytes the block holds beyond max_entry_bytes before a piece is cut: a
 * character that crosses the cut is then seen whole (UTF-8's longest is 4
 * bytes) and kept for the next piece. With less, a character cut short by
 * the end of the block would look invalid and be split: a space character
 * would become bytes that are not white space, so its halves would stay in
 * the trimmed texts of both pieces. */
#define BLOCK_LOOKAHEAD 3

/* Logs the block's first max_entry_bytes (not splitting a character). */
static void block_cut(vmu_gcs_decoder *d, const char *msg)
{
    const uint8_t *b = (const uint8_t *)d->block.data;
    size_t cut = gcs_utf8_cut(b, d->block.len, d->max_entry);
    log_text(d, msg, b, cut);
    memmove(d->block.data, d->block.data + cut, d->block.len - cut);
    d->block.len -= cut;
}

/* Adds text to the block, logging a piece each time it holds more than
 * max_entry_bytes plus the lookahead. */
static void block_append(vmu_gcs_decoder *d, const uint8_t *s, size_t n)
{
    while (n > 0 && !d->broken) {
        size_t room = d->max_entry + BLOCK_LOOKAHEAD + 1 - d->block.len;
        size_t take = n < room ? n : room;
        if (vmu_buf_append(&d->block, s, take) != 0) {
            d->broken = true;
            return;
        }
        s += take;
        n -= take;
        if (d->block.len > d->max_entry + BLOCK_LOOKAHEAD)
            block_cut(d, block_msg(d));
    }
}

/* Logs the rest of the block: the pieces still over max_entry_bytes as the
 * ones before them, the last as msg. */
static void block_flush(vmu_gcs_decoder *d, const char *msg)
{
    /* Once memory ran out the block may lack its end: a cut text is not
     * logged as if it were the whole. */
    if (!d->broken) {
        while (d->block.len > d->max_entry)
            block_cut(d, block_msg(d));
        log_text(d, msg, (const uint8_t *)d->block.data, d->block.len);
    }
    d->block.len = 0;
    if (d->block.cap > 2 * GCS_SLICE)
        vmu_buf_free(&d->block);
}

/* ---- entries ---- */

static void forward_entry(vmu_gcs_decoder *d, gcs_parser *p, const gcs_entry_result *r)
{
    d->entries++;
    if (!vmu_logger_enabled(d->logger, r->level))
        return;
    /* The kept fields end where the members did: the two added ones follow. */
    vmu_field *added = gcs_parser_push_nodes(p, 2);
    if (!added) {
        d->broken = true;
        return;
    }
    added[0] = uvm_id_field(d);
    vmu_field *t = &added[1];
    t->key = "vm.time";
    t->key_len = 7;
    t->value.kind = VMU_VALUE_TIME;
    t->value.as.time = r->time;
    vmu_time now = host_now(d);
    vmu_log_at(d->logger, &now, r->level, r->msg, r->msg_len,
               gcs_parser_members(p) + r->field_start, r->field_count + 2);
}

static int on_value(void *user, gcs_parser *p, const uint8_t *raw, size_t raw_len)
{
    vmu_gcs_decoder *d = user;
    if (raw_len > d->max_entry) {
        d->head_len = 0;
        head_add(d, raw, raw_len);
        report_oversize(d, raw_len, false);
        return d->broken ? GCS_STOP_NOMEM : GCS_STOP_NONE;
    }
    gcs_entry_result r;
    gcs_parser_entry(p, &r);
    if (r.ok) {
        forward_entry(d, p, &r);
        return d->broken ? GCS_STOP_NOMEM : GCS_STOP_NONE;
    }
    log_read_error(d, r.error, r.error_len, raw, raw_len);
    return d->resync ? GCS_STOP_NONE : GCS_STOP_AFTER_VALUE;
}

/* ---- positions ---- */

/* The stream bytes [from, to) as at most two pieces: the part held in the
 * parser's carry (before the current feed) and the part in the slice p
 * (stream offset off). */
typedef struct parts {
    const uint8_t *a, *b;
    size_t a_len, b_len;
} parts;

static parts stream_parts(const vmu_gcs_decoder *d, const uint8_t *p, uint64_t off, uint64_t from,
                          uint64_t to)
{
    const gcs_parser *ps = &d->parser;
    parts r = {NULL, NULL, 0, 0};
    uint64_t split = ps->win.carry.len > 0 ? ps->win.feed_off : off;
    if (from < split && ps->win.carry.len > 0) {
        uint64_t stop = to < split ? to : split;
        r.a = (const uint8_t *)ps->win.carry.data + (from - ps->win.carry_off);
        r.a_len = (size_t)(stop - from);
        from = stop;
    }
    if (from < to) {
        r.b = p + (from - off);
        r.b_len = (size_t)(to - from);
    }
    return r;
}

static bool ensure_scanner(vmu_gcs_decoder *d)
{
    if (!d->scanner)
        d->scanner = vmu_malloc(sizeof *d->scanner);
    if (!d->scanner)
        d->broken = true;
    return d->scanner != NULL;
}

/* Runs Go's scanner over [from, to) from a fresh start; the stream offset
 * of its first error, or UINT64_MAX (the scanner is left where it stopped). */
static uint64_t go_error_at(vmu_gcs_decoder *d, const uint8_t *p, uint64_t off, uint64_t from,
                            uint64_t to)
{
    if (!ensure_scanner(d))
        return UINT64_MAX;
    gcs_scan_reset(d->scanner);
    parts r = stream_parts(d, p, off, from, to);
    for (size_t i = 0; i < r.a_len; i++)
        if (gcs_scan_step(d->scanner, r.a[i]) == GCS_SCAN_ERROR)
            return from + i;
    for (size_t i = 0; i < r.b_len; i++)
        if (gcs_scan_step(d->scanner, r.b[i]) == GCS_SCAN_ERROR)
            return from + r.a_len + i;
    return UINT64_MAX;
}

static void block_append_range(vmu_gcs_decoder *d, const uint8_t *p, uint64_t off, uint64_t from,
                               uint64_t to)
{
    parts r = stream_parts(d, p, off, from, to);
    block_append(d, r.a, r.a_len);
    block_append(d, r.b, r.b_len);
}

static void process(vmu_gcs_decoder *d, const uint8_t *p, size_t n, uint64_t off);

/* The value starting at vs is not JSON: Go's scanner stops at byte e.
 * Returns where the slice (p, n at stream offset off) goes on. */
static size_t syntax_error(vmu_gcs_decoder *d, uint64_t vs, uint64_t e, const uint8_t *p, size_t n,
                           uint64_t off)
{
    gcs_parser *ps = &d->parser;
    if (e - vs > d->max_entry) {
        /* Too large to have been an entry anyway: reported as such, and the
         * text from the error on follows. */
        parts r = stream_parts(d, p, off, vs, e - vs < sizeof d->head ? e : vs + sizeof d->head);
        d->head_len = 0;
        head_add(d, r.a, r.a_len);
        head_add(d, r.b, r.b_len);
        report_oversize(d, e - vs, false);
        vs = e;
    }
    uint64_t split = ps->win.carry.len > 0 ? ps->win.feed_off : off;
    if (!d->resync) {
        /* Go logs the rest of the stream from the failed value on. */
        d->mode = MODE_TERMINATED;
        uint64_t resume = vs > split ? vs : split;
        block_append_range(d, p, off, vs, resume);
        return (size_t)(resume - off);
    }
    /* Resync: the block runs from the failed value to the next line that
     * starts with '{', looked for from the line of the error on (never at
     * the failed value itself, so every error moves forward). */
    uint64_t line = UINT64_MAX;
    parts r = stream_parts(d, p, off, vs, e);
    const uint8_t *nl = r.b_len ? memrchr(r.b, '\n', r.b_len) : NULL;
    if (nl)
        line = vs + r.a_len + (uint64_t)(nl - r.b) + 1;
    else if (r.a_len && (nl = memrchr(r.a, '\n', r.a_len)) != NULL)
        line = vs + (uint64_t)(nl - r.a) + 1;
    uint64_t from = line != UINT64_MAX ? line : vs + 1;
    d->mode = MODE_SKIP;
    d->skip_line_start = line != UINT64_MAX;
    d->block.len = 0;
    block_append_range(d, p, off, vs, from);
    if (from >= split) {
        if (gcs_parser_restart(ps) != 0)
            d->broken = true;
        return (size_t)(from - off);
    }
    /* The search starts inside the carry: go over those bytes first. */
    vmu_buf replay;
    vmu_buf_init(&replay);
    r = stream_parts(d, p, off, from, split);
    if (vmu_buf_append(&replay, r.a, r.a_len) != 0 || gcs_parser_restart(ps) != 0) {
        d->broken = true;
        vmu_buf_free(&replay);
        return n;
    }
    process(d, (const uint8_t *)replay.data, replay.len, from);
    vmu_buf_free(&replay);
    return (size_t)(split - off);
}

/* The in-progress value has grown past max_entry_bytes: hand it to Go's
 * scanner, which needs no memory for it, unless it already failed. */
static size_t start_oversize(vmu_gcs_decoder *d, const uint8_t *p, size_t n, uint64_t off)
{
    gcs_parser *ps = &d->parser;
    uint64_t vs = ps->win.carry_off;
    uint64_t e = go_error_at(d, p, off, vs, off + n);
    if (d->broken)
        return n;
    if (e != UINT64_MAX)
        return syntax_error(d, vs, e, p, n, off);
    d->head_len = 0;
    head_add(d, (const uint8_t *)ps->win.carry.data, ps->win.carry.len);
    d->over_start = vs;
    if (gcs_parser_restart(ps) != 0)
        d->broken = true;
    d->mode = MODE_OVERSIZE;
    return n;
}

static size_t run_oversize(vmu_gcs_decoder *d, const uint8_t *p, size_t n, uint64_t off, size_t i)
{
    gcs_json_scanner *sc = d->scanner;
    size_t j = i;
    uint64_t end = UINT64_MAX;
    for (; j < n; j++) {
        int op = gcs_scan_step(sc, p[j]);
        if (op == GCS_SCAN_ERROR)
            break;
        if (op == GCS_SCAN_END) {
            end = off + j;
            break;
        }
        if (sc->end_top) {
            end = off + j + 1;
            break;
        }
    }
    uint64_t stop = end != UINT64_MAX ? end : off + j;
    head_add(d, p + i, (size_t)(stop - off - i));
    if (j == n)
        return n;
    report_oversize(d, stop - d->over_start, false);
    if (end == UINT64_MAX) /* the scanner failed at byte j */
        return syntax_error(d, off + j, off + j, p, n, off);
    gcs_parser_skip_to(&d->parser, end);
    d->mode = MODE_PARSE;
    return (size_t)(end - off);
}

static size_t run_skip(vmu_gcs_decoder *d, const uint8_t *p, size_t n, uint64_t off, size_t i)
{
    size_t j = i;
    bool line_start = d->skip_line_start;
    bool found = false;
    while (j < n) {
        if (line_start) {
            uint8_t c = p[j];
            if (c == '{') {
                found = true;
                break;
            }
            if (c == ' ' || c == '\t' || c == '\n') {
                j++;
                continue;
            }
            line_start = false;
        }
        const uint8_t *nl = memchr(p + j, '\n', n - j);
        if (!nl) {
            j = n;
            break;
        }
        j = (size_t)(nl - p) + 1;
        line_start = true;
    }
    d->skip_line_start = line_start;
    block_append(d, p + i, j - i);
    if (!found)
        return n;
    block_flush(d, "gcs output");
    if (gcs_parser_restart(&d->parser) != 0)
        d->broken = true;
    gcs_parser_skip_to(&d->parser, off + j);
    d->mode = MODE_PARSE;
    return j;
}

/* The first \v or \f: always a syntax error to Go (white space to yajl). */
static size_t vf_index(const uint8_t *s, size_t n)
{
    const uint8_t *v = memchr(s, '\v', n);
    if (v)
        n = (size_t)(v - s);
    const uint8_t *f = memchr(s, '\f', n);
    return f ? (size_t)(f - s) : n;
}

/* ---- tokens that span slices ----
 *
 * yajl keeps a token cut by the end of a slice in its own buffer and, at
 * every later yajl_parse call, lexes that buffer again from its first byte
 * before it goes on: a string of N bytes fed in slices of S costs N^2 / S.
 * So once a slice ends inside a string or a number (gcs_token.c follows
 * the tokens), the next slices only go to the carry (where the value's
 * bytes are kept anyway) while they continue that token. When a slice would
 * end the token (or make the value too large, or the stream ends), the
 * bytes held go to yajl in one call, which cannot end the token or fail
 * (they only continue it), and the slice follows as usual: each byte is
 * lexed at most twice. */

static size_t run_parse(vmu_gcs_decoder *d, const uint8_t *p, size_t n, uint64_t off, size_t i);

/* Hands the held bytes (the carry's tail) to yajl. */
static void feed_held(vmu_gcs_decoder *d)
{
    if (!d->holding)
        return;
    d->holding = false;
    gcs_parser *ps = &d->parser;
    size_t from = (size_t)(d->hold_off - ps->win.carry_off);
    size_t n = ps->win.carry.len - from;
    d->lexed += n;
    if (gcs_parser_feed_token(ps, (const uint8_t *)ps->win.carry.data + from, n, d->hold_off) !=
        yajl_status_ok)
        d->broken = true; /* cannot be: the bytes continue a token yajl has accepted */
}

/* PARSE while yajl is inside a token: keeps the slice in the carry while it
 * only continues the token, else feeds what was held and then the slice. */
static size_t run_hold(vmu_gcs_decoder *d, const uint8_t *p, size_t n, uint64_t off, size_t i)
{
    gcs_parser *ps = &d->parser;
    uint8_t st = d->lex;
    size_t k = gcs_token_continue_span(&st, p + i, n - i);
    if (k == n - i && off + n - ps->win.carry_off <= d->max_entry) {
        if (gcs_parser_hold(ps, p + i, n - i) != 0) {
            d->broken = true;
            return n;
        }
        d->lex = st;
        return n;
    }
    feed_held(d);
    return d->broken ? n : run_parse(d, p, n, off, i);
}

uint64_t gcs_decoder_lexed_bytes(const vmu_gcs_decoder *d) { return d->lexed; }

bool gcs_decoder_open(const vmu_gcs_decoder *d) { return !d->broken && d->mode != MODE_DONE; }

static size_t run_parse(vmu_gcs_decoder *d, const uint8_t *p, size_t n, uint64_t off, size_t i)
{
    gcs_parser *ps = &d->parser;
    const uint8_t *feed = p + i;
    size_t len = n - i;
    uint64_t feed_off = off + i;
    size_t cut = vf_index(feed, len);
    d->lexed += cut;
    if (ps->win.carry.len > 0 && d->lex != GCS_TOKEN_OUT)
        d->lexed += feed_off - d->tok_start; /* yajl's buffered token, again */
    yajl_status st = gcs_parser_feed(ps, feed, cut, feed_off);
    if (st == yajl_status_client_canceled && ps->stop == GCS_STOP_NOMEM) {
        d->broken = true;
        return n;
    }
    if (st == yajl_status_client_canceled && ps->stop == GCS_STOP_AFTER_VALUE) {
        d->mode = MODE_TERMINATED;
        return (size_t)(ps->stop_off - off);
    }
    if (st != yajl_status_ok) {
        uint64_t e = feed_off + yajl_get_bytes_consumed(ps->yajl);
        uint64_t vs = gcs_parser_value_start(ps, (size_t)(e - feed_off));
        /* Only white space since the last value: the bad byte is the one
         * yajl stopped after, unless that byte ended the last value or is
         * itself white space: yajl puts back a '/' it refuses as a comment,
         * so "24/" and "}\n/" stop at the '/'. Which of the two it is must
         * not depend on how the stream was cut into chunks. */
        if (vs == UINT64_MAX)
            vs = e > feed_off && e - 1 >= ps->win.scan_pos && !gcs_json_space(feed[e - 1 - feed_off])
                     ? e - 1
                     : e;
        uint64_t limit = e < feed_off + cut ? e + 1 : feed_off + cut;
        uint64_t at = go_error_at(d, p, off, vs, limit);
        if (d->broken)
            return n;
        if (at == UINT64_MAX)
            at = e > vs ? e - 1 : vs;
        return syntax_error(d, vs, at, p, n, off);
    }
    if (gcs_parser_carry_tail(ps) != 0) {
        d->broken = true;
        return n;
    }
    if (cut < len) {
        uint64_t at = feed_off + cut;
        if (!gcs_parser_in_container(ps) && ps->win.carry.len > 0) {
            /* A top-level number or literal ends at the \v, as in Go. */
            st = gcs_parser_feed(ps, (const uint8_t *)" ", 1, at);
            if (st == yajl_status_client_canceled && ps->stop == GCS_STOP_NOMEM) {
                d->broken = true;
                return n;
            }
            if (st == yajl_status_client_canceled && ps->stop == GCS_STOP_AFTER_VALUE) {
                d->mode = MODE_TERMINATED;
                return (size_t)(at - off);
            }
        }
        uint64_t vs = ps->win.carry.len > 0 ? ps->win.carry_off : at;
        /* The value may already have failed in a token yajl has not ended. */
        uint64_t e = vs < at ? go_error_at(d, p, off, vs, at + 1) : at;
        if (d->broken)
            return n;
        return syntax_error(d, vs, e != UINT64_MAX ? e : at, p, n, off);
    }
    if (ps->win.carry.len == 0)
        return n;
    if (off + n - ps->win.carry_off > d->max_entry)
        return start_oversize(d, p, n, off);
    /* The value goes on in the next slice: where its tokens stand. */
    uint64_t from = feed_off;
    if (ps->win.carry_off >= feed_off) {
        from = ps->win.carry_off;
        d->lex = GCS_TOKEN_OUT;
    }
    gcs_token_track(&d->lex, &d->tok_start, p + (from - off), (size_t)(off + n - from), from);
    if (gcs_token_holdable(d->lex)) {
        d->holding = true;
        d->hold_off = off + n;
    }
    return n;
}

static void process(vmu_gcs_decoder *d, const uint8_t *p, size_t n, uint64_t off)
{
    size_t i = 0;
    while (i < n && !d->broken) {
        switch (d->mode) {
        case MODE_PARSE:
            i = d->holding ? run_hold(d, p, n, off, i) : run_parse(d, p, n, off, i);
            break;
        case MODE_SKIP:
            i = run_skip(d, p, n, off, i);
            break;
        case MODE_OVERSIZE:
            i = run_oversize(d, p, n, off, i);
            break;
        case MODE_TERMINATED:
            block_append(d, p + i, n - i);
            i = n;
            break;
        default:
            i = n;
        }
    }
}

/* ---- the push decoder ---- */

vmu_gcs_decoder *vmu_gcs_decoder_new(const char *vm_id, size_t vm_id_len,
                                     const vmu_gcs_options *opts, vmu_logger *logger)
{
    vmu_gcs_options defaults;
    vmu_gcs_options_init(&defaults);
    if (!opts)
        opts = &defaults;
    size_t max_entry = opts->max_entry_bytes ? opts->max_entry_bytes : VMU_GCS_DEFAULT_MAX_ENTRY_BYTES;
    if (max_entry > VMU_GCS_MAX_ENTRY_BYTES_LIMIT || (!vm_id && vm_id_len))
        return NULL;
    vmu_gcs_decoder *d = vmu_calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->vm_id = vmu_malloc(vm_id_len + 1);
    if (!d->vm_id || gcs_parser_init(&d->parser, on_value, d) != 0) {
        vmu_gcs_decoder_free(d);
        return NULL;
    }
    if (vm_id_len)
        memcpy(d->vm_id, vm_id, vm_id_len);
    d->vm_id[vm_id_len] = '\0';
    d->vm_id_len = vm_id_len;
    d->resync = opts->resync;
    d->max_entry = max_entry;
    d->logger = logger;
    d->mode = MODE_PARSE;
    d->clock_sec = -1;
    vmu_buf_init(&d->block);
    return d;
}

void vmu_gcs_decoder_free(vmu_gcs_decoder *d)
{
    if (!d)
        return;
    gcs_parser_free(&d->parser);
    vmu_buf_free(&d->block);
    vmu_free(d->scanner);
    vmu_free(d->vm_id);
    vmu_free(d);
}

int vmu_gcs_decoder_feed(vmu_gcs_decoder *d, const void *data, size_t len)
{
    if (!d || d->broken || d->mode == MODE_DONE || (!data && len))
        return -1;
    const uint8_t *s = data;
    while (len > 0 && !d->broken) {
        size_t n = len < GCS_SLICE ? len : GCS_SLICE;
        process(d, s, n, d->stream_len);
        d->stream_len += n;
        s += n;
        len -= n;
    }
    return d->broken ? -1 : 0;
}

/* yajl reports a token out of place only once the token is complete, so
 * a value left unfinished may already be a syntax error to Go. Before the
 * stream ends (or fails) that is settled with Go's scanner. */
static void settle_pending(vmu_gcs_decoder *d)
{
    gcs_parser *ps = &d->parser;
    while (d->mode == MODE_PARSE && ps->win.carry.len > 0 && !d->broken) {
        uint64_t vs = ps->win.carry_off;
        /* The carry is the stream up to here: treat it as the last slice. */
        gcs_parser_carry_is_feed(ps);
        const vmu_buf *carry = &ps->win.carry;
        uint64_t e = go_error_at(d, (const uint8_t *)carry->data, vs, vs, vs + carry->len);
        if (e == UINT64_MAX)
            return;
        vmu_buf pending = gcs_parser_take_carry(ps);
        size_t i = syntax_error(d, vs, e, (const uint8_t *)pending.data, pending.len, vs);
        if (!d->broken && i < pending.len)
            process(d, (const uint8_t *)pending.data + i, pending.len - i, vs + i);
        vmu_buf_free(&pending);
    }
}

int vmu_gcs_decoder_fail(vmu_gcs_decoder *d, const char *error, size_t error_len, bool disconnect)
{
    if (!d || d->broken || d->mode == MODE_DONE)
        return -1;
    if (!error)
        error_len = 0;
    gcs_parser *ps = &d->parser;
    feed_held(d);
    settle_pending(d);
    switch (d->mode) {
    case MODE_PARSE:
        if (!disconnect)
            log_read_error(d, error ? error : "", error_len, NULL, 0);
        d->mode = MODE_TERMINATED;
        d->block.len = 0;
        block_append(d, (const uint8_t *)ps->win.carry.data, ps->win.carry.len);
        break;
    case MODE_SKIP:
        if (!disconnect)
            log_read_error(d, error ? error : "", error_len, NULL, 0);
        d->mode = MODE_TERMINATED;
        break;
    case MODE_OVERSIZE:
        if (!disconnect)
            log_read_error(d, error ? error : "", error_len, NULL, 0);
        report_oversize(d, d->stream_len - d->over_start, true);
        d->mode = MODE_TERMINATED;
        d->block.len = 0;
        break;
    default:
        break;
    }
    return d->broken ? -1 : 0;
}

static void finish_parse(vmu_gcs_decoder *d)
{
    gcs_parser *ps = &d->parser;
    if (ps->win.carry.len == 0)
        return;
    if (!gcs_parser_in_container(ps)) {
        /* A number (or literal) at the very end is complete at EOF. */
        yajl_status st = gcs_parser_feed(ps, (const uint8_t *)" ", 1, d->stream_len);
        if (st == yajl_status_client_canceled && ps->stop == GCS_STOP_NOMEM) {
            d->broken = true;
            return;
        }
        if (ps->win.carry.len == 0)
            return;
    }
    static const char cut_off[] = "unexpected EOF";
    const uint8_t *raw = (const uint8_t *)ps->win.carry.data;
    size_t start, len;
    gcs_trim_space(raw, ps->win.carry.len, &start, &len);
    if (d->resync) {
        log_read_error(d, cut_off, sizeof cut_off - 1, raw + start, len);
        return;
    }
    log_read_error(d, cut_off, sizeof cut_off - 1, NULL, 0);
    d->mode = MODE_TERMINATED;
    d->block.len = 0;
    block_append(d, raw, ps->win.carry.len);
    block_flush(d, "gcs terminated");
}

int vmu_gcs_decoder_finish(vmu_gcs_decoder *d)
{
    if (!d || d->broken || d->mode == MODE_DONE)
        return -1;
    feed_held(d);
    settle_pending(d);
    switch (d->mode) {
    case MODE_PARSE:
        finish_parse(d);
        break;
    case MODE_SKIP:
    case MODE_TERMINATED:
        block_flush(d, "gcs terminated");
        break;
    case MODE_OVERSIZE: {
        bool complete = gcs_scan_eof(d->scanner) == GCS_SCAN_END;
        report_oversize(d, d->stream_len - d->over_start, !complete);
        break;
    }
    default:
        break;
    }
    d->mode = MODE_DONE;
    return d->broken ? -1 : 0;
}

void vmu_gcs_decoder_stats(const vmu_gcs_decoder *d, vmu_gcs_stats *out)
{
    out->entries = d ? d->entries : 0;
    out->bytes = d ? d->stream_len : 0;
}

int vmu_gcs_decode_stream(const char *vm_id, const void *data, size_t len,
                          const vmu_gcs_options *opts, vmu_logger *logger, vmu_gcs_stats *stats)
{
    vmu_gcs_decoder *d = vmu_gcs_decoder_new(vm_id, vm_id ? strlen(vm_id) : 0, opts, logger);
    if (!d)
        return -1;
    int rc = vmu_gcs_decoder_feed(d, data, len);
    if (rc == 0)
        rc = vmu_gcs_decoder_finish(d);
    if (stats)
        vmu_gcs_decoder_stats(d, stats);
    vmu_gcs_decoder_free(d);
    return rc;
}
