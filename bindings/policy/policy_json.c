/* The document encoder: Lua tables to JSON with sorted object keys, so that
 * the same request always prints the same bytes (lua-cjson keeps the hash
 * order). Strings and floats are written as Go's encoding/json writes them,
 * since the documents are HCS documents that Go code writes too. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vmutils_internal.h"
#include "policy_internal.h"

#define MAX_DEPTH 128
#define SMALL_OBJECT 16 /* keys sorted on the C stack; larger objects use the heap */

/* An object's values are held on the Lua stack while it is written (no
 * second lookup) only while the whole stack stays under this many slots;
 * past it they are looked up again. 127 nested objects of 4000 keys each
 * would otherwise need a million slots, more than Lua allows. */
#define STACKED_SLOTS_MAX 65536

typedef struct json_key {
    const char *text;
    size_t len;
    lua_Integer number; /* the key itself when is_number */
    int is_number;
    int value;          /* the value's stack index, when held there */
    char digits[VMU_GO_INT_MAX]; /* the text of a number key */
} json_key;

typedef struct encoder {
    lua_State *L;
    vmu_buf *out;
    unsigned indent;
    size_t max_len;
    const char *too_long; /* the message when the text would pass max_len */
    int memo;             /* stack index of the table of written tables */
    unsigned tables; /* encoded so far: the deadline is checked every 1024 */
} encoder;

static void too_long(encoder *e)
{
    if (e->out->failed)
        luaL_error(e->L, VMU_POLICY_ERR_MEMORY);
    luaL_error(e->L, "%s", e->too_long);
}

/* The cap bounds the output: every value writes at least one byte, so a
 * policy that returns the same table under many keys, level after level,
 * stops here instead of making an exponentially long document. */
static void put(encoder *e, const char *s, size_t len)
{
    if (len > e->max_len - e->out->len || vmu_buf_append(e->out, s, len) < 0)
        too_long(e);
}

static void putc_(encoder *e, char c)
{
    if (e->out->len >= e->max_len || vmu_buf_putc(e->out, c) < 0)
        too_long(e);
}

static void newline(encoder *e, int depth)
{
    if (!e->indent)
        return;
    putc_(e, '\n');
    for (unsigned i = 0; i < (unsigned)depth * e->indent; i++)
        putc_(e, ' ');
}

static void put_string(encoder *e, const char *s, size_t len)
{
    if (len > e->max_len - e->out->len || vmu_go_json_string_go122(e->out, s, len) != 0 ||
        e->out->len > e->max_len)
        too_long(e);
}

static void put_integer(encoder *e, lua_Integer n)
{
    char digits[VMU_GO_INT_MAX];
    put(e, digits, vmu_go_int((int64_t)n, digits));
}

