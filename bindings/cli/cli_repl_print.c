/* How the REPL shows a value: Lua syntax, tables with their keys sorted
 * (numbers, then strings, then the rest), short tables on one line, nesting
 * cut at a depth limit and cycles named rather than followed. Everything is
 * built as Lua strings on the stack, so an error in a __tostring metamethod
 * leaves nothing behind. */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "cli.h"

#define LINE_WIDTH 72
#define MAX_ITEMS 1000 /* items shown per table; the rest are counted */
/* Items shown in one value, all tables together: a table that holds the same
 * big table many times, level after level, is exponentially long in full. */
#define MAX_TOTAL_ITEMS 20000

static const char *const keywords[] = {"and",   "break", "do",     "else", "elseif", "end",
                                       "false", "for",   "function", "goto", "if",   "in",
                                       "local", "nil",   "not",    "or",   "repeat", "return",
                                       "then",  "true",  "until",  "while", NULL};

static int is_identifier(const char *s, size_t len)
{
    if (len == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
        return 0;
    for (size_t i = 1; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    for (const char *const *k = keywords; *k; k++)
        if (strlen(*k) == len && memcmp(*k, s, len) == 0)
            return 0;
    return 1;
}

static void push_quoted(lua_State *L, int idx)
{
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addchar(&b, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': luaL_addstring(&b, "\\\""); break;
        case '\\': luaL_addstring(&b, "\\\\"); break;
        case '\n': luaL_addstring(&b, "\\n"); break;
        case '\r': luaL_addstring(&b, "\\r"); break;
        case '\t': luaL_addstring(&b, "\\t"); break;
        default:
            if (c < 0x20 || c == 0x7f) {
                char esc[8];
                /* three digits, so that a following digit cannot join it */
                snprintf(esc, sizeof esc, "\\%03u", c);
                luaL_addstring(&b, esc);
            } else {
                luaL_addchar(&b, (char)c);
            }
        }
    }
    luaL_addchar(&b, '"');
    luaL_pushresult(&b);
}

static int type_rank(lua_State *L, int idx)
{
    switch (lua_type(L, idx)) {
    case LUA_TNUMBER: return 0;
    case LUA_TSTRING: return 1;
    case LUA_TBOOLEAN: return 2;
    default: return 3;
    }
}

/* table.sort comparator over keys: numbers by value, strings by bytes, the
 * rest by their text, each group after the one before. */
static int key_less(lua_State *L)
{
    int ra = type_rank(L, 1), rb = type_rank(L, 2);
    if (ra != rb) {
        lua_pushboolean(L, ra < rb);
        return 1;
    }
    if (ra == 0) {
        lua_pushboolean(L, lua_compare(L, 1, 2, LUA_OPLT));
        return 1;
    }
    if (ra == 2) {
        lua_pushboolean(L, !lua_toboolean(L, 1) && lua_toboolean(L, 2));
        return 1;
    }
    size_t la, lb;
    const char *a = ra == 1 ? lua_tolstring(L, 1, &la) : luaL_tolstring(L, 1, &la);
    const char *b = ra == 1 ? lua_tolstring(L, 2, &lb) : luaL_tolstring(L, 2, &lb);
    int c = memcmp(a, b, la < lb ? la : lb);
    lua_pushboolean(L, c < 0 || (c == 0 && la < lb));
    return 1;
}

/* What one value's printing shares: the nesting limit, the tables being
 * printed (to name cycles), and the items left to show. */
typedef struct print_state {
    int max_depth;
    int ancestors;
    size_t items_left;
} print_state;

static void push_formatted(lua_State *L, int idx, int depth, print_state *ps);

/* Pushes `[key] = ` or `name = ` for a key that is not the next array index. */
static void push_key(lua_State *L, int idx)
{
    if (lua_type(L, idx) == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        if (is_identifier(s, len)) {
            lua_pushfstring(L, "%s = ", s);
            return;
        }
        push_quoted(L, idx);
    } else {
        luaL_tolstring(L, idx, NULL);
    }
    lua_pushfstring(L, "[%s] = ", lua_tostring(L, -1));
    lua_remove(L, -2);
}

/* Pushes the lines of `text` indented by two spaces (after each newline). */
static void push_indented(lua_State *L, const char *text, size_t len)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "  ");
    for (size_t i = 0; i < len; i++) {
        luaL_addchar(&b, text[i]);
        if (text[i] == '\n')
            luaL_addstring(&b, "  ");
    }
    luaL_pushresult(&b);
}

