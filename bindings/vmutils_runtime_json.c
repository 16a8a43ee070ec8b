/* The document encoder: Lua tables to JSON with sorted object keys, so that
 * the same request always prints the same bytes (lua-cjson keeps the hash
 * order). Strings and floats are written as Go's encoding/json writes them,
 * since the documents are HCS documents that Go code writes too. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmutils_runtime_internal.h"

#define MAX_DEPTH 128
#define SMALL_OBJECT 16 /* keys sorted on the C stack; larger objects use the heap */

typedef struct json_key {
    const char *text;
    size_t len;
    lua_Integer number; /* the key itself when is_number */
    int is_number;
    char digits[24];    /* the text of a number key */
} json_key;

typedef struct encoder {
    lua_State *L;
    vmu_buf *out;
    unsigned indent;
    size_t max_len;
} encoder;

/* The cap is what bounds the work: every value writes at least one byte, so
 * a policy that returns the same table under many keys, level after level,
 * stops here instead of making an exponentially long document. */
static void put(encoder *e, const char *s, size_t len)
{
    if (len > e->max_len - e->out->len || vmu_buf_append(e->out, s, len) < 0)
        luaL_error(e->L, VMU_RUNTIME_ERR_MEMORY);
}

static void putc_(encoder *e, char c)
{
    if (e->out->len >= e->max_len || vmu_buf_putc(e->out, c) < 0)
        luaL_error(e->L, VMU_RUNTIME_ERR_MEMORY);
}

static void newline(encoder *e, int depth)
{
    if (!e->indent)
        return;
    putc_(e, '\n');
    for (unsigned i = 0; i < (unsigned)depth * e->indent; i++)
        putc_(e, ' ');
}

/* Length of the UTF-8 sequence at s (at most n bytes) and its code point, or
 * 0 when it is not valid UTF-8 (Go then writes U+FFFD for one byte). */
static size_t utf8_decode(const unsigned char *s, size_t n, unsigned long *cp)
{
    unsigned char c = s[0];
    size_t len;
    unsigned long min;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, min = 0x80, *cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, min = 0x800, *cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, min = 0x10000, *cp = c & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        *cp = (*cp << 6) | (s[i] & 0x3F);
    }
    if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF))
        return 0;
    return len;
}

static void put_string(encoder *e, const char *str, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    putc_(e, '"');
    size_t start = 0, i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c < 0x80) {
            if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&') {
                i++;
                continue;
            }
            put(e, str + start, i - start);
            char esc[6] = {'\\', 0, 0, 0, 0, 0};
            size_t esc_len = 2;
            switch (c) {
            case '"': esc[1] = '"'; break;
            case '\\': esc[1] = '\\'; break;
            case '\b': esc[1] = 'b'; break;
            case '\f': esc[1] = 'f'; break;
            case '\n': esc[1] = 'n'; break;
            case '\r': esc[1] = 'r'; break;
            case '\t': esc[1] = 't'; break;
            default:
                esc[1] = 'u', esc[2] = '0', esc[3] = '0', esc[4] = hex[c >> 4], esc[5] = hex[c & 0xF];
                esc_len = 6;
            }
            put(e, esc, esc_len);
            start = ++i;
            continue;
        }
        unsigned long cp = 0;
        size_t n = utf8_decode(s + i, len - i, &cp);
        if (n == 0) {
            put(e, str + start, i - start);
            put(e, "\\ufffd", 6);
            start = ++i;
            continue;
        }
        if (cp == 0x2028 || cp == 0x2029) {
            /* Valid JSON, but not valid JavaScript: Go escapes them. */
            put(e, str + start, i - start);
            put(e, cp == 0x2028 ? "\\u2028" : "\\u2029", 6);
            start = i + n;
        }
        i += n;
    }
    put(e, str + start, len - start);
    putc_(e, '"');
}

/* Go's float64 format for JSON: the shortest digits that read back to the
 * same value, plain decimal between 1e-6 and 1e21, exponent form outside. */
static void put_float(encoder *e, double f)
{
    if (!isfinite(f))
        /* encoding/json's words, with strconv's spelling of the value */
        luaL_error(e->L, "json: unsupported value: %s", isnan(f) ? "NaN" : f > 0 ? "+Inf" : "-Inf");
    if (f == 0) {
        put(e, signbit(f) ? "-0" : "0", signbit(f) ? 2 : 1);
        return;
    }
    char sci[40];
    for (int precision = 1; precision <= 17; precision++) {
        snprintf(sci, sizeof sci, "%.*e", precision - 1, f);
        if (strtod(sci, NULL) == f)
            break;
    }
    /* sci is "[-]d[.ddd]e(+|-)XX": take its digits and exponent apart. */
    char digits[20];
    size_t ndigits = 0;
    const char *p = sci;
    int negative = *p == '-';
    if (negative)
        p++;
    for (; *p && *p != 'e'; p++)
        if (*p != '.')
            digits[ndigits++] = *p;
    int exponent = atoi(p + 1);
    while (ndigits > 1 && digits[ndigits - 1] == '0')
        ndigits--;

    char text[64];
    size_t n = 0;
    if (negative)
        text[n++] = '-';
    double magnitude = fabs(f);
    if (magnitude < 1e-6 || magnitude >= 1e21) {
        text[n++] = digits[0];
        if (ndigits > 1) {
            text[n++] = '.';
            memcpy(text + n, digits + 1, ndigits - 1);
            n += ndigits - 1;
        }
        n += (size_t)snprintf(text + n, sizeof text - n, "e%c%02d", exponent < 0 ? '-' : '+',
                              abs(exponent));
        /* Go's encoder shortens e-07 to e-7. */
        if (exponent < 0 && exponent > -10) {
            text[n - 2] = text[n - 1];
            n--;
        }
    } else if (exponent >= 0) {
        for (int i = 0; i <= exponent; i++)
            text[n++] = (size_t)i < ndigits ? digits[i] : '0';
        if ((size_t)exponent + 1 < ndigits) {
            text[n++] = '.';
            for (size_t i = (size_t)exponent + 1; i < ndigits; i++)
                text[n++] = digits[i];
        }
    } else {
        text[n++] = '0';
        text[n++] = '.';
        for (int i = -1; i > exponent; i--)
            text[n++] = '0';
        memcpy(text + n, digits, ndigits);
        n += ndigits;
    }
    put(e, text, n);
}