static void put_float(encoder *e, double f)
{
    if (!isfinite(f))
        /* encoding/json's words, with strconv's spelling of the value */
        luaL_error(e->L, "json: unsupported value: %s", isnan(f) ? "NaN" : f > 0 ? "+Inf" : "-Inf");
    char text[VMU_GO_FLOAT_MAX];
    put(e, text, vmu_go_float_json(f, text));
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

/* A table met again at the same depth is written as a copy of the text it
 * gave the first time. Scanning a table costs its capacity, not its output
 * (an emptied table of a million slots writes "{}"), so without this a table
 * referenced a million times would be scanned a million times; with it each
 * table is scanned at most once per depth, and the work is bounded by the
 * tables the policy built plus the output. The text depends on the depth
 * only through the indentation, hence one memo per depth:
 * memo[2*depth+1][t] is where t's text starts, memo[2*depth+2][t] its length. */
static int copy_written(encoder *e, int idx, int depth)
{
    lua_State *L = e->L;
    if (lua_rawgeti(L, e->memo, 2 * depth + 1) != LUA_TTABLE) {
        lua_pop(L, 1);
        return 0;
    }
    lua_pushvalue(L, idx);
    if (lua_rawget(L, -2) != LUA_TNUMBER) {
        lua_pop(L, 2);
        return 0;
    }
    size_t start = (size_t)lua_tointeger(L, -1);
    lua_rawgeti(L, e->memo, 2 * depth + 2);
    lua_pushvalue(L, idx);
    lua_rawget(L, -2);
    size_t len = (size_t)lua_tointeger(L, -1);
    lua_pop(L, 4);
    /* The source lies in the buffer itself: make room first, then copy by
     * offset, since growing may move the buffer. */
    if (len > e->max_len - e->out->len || vmu_buf_reserve(e->out, len) < 0)
        too_long(e);
    memcpy(e->out->data + e->out->len, e->out->data + start, len);
    e->out->len += len;
    return 1;
}

static void remember_written(encoder *e, int idx, int depth, size_t start)
{
    lua_State *L = e->L;
    lua_Integer values[2] = {(lua_Integer)start, (lua_Integer)(e->out->len - start)};
    for (int k = 0; k < 2; k++) {
        if (lua_rawgeti(L, e->memo, 2 * depth + 1 + k) != LUA_TTABLE) {
            lua_pop(L, 1);
            lua_newtable(L);
            lua_pushvalue(L, -1);
            lua_rawseti(L, e->memo, 2 * depth + 1 + k);
        }
        lua_pushvalue(L, idx);
        lua_pushinteger(L, values[k]);
        lua_rawset(L, -3);
        lua_pop(L, 1);
    }
}

static void encode_fresh_table(encoder *e, int idx, int depth);

static void encode_table(encoder *e, int idx, int depth)
{
    if (depth >= MAX_DEPTH)
        luaL_error(e->L, "cannot encode the document: nested more than %d levels (a cycle?)",
                   MAX_DEPTH);
    vmu_policy_check_stack(e->L, 8, "document nesting");
    if (copy_written(e, idx, depth))
        return;
    size_t start = e->out->len;
    encode_fresh_table(e, idx, depth);
    remember_written(e, idx, depth, start);
}

static void encode_fresh_table(encoder *e, int idx, int depth)
{
    lua_State *L = e->L;
    if (++e->tables % 1024 == 0)
        vmu_policy_check_deadline(L);

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
     * in a userdata: either way an error below leaves nothing to free. The
     * values of all but huge objects are left on the Lua stack as the
     * iteration meets them (each above a copy of its key, which keeps the
     * key's text alive), so that writing them needs no second lookup. */
    json_key small_keys[SMALL_OBJECT];
    int top = lua_gettop(L);
    json_key *keys = count <= SMALL_OBJECT ? small_keys : lua_newuserdatauv(L, count * sizeof *keys, 0);
    int values_on_stack = count <= STACKED_SLOTS_MAX / 2 &&
                          (size_t)lua_gettop(L) + 2 * count + 8 <= STACKED_SLOTS_MAX;
    if (values_on_stack)
        vmu_policy_check_stack(L, (int)(2 * count) + 4, "document object");
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        json_key *k = &keys[n++];
        if (lua_type(L, -2) == LUA_TSTRING) {
            k->text = lua_tolstring(L, -2, &k->len); /* anchored: it is a key of the table */
            k->is_number = 0;
        } else if (lua_isinteger(L, -2)) {
            k->number = lua_tointeger(L, -2);
            k->is_number = 1;
            k->len = vmu_go_int((int64_t)k->number, k->digits);
            k->text = NULL;
        } else {
            luaL_error(L, "cannot encode a table key of type %s as JSON", luaL_typename(L, -2));
        }
        if (values_on_stack) {
            k->value = lua_gettop(L);
            lua_pushvalue(L, -2); /* the key again, for lua_next */
        } else {
            lua_pop(L, 1);
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
        if (values_on_stack) {
            encode_value(e, keys[i].value, depth + 1);
            continue;
        }
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
            put_integer(e, lua_tointeger(L, idx));
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

void vmu_policy_encode_document(lua_State *L, int idx, unsigned indent, size_t max_len,
                                const char *too_long, vmu_buf *out)
{
    idx = lua_absindex(L, idx);
    vmu_policy_check_stack(L, 8, "document");
    lua_newtable(L);
    encoder e = {L, out, indent, max_len < out->len ? out->len : max_len, too_long, lua_gettop(L), 0};
    encode_value(&e, idx, 0);
    lua_pop(L, 1);
}
