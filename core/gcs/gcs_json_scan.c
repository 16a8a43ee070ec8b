/* Go's encoding/json scanner (Go 1.19 scanner.go) as a byte-at-a-time state
 * machine: the same states, the same nesting limit and the same error texts.
 *
 * yajl decodes the stream; this scanner answers the questions where Go's own
 * wording or position matters and yajl cannot: the SyntaxError text that
 * decode_gcs_log_entry returns, the exact byte a syntax error is at, and the
 * end of an entry too large to hand to yajl (its memory stays O(depth)). */
#include <string.h>

#include "gcs_json_scan.h"
#include "../log/gofmt.h"

enum {
    ST_BEGIN_VALUE_OR_EMPTY,
    ST_BEGIN_VALUE,
    ST_BEGIN_STRING_OR_EMPTY,
    ST_BEGIN_STRING,
    ST_END_VALUE,
    ST_END_TOP,
    ST_IN_STRING,
    ST_IN_STRING_ESC,
    ST_IN_STRING_ESC_U,
    ST_IN_STRING_ESC_U1,
    ST_IN_STRING_ESC_U12,
    ST_IN_STRING_ESC_U123,
    ST_NEG,
    ST_1,
    ST_0,
    ST_DOT,
    ST_DOT0,
    ST_E,
    ST_E_SIGN,
    ST_E0,
    ST_T,
    ST_TR,
    ST_TRU,
    ST_F,
    ST_FA,
    ST_FAL,
    ST_FALS,
    ST_N,
    ST_NU,
    ST_NUL,
    ST_ERROR
};

enum { PARSE_OBJECT_KEY, PARSE_OBJECT_VALUE, PARSE_ARRAY_VALUE };

/* The context words of each error, in scanner.go's wording. */
enum {
    CTX_NONE,
    CTX_BEGIN_VALUE,
    CTX_BEGIN_KEY,
    CTX_AFTER_KEY,
    CTX_AFTER_PAIR,
    CTX_AFTER_ELEMENT,
    CTX_AFTER_TOP,
    CTX_IN_STRING,
    CTX_IN_ESCAPE,
    CTX_IN_HEX,
    CTX_IN_NUMBER,
    CTX_AFTER_DOT,
    CTX_IN_EXPONENT,
    CTX_TRUE_R,
    CTX_TRUE_U,
    CTX_TRUE_E,
    CTX_FALSE_A,
    CTX_FALSE_L,
    CTX_FALSE_S,
    CTX_FALSE_E,
    CTX_NULL_U,
    CTX_NULL_L,
    CTX_MAX_DEPTH,
    CTX_UNEXPECTED_EOF
};

static const char *const context_text[] = {
    [CTX_NONE] = "",
    [CTX_BEGIN_VALUE] = "looking for beginning of value",
    [CTX_BEGIN_KEY] = "looking for beginning of object key string",
    [CTX_AFTER_KEY] = "after object key",
    [CTX_AFTER_PAIR] = "after object key:value pair",
    [CTX_AFTER_ELEMENT] = "after array element",
    [CTX_AFTER_TOP] = "after top-level value",
    [CTX_IN_STRING] = "in string literal",
    [CTX_IN_ESCAPE] = "in string escape code",
    [CTX_IN_HEX] = "in \\u hexadecimal character escape",
    [CTX_IN_NUMBER] = "in numeric literal",
    [CTX_AFTER_DOT] = "after decimal point in numeric literal",
    [CTX_IN_EXPONENT] = "in exponent of numeric literal",
    [CTX_TRUE_R] = "in literal true (expecting 'r')",
    [CTX_TRUE_U] = "in literal true (expecting 'u')",
    [CTX_TRUE_E] = "in literal true (expecting 'e')",
    [CTX_FALSE_A] = "in literal false (expecting 'a')",
    [CTX_FALSE_L] = "in literal false (expecting 'l')",
    [CTX_FALSE_S] = "in literal false (expecting 's')",
    [CTX_FALSE_E] = "in literal false (expecting 'e')",
    [CTX_NULL_U] = "in literal null (expecting 'u')",
    [CTX_NULL_L] = "in literal null (expecting 'l')",
    [CTX_MAX_DEPTH] = "exceeded max depth",
    [CTX_UNEXPECTED_EOF] = "",
};