/* qsort moves the entries, so a number key's text is found from the entry
 * itself each time, never through a stored pointer. */
static const char *key_text(const json_key *k) { return k->is_number ? k->digits : k->text; }

static int compare_keys(const void *a, const void *b)
{
    const json_key *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(key_text(x), key_text(y), n);
    if (c != 0)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

static void encode_value(encoder *e, int idx, int depth);

static void encode_table(encoder *e, int idx, int depth)
{
    lua_State *L = e->L;
    if (depth >= MAX_DEPTH)
        luaL_error(L, "cannot encode the document: nested more than %d levels (a cycle?)", MAX_DEPTH);
    luaL_checkstack(L, 6, "document nesting");

    size_t count = 0;
    lua_Integer max_index = 0;
    int all_positive_integers = 1;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        count++;
        if (lua_isinteger(L, -1) && lua_tointeger(L, -1) > 0) {
            if (lua_tointeger(L, -1) > max_index)
                max_index = lua_tointeger(L, -1);
        } else {
            all_positive_integers = 0;
        }
    }

    /* A sequence 1..n is an array; anything else, the empty table included,
     * an object (as lua-cjson decides by default). */
    int as_array = count > 0 && all_positive_integers && (size_t)max_index == count;
    if (as_array) {
        putc_(e, '[');
        for (size_t i = 1; i <= count; i++) {
            if (i > 1)
                putc_(e, ',');
            newline(e, depth + 1);
            lua_rawgeti(L, idx, (lua_Integer)i);
            encode_value(e, lua_gettop(L), depth + 1);
            lua_pop(L, 1);
        }
        if (count > 0)
            newline(e, depth);
        putc_(e, ']');
        return;
    }

    /* The keys of a small object live on the C stack, those of a large one
     * in a userdata: either way an error below leaves nothing to free. */
    json_key small_keys[SMALL_OBJECT];
    int top = lua_gettop(L);
    json_key *keys = count <= SMALL_OBJECT ? small_keys : lua_newuserdatauv(L, count * sizeof *keys, 0);
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        json_key *k = &keys[n++];
        if (lua_type(L, -1) == LUA_TSTRING) {
            k->text = lua_tolstring(L, -1, &k->len); /* anchored: it is a key of the table */
            k->is_number = 0;
        } else if (lua_isinteger(L, -1)) {
            k->number = lua_tointeger(L, -1);
            k->is_number = 1;
            k->len = (size_t)snprintf(k->digits, sizeof k->digits, LUA_INTEGER_FMT, k->number);
            k->text = NULL;
        } else {
            luaL_error(L, "cannot encode a table key of type %s as JSON", luaL_typename(L, -1));
        }
    }
    qsort(keys, n, sizeof *keys, compare_keys);

    putc_(e, '{');
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            putc_(e, ',');
        newline(e, depth + 1);
        put_string(e, key_text(&keys[i]), keys[i].len);
        putc_(e, ':');
        if (e->indent)
            putc_(e, ' ');
        if (keys[i].is_number)
            lua_rawgeti(L, idx, keys[i].number);
        else {
            lua_pushlstring(L, keys[i].text, keys[i].len);
            lua_rawget(L, idx);
        }
        encode_value(e, lua_gettop(L), depth + 1);
        lua_pop(L, 1);
    }
    if (n > 0)
        newline(e, depth);
    putc_(e, '}');
    lua_settop(L, top);
}

static void encode_value(encoder *e, int idx, int depth)
{
    lua_State *L = e->L;
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        put_string(e, s, len);
        return;
    }
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            char digits[24];
            int len = snprintf(digits, sizeof digits, LUA_INTEGER_FMT, lua_tointeger(L, idx));
            put(e, digits, (size_t)len);
        } else {
            put_float(e, lua_tonumber(L, idx));
        }
        return;
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, idx))
            put(e, "true", 4);
        else
            put(e, "false", 5);
        return;
    case LUA_TTABLE:
        encode_table(e, idx, depth);
        return;
    case LUA_TNIL:
        put(e, "null", 4);
        return;
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == NULL) { /* cjson.null, vmutils.null */
            put(e, "null", 4);
            return;
        }
        /* fall through */
    default:
        luaL_error(L, "cannot encode a %s value as JSON", luaL_typename(L, idx));
    }
}

void vmu_json_encode(lua_State *L, int idx, unsigned indent, size_t max_len, vmu_buf *out)
{
    idx = lua_absindex(L, idx);
    encoder e = {L, out, indent, max_len < out->len ? out->len : max_len};
    encode_value(&e, idx, 0);
}