static void push_table(lua_State *L, int t, int depth, print_state *ps)
{
    int ancestors = ps->ancestors;
    lua_pushvalue(L, t);
    if (lua_rawget(L, ancestors) != LUA_TNIL) {
        lua_pop(L, 1);
        lua_pushfstring(L, "<cycle: %s>", luaL_tolstring(L, t, NULL));
        lua_remove(L, -2);
        return;
    }
    lua_pop(L, 1);
    lua_pushnil(L);
    if (!lua_next(L, t)) {
        lua_pushliteral(L, "{}");
        return;
    }
    lua_pop(L, 2);
    if (depth >= ps->max_depth || ps->items_left == 0) {
        lua_pushliteral(L, "{...}");
        return;
    }

    /* The sorted keys. */
    lua_newtable(L);
    int keys = lua_gettop(L);
    lua_Integer nkeys = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_rawseti(L, keys, ++nkeys);
    }
    lua_getglobal(L, "table");
    lua_getfield(L, -1, "sort");
    lua_remove(L, -2);
    lua_pushvalue(L, keys);
    lua_pushcfunction(L, key_less);
    lua_call(L, 2, 0);

    lua_pushvalue(L, t);
    lua_pushboolean(L, 1);
    lua_rawset(L, ancestors);

    /* Each item as a string in `items`; keys 1, 2, 3... go without a key. */
    lua_newtable(L);
    int items = lua_gettop(L);
    size_t total = 0;
    int multiline = 0;
    lua_Integer next_index = 1, shown = 0;
    for (lua_Integer i = 1; i <= nkeys && shown < MAX_ITEMS && ps->items_left > 0;
         i++, shown++) {
        ps->items_left--;
        lua_rawgeti(L, keys, i);
        int key = lua_gettop(L);
        int positional = lua_isinteger(L, key) && lua_tointeger(L, key) == next_index;
        if (positional)
            next_index++;
        else
            push_key(L, key);
        lua_pushvalue(L, key);
        lua_rawget(L, t);
        push_formatted(L, lua_gettop(L), depth + 1, ps);
        lua_remove(L, -2);
        if (!positional)
            lua_concat(L, 2);
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        total += len + 2;
        if (memchr(s, '\n', len))
            multiline = 1;
        lua_rawseti(L, items, i);
        lua_pop(L, 1); /* key */
    }
    if (nkeys > shown) {
        lua_pushfstring(L, "... (%I more)", (LUAI_UACINT)(nkeys - shown));
        lua_rawseti(L, items, shown + 1);
        shown++;
    }

    lua_pushvalue(L, t);
    lua_pushnil(L);
    lua_rawset(L, ancestors);

    luaL_Buffer b;
    if (!multiline && total + 4 <= LINE_WIDTH) {
        luaL_buffinit(L, &b);
        luaL_addstring(&b, "{ ");
        for (lua_Integer i = 1; i <= shown; i++) {
            if (i > 1)
                luaL_addstring(&b, ", ");
            lua_rawgeti(L, items, i);
            luaL_addvalue(&b);
        }
        luaL_addstring(&b, " }");
    } else {
        luaL_buffinit(L, &b);
        luaL_addstring(&b, "{\n");
        for (lua_Integer i = 1; i <= shown; i++) {
            lua_rawgeti(L, items, i);
            size_t len;
            const char *s = lua_tolstring(L, -1, &len);
            push_indented(L, s, len);
            lua_remove(L, -2);
            luaL_addvalue(&b);
            luaL_addstring(&b, i < shown ? ",\n" : "\n");
        }
        luaL_addchar(&b, '}');
    }
    luaL_pushresult(&b);
    lua_replace(L, keys);
    lua_settop(L, keys);
}

static void push_formatted(lua_State *L, int idx, int depth, print_state *ps)
{
    luaL_checkstack(L, 12, "value nesting");
    switch (lua_type(L, idx)) {
    case LUA_TSTRING:
        push_quoted(L, idx);
        return;
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == NULL) {
            lua_pushliteral(L, "vmutils.null");
            return;
        }
        break;
    case LUA_TTABLE:
        if (luaL_getmetafield(L, idx, "__tostring") != LUA_TNIL) {
            lua_pop(L, 1);
            break;
        }
        push_table(L, idx, depth, ps);
        return;
    default:
        break;
    }
    luaL_tolstring(L, idx, NULL);
}

void vmu_repl_format(lua_State *L, int idx, int max_depth, vmu_buf *out)
{
    idx = lua_absindex(L, idx);
    lua_newtable(L);
    print_state ps = {max_depth, lua_gettop(L), MAX_TOTAL_ITEMS};
    push_formatted(L, idx, 0, &ps);
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    if (vmu_buf_append(out, s, len) < 0)
        luaL_error(L, "not enough memory");
    lua_pop(L, 2);
}
