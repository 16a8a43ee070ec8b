/* GCSLogEntry.UnmarshalJSON's rules, applied as the value builder reports
 * the entry's keys and standard members, and on the complete entry (the
 * interface is gcs_entry.h).
 *
 * Go decodes each entry twice: once into the standard struct (time, level,
 * msg, matched case-insensitively, each decoded by its own type's rules)
 * and once into a map of every field. The first decode stops at a value that
 * fails to parse (a bad time or level) but only remembers a type mismatch
 * (a number given to msg) and goes on; the second fails only on a number
 * out of float64 range. Then the rules: the level is clamped to error, the
 * exact lower-case standard keys leave the fields, an ETW entry takes its
 * message from "message" or "Message", and whole floats at the top level
 * become int64. */
#include <string.h>

#include "gcs_entry.h"
#include "../log/gofmt.h"

const char *const gcs_type_error_number = "json: cannot unmarshal number into Go value of type main.standard";
const char *const gcs_type_error_string = "json: cannot unmarshal string into Go value of type main.standard";
const char *const gcs_type_error_bool = "json: cannot unmarshal bool into Go value of type main.standard";
const char *const gcs_type_error_array = "json: cannot unmarshal array into Go value of type main.standard";

void gcs_entry_init(gcs_entry_state *e)
{
    e->source_member = e->lower_message_member = e->upper_message_member = SIZE_MAX;
}

void gcs_entry_free(gcs_entry_state *e)
{
    vmu_free(e->marks);
    e->marks = NULL;
    e->mark_count = e->mark_cap = 0;
}

__attribute__((noinline)) int gcs_entry_mark_grown(gcs_entry_state *e, size_t member, uint8_t kind)
{
    if (gcs_grow((void **)&e->marks, &e->mark_cap, e->mark_count + 1, sizeof *e->marks) != 0)
        return -1;
    e->marks[e->mark_count].member = (uint32_t)member;
    e->marks[e->mark_count].kind = kind;
    e->mark_count++;
    return 0;
}

/* ---- the standard struct's decode, member by member ---- */

/* A standard member failed: the first decode ends here (FAIL_NOW), or
 * goes on with the first such error saved (FAIL_SAVED). */
static int std_fail(gcs_entry_state *e, gcs_arena *arena, uint8_t how, vmu_buf *text)
{
    gcs_std_state *st = &e->std;
    if (text->failed)
        return -1;
    if (how == GCS_OUT_FAIL_SAVED && st->failed)
        return 0;
    st->error = gcs_arena_copy(arena, text->data ? text->data : "", text->len);
    st->error_len = text->len;
    st->failed = how;
    return st->error ? 0 : -1;
}

/* gcs_entry_value for the values its short path did not settle: Go's exact
 * parsers and error texts. 0, or -1 on OOM. */
static __attribute__((noinline)) int std_outcome_slow(gcs_entry_state *e, gcs_arena *arena,
                                                      uint8_t which, const vmu_value *v,
                                                      const uint8_t *raw, size_t raw_len)
{
    gcs_std_state *st = &e->std;
    vmu_buf text;
    vmu_buf_init(&text);
    int rc = 0;
    if (which == GCS_STD_TIME) {
        /* time.Time decodes itself from the raw text, whatever its type. */
        int t = gcs_time_unmarshal_json(raw, raw_len, &st->time, &text);
        if (t == -2)
            rc = -1;
        else if (t == 0)
            st->set |= 1u << GCS_STD_TIME;
        else
            rc = std_fail(e, arena, GCS_OUT_FAIL_NOW, &text);
    } else if (v->kind == VMU_VALUE_STRING) {
        /* A level that is not a logrus name. */
        if (vmu_buf_puts(&text, "not a valid logrus Level: ") != 0 ||
            vmu_format_go_quote(v->as.str.ptr, v->as.str.len, &text) != 0)
            rc = -1;
        else
            rc = std_fail(e, arena, GCS_OUT_FAIL_NOW, &text);
    } else if (!st->failed) {
        const char *kind = v->kind == VMU_VALUE_BOOL     ? "bool"
                           : v->kind == VMU_VALUE_OBJECT ? "object"
                           : v->kind == VMU_VALUE_ARRAY  ? "array"
                                                         : "number";
        if (vmu_buf_printf(&text, "json: cannot unmarshal %s into Go struct field standard.%s of type %s",
                           kind, which == GCS_STD_LEVEL ? "level" : "msg",
                           which == GCS_STD_LEVEL ? "logrus.Level" : "string") != 0)
            rc = -1;
        else
            rc = std_fail(e, arena, GCS_OUT_FAIL_SAVED, &text);
    }
    vmu_buf_free(&text);
    return rc;
}