static int fail(gcs_json_scanner *s, uint8_t c, uint8_t context)
{
    s->step = ST_ERROR;
    s->err_byte = c;
    s->err_context = context;
    return GCS_SCAN_ERROR;
}

static bool is_hex(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

void gcs_scan_reset(gcs_json_scanner *s)
{
    s->step = ST_BEGIN_VALUE;
    s->depth = 0;
    s->err_context = CTX_NONE;
    s->err_byte = 0;
    s->end_top = false;
    s->bytes = 0;
}

static int push(gcs_json_scanner *s, uint8_t c, uint8_t state, int success)
{
    /* Go appends first and complains past the limit. */
    if (s->depth >= GCS_MAX_DEPTH)
        return fail(s, c, CTX_MAX_DEPTH);
    s->parse_state[s->depth++] = state;
    return success;
}

static void pop(gcs_json_scanner *s)
{
    s->depth--;
    if (s->depth == 0) {
        s->step = ST_END_TOP;
        s->end_top = true;
    } else {
        s->step = ST_END_VALUE;
    }
}

static int end_top(gcs_json_scanner *s, uint8_t c)
{
    /* The error is only reported on the next byte; this one ends the value. */
    if (!gcs_json_space(c))
        fail(s, c, CTX_AFTER_TOP);
    return GCS_SCAN_END;
}

static int end_value(gcs_json_scanner *s, uint8_t c)
{
    if (s->depth == 0) {
        s->step = ST_END_TOP;
        s->end_top = true;
        return end_top(s, c);
    }
    if (gcs_json_space(c)) {
        s->step = ST_END_VALUE;
        return GCS_SCAN_SKIP_SPACE;
    }
    uint8_t *ps = &s->parse_state[s->depth - 1];
    switch (*ps) {
    case PARSE_OBJECT_KEY:
        if (c == ':') {
            *ps = PARSE_OBJECT_VALUE;
            s->step = ST_BEGIN_VALUE;
            return GCS_SCAN_OBJECT_KEY;
        }
        return fail(s, c, CTX_AFTER_KEY);
    case PARSE_OBJECT_VALUE:
        if (c == ',') {
            *ps = PARSE_OBJECT_KEY;
            s->step = ST_BEGIN_STRING;
            return GCS_SCAN_OBJECT_VALUE;
        }
        if (c == '}') {
            pop(s);
            return GCS_SCAN_END_OBJECT;
        }
        return fail(s, c, CTX_AFTER_PAIR);
    default:
        if (c == ',') {
            s->step = ST_BEGIN_VALUE;
            return GCS_SCAN_ARRAY_VALUE;
        }
        if (c == ']') {
            pop(s);
            return GCS_SCAN_END_ARRAY;
        }
        return fail(s, c, CTX_AFTER_ELEMENT);
    }
}

static int begin_value(gcs_json_scanner *s, uint8_t c)
{
    if (gcs_json_space(c))
        return GCS_SCAN_SKIP_SPACE;
    switch (c) {
    case '{':
        s->step = ST_BEGIN_STRING_OR_EMPTY;
        return push(s, c, PARSE_OBJECT_KEY, GCS_SCAN_BEGIN_OBJECT);
    case '[':
        s->step = ST_BEGIN_VALUE_OR_EMPTY;
        return push(s, c, PARSE_ARRAY_VALUE, GCS_SCAN_BEGIN_ARRAY);
    case '"':
        s->step = ST_IN_STRING;
        return GCS_SCAN_BEGIN_LITERAL;
    case '-':
        s->step = ST_NEG;
        return GCS_SCAN_BEGIN_LITERAL;
    case '0':
        s->step = ST_0;
        return GCS_SCAN_BEGIN_LITERAL;
    case 't':
        s->step = ST_T;
        return GCS_SCAN_BEGIN_LITERAL;
    case 'f':
        s->step = ST_F;
        return GCS_SCAN_BEGIN_LITERAL;
    case 'n':
        s->step = ST_N;
        return GCS_SCAN_BEGIN_LITERAL;
    }
    if (c >= '1' && c <= '9') {
        s->step = ST_1;
        return GCS_SCAN_BEGIN_LITERAL;
    }
    return fail(s, c, CTX_BEGIN_VALUE);
}

static int begin_string(gcs_json_scanner *s, uint8_t c)
{
    if (gcs_json_space(c))
        return GCS_SCAN_SKIP_SPACE;
    if (c == '"') {
        s->step = ST_IN_STRING;
        return GCS_SCAN_BEGIN_LITERAL;
    }
    return fail(s, c, CTX_BEGIN_KEY);
}

static int state0(gcs_json_scanner *s, uint8_t c)
{
    if (c == '.') {
        s->step = ST_DOT;
        return GCS_SCAN_CONTINUE;
    }
    if (c == 'e' || c == 'E') {
        s->step = ST_E;
        return GCS_SCAN_CONTINUE;
    }
    return end_value(s, c);
}

static int e_sign(gcs_json_scanner *s, uint8_t c)
{
    if (c >= '0' && c <= '9') {
        s->step = ST_E0;
        return GCS_SCAN_CONTINUE;
    }
    return fail(s, c, CTX_IN_EXPONENT);
}

/* One letter of true/false/null: `want` or an error in `context`. */
static int literal(gcs_json_scanner *s, uint8_t c, uint8_t want, uint8_t next, uint8_t context)
{
    if (c == want) {
        s->step = next;
        return GCS_SCAN_CONTINUE;
    }
    return fail(s, c, context);
}

int gcs_scan_step(gcs_json_scanner *s, uint8_t c)
{
    s->bytes++;
    switch (s->step) {
    case ST_BEGIN_VALUE_OR_EMPTY:
        if (gcs_json_space(c))
            return GCS_SCAN_SKIP_SPACE;
        if (c == ']')
            return end_value(s, c);
        return begin_value(s, c);
    case ST_BEGIN_VALUE:
        return begin_value(s, c);
    case ST_BEGIN_STRING_OR_EMPTY:
        if (gcs_json_space(c))
            return GCS_SCAN_SKIP_SPACE;
        if (c == '}') {
            s->parse_state[s->depth - 1] = PARSE_OBJECT_VALUE;
            return end_value(s, c);
        }
        return begin_string(s, c);
    case ST_BEGIN_STRING:
        return begin_string(s, c);
    case ST_END_VALUE:
        return end_value(s, c);
    case ST_END_TOP:
        return end_top(s, c);
    case ST_IN_STRING:
        if (c == '"') {
            s->step = ST_END_VALUE;
            return GCS_SCAN_CONTINUE;
        }
        if (c == '\\') {
            s->step = ST_IN_STRING_ESC;
            return GCS_SCAN_CONTINUE;
        }
        if (c < 0x20)
            return fail(s, c, CTX_IN_STRING);
        return GCS_SCAN_CONTINUE;
    case ST_IN_STRING_ESC:
        switch (c) {
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
        case '\\':
        case '/':
        case '"':
            s->step = ST_IN_STRING;
            return GCS_SCAN_CONTINUE;
        case 'u':
            s->step = ST_IN_STRING_ESC_U;
            return GCS_SCAN_CONTINUE;
        }
        return fail(s, c, CTX_IN_ESCAPE);
    case ST_IN_STRING_ESC_U:
    case ST_IN_STRING_ESC_U1:
    case ST_IN_STRING_ESC_U12:
    case ST_IN_STRING_ESC_U123:
        if (!is_hex(c))
            return fail(s, c, CTX_IN_HEX);
        s->step = s->step == ST_IN_STRING_ESC_U123 ? ST_IN_STRING : s->step + 1;
        return GCS_SCAN_CONTINUE;
    case ST_NEG:
        if (c == '0') {
            s->step = ST_0;
            return GCS_SCAN_CONTINUE;
        }
        if (c >= '1' && c <= '9') {
            s->step = ST_1;
            return GCS_SCAN_CONTINUE;
        }
        return fail(s, c, CTX_IN_NUMBER);
    case ST_1:
        if (c >= '0' && c <= '9')
            return GCS_SCAN_CONTINUE;
        return state0(s, c);
    case ST_0:
        return state0(s, c);
    case ST_DOT:
        if (c >= '0' && c <= '9') {
            s->step = ST_DOT0;
            return GCS_SCAN_CONTINUE;
        }
        return fail(s, c, CTX_AFTER_DOT);
    case ST_DOT0:
        if (c >= '0' && c <= '9')
            return GCS_SCAN_CONTINUE;
        if (c == 'e' || c == 'E') {
            s->step = ST_E;
            return GCS_SCAN_CONTINUE;
        }
        return end_value(s, c);
    case ST_E:
        if (c == '+' || c == '-') {
            s->step = ST_E_SIGN;
            return GCS_SCAN_CONTINUE;
        }
        return e_sign(s, c);
    case ST_E_SIGN:
        return e_sign(s, c);
    case ST_E0:
        if (c >= '0' && c <= '9')
            return GCS_SCAN_CONTINUE;
        return end_value(s, c);
    case ST_T:
        return literal(s, c, 'r', ST_TR, CTX_TRUE_R);
    case ST_TR:
        return literal(s, c, 'u', ST_TRU, CTX_TRUE_U);
    case ST_TRU:
        return literal(s, c, 'e', ST_END_VALUE, CTX_TRUE_E);
    case ST_F:
        return literal(s, c, 'a', ST_FA, CTX_FALSE_A);
    case ST_FA:
        return literal(s, c, 'l', ST_FAL, CTX_FALSE_L);
    case ST_FAL:
        return literal(s, c, 's', ST_FALS, CTX_FALSE_S);
    case ST_FALS:
        return literal(s, c, 'e', ST_END_VALUE, CTX_FALSE_E);
    case ST_N:
        return literal(s, c, 'u', ST_NU, CTX_NULL_U);
    case ST_NU:
        return literal(s, c, 'l', ST_NUL, CTX_NULL_L);
    case ST_NUL:
        return literal(s, c, 'l', ST_END_VALUE, CTX_NULL_L);
    default:
        return GCS_SCAN_ERROR;
    }
}

int gcs_scan_eof(gcs_json_scanner *s)
{
    if (s->err_context != CTX_NONE)
        return GCS_SCAN_ERROR;
    if (s->end_top)
        return GCS_SCAN_END;
    /* The step's own error (if any) is replaced by the EOF message only when
     * it set none, as Go does. */
    uint64_t bytes = s->bytes;
    gcs_scan_step(s, ' ');
    s->bytes = bytes;
    if (s->end_top)
        return GCS_SCAN_END;
    if (s->err_context == CTX_NONE) {
        s->step = ST_ERROR;
        s->err_context = CTX_UNEXPECTED_EOF;
    }
    return GCS_SCAN_ERROR;
}

/* quoteChar: the byte as a rune, in single quotes, as strconv.Quote would
 * write its body. */
static int quote_char(uint8_t c, vmu_buf *out)
{
    if (c == '\'')
        return vmu_buf_puts(out, "'\\''");
    if (c == '"')
        return vmu_buf_puts(out, "'\"'");
    char utf8[2];
    size_t n = 0;
    if (c < 0x80) {
        utf8[n++] = (char)c;
    } else {
        utf8[n++] = (char)(0xc0 | (c >> 6));
        utf8[n++] = (char)(0x80 | (c & 0x3f));
    }
    char quoted[VMU_GO_QUOTE_MAX(2)];
    size_t q = vmu_go_quote_into(utf8, n, quoted);
    if (vmu_buf_putc(out, '\'') != 0 || vmu_buf_append(out, quoted + 1, q - 2) != 0)
        return -1;
    return vmu_buf_putc(out, '\'');
}

int gcs_scan_error_text(const gcs_json_scanner *s, vmu_buf *out)
{
    if (s->err_context == CTX_UNEXPECTED_EOF)
        return vmu_buf_puts(out, "unexpected end of JSON input");
    if (vmu_buf_puts(out, "invalid character ") != 0 || quote_char(s->err_byte, out) != 0 ||
        vmu_buf_putc(out, ' ') != 0)
        return -1;
    return vmu_buf_puts(out, context_text[s->err_context]);
}

int gcs_json_check_valid(const uint8_t *data, size_t len, gcs_json_scanner *s, vmu_buf *msg)
{
    gcs_scan_reset(s);
    for (size_t i = 0; i < len; i++) {
        if (gcs_scan_step(s, data[i]) == GCS_SCAN_ERROR) {
            if (msg)
                gcs_scan_error_text(s, msg);
            return -1;
        }
    }
    if (gcs_scan_eof(s) == GCS_SCAN_ERROR) {
        if (msg)
            gcs_scan_error_text(s, msg);
        return -1;
    }
    return 0;
}