int gcs_entry_value(gcs_entry_state *e, gcs_arena *arena, size_t member, const vmu_value *v,
                    const uint8_t *raw, size_t raw_len)
{
    uint8_t which = e->pending_std;
    e->pending_std = GCS_STD_NONE;
    /* How the value decodes into the standard struct: the usual texts here,
     * the rest in std_outcome_slow. */
    gcs_std_state *st = &e->std;
    /* After an error that stops it, the decode sees no more members; null
     * leaves a field alone. */
    if (st->failed == GCS_OUT_FAIL_NOW || v->kind == VMU_VALUE_NULL)
        return 0;
    if (which == GCS_STD_MSG && v->kind == VMU_VALUE_STRING) {
        st->msg_member = member;
        st->set |= 1u << GCS_STD_MSG;
        return 0;
    }
    if (which == GCS_STD_TIME && gcs_time_fast_cached(&e->time_cache, raw, raw_len, &st->time) == 0) {
        st->set |= 1u << GCS_STD_TIME;
        return 0;
    }
    if (which == GCS_STD_LEVEL && v->kind == VMU_VALUE_STRING &&
        vmu_log_level_parse(v->as.str.ptr, v->as.str.len, &st->level) == 0) {
        st->set |= 1u << GCS_STD_LEVEL;
        return 0;
    }
    return std_outcome_slow(e, arena, which, v, raw, raw_len);
}

int gcs_entry_number_out_of_range(gcs_entry_state *e, gcs_arena *arena, const char *s, size_t len)
{
    if (e->map_error)
        return 0;
    static const char head[] = "json: cannot unmarshal number ";
    static const char tail[] = " into Go value of type float64";
    size_t n = sizeof head - 1 + len + sizeof tail - 1;
    char *text = gcs_arena_alloc(arena, n);
    if (!text)
        return -1;
    memcpy(text, head, sizeof head - 1);
    memcpy(text + sizeof head - 1, s, len);
    memcpy(text + sizeof head - 1 + len, tail, sizeof tail - 1);
    e->map_error = text;
    e->map_error_len = n;
    return 0;
}

/* ---- the whole entry ---- */

/* The member a "message"/"Message" mark names when it is a string. */
static const vmu_field *string_member(const vmu_field *members, size_t index)
{
    if (index == SIZE_MAX || members[index].value.kind != VMU_VALUE_STRING)
        return NULL;
    return &members[index];
}

void gcs_entry_apply(const gcs_entry_state *e, vmu_field *members, size_t count,
                     gcs_entry_result *out)
{
    out->ok = false;
    out->level = VMU_LEVEL_INFO;
    out->msg = "";
    out->msg_len = 0;
    out->time = gcs_time_zero();
    out->error = NULL;
    out->error_len = 0;
    out->field_start = 0;
    out->field_count = 0;

    const gcs_std_state *std = &e->std;
    if (std->failed) {
        out->error = std->error;
        out->error_len = std->error_len;
        return;
    }
    if (e->map_error) {
        out->error = e->map_error;
        out->error_len = e->map_error_len;
        return;
    }

    if (std->set & (1u << GCS_STD_TIME))
        out->time = std->time;
    if (std->set & (1u << GCS_STD_LEVEL))
        out->level = std->level;
    if (std->set & (1u << GCS_STD_MSG)) {
        const vmu_value *v = &members[std->msg_member].value;
        out->msg = v->as.str.ptr;
        out->msg_len = v->as.str.len;
    }
    /* The guest may not raise fatal or panic on the host. */
    if (out->level < VMU_LEVEL_ERROR)
        out->level = VMU_LEVEL_ERROR;

    /* ETW entries carry their text under the last "message" or, if that is
     * no string, the last "Message": every member of that key goes. */
    int etw_mark = -1;
    const vmu_field *source = string_member(members, e->source_member);
    if (source && source->value.as.str.len == 3 && memcmp(source->value.as.str.ptr, "ETW", 3) == 0) {
        const vmu_field *text = string_member(members, e->lower_message_member);
        etw_mark = GCS_MARK_LOWER_MESSAGE;
        if (!text) {
            text = string_member(members, e->upper_message_member);
            etw_mark = GCS_MARK_UPPER_MESSAGE;
        }
        if (text) {
            out->msg = text->value.as.str.ptr;
            out->msg_len = text->value.as.str.len;
        } else {
            etw_mark = -1;
        }
    }

    /* The deletions, from the last: the members after each deleted one
     * move up by the number deleted after them, so the kept ones end at
     * the old end, and deleted members that lead (the usual standard keys)
     * cost no move at all. */
    size_t end = count, gone = 0;
    for (size_t m = e->mark_count; m-- > 0;) {
        const gcs_key_mark *k = &e->marks[m];
        if (k->kind != GCS_MARK_STD && k->kind != etw_mark)
            continue;
        size_t at = k->member;
        if (gone && end - at > 1)
            memmove(members + at + 1 + gone, members + at + 1, (end - at - 1) * sizeof *members);
        gone++;
        end = at;
    }
    if (gone && end)
        memmove(members + gone, members, end * sizeof *members);
    out->field_start = gone;
    out->field_count = count - gone;
    out->ok = true;
}

