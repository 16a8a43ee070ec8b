/* Request preparation: what the runtime does between decoding a request's
 * JSON and handing it to the policy, so that every policy sees the same
 * shape: annotations a string map, host facts present, options a table. */
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <yajl/yajl_parse.h>

#include "vmutils_internal.h"
#include "policy_internal.h"

/* ---- the strict check ----------------------------------------------------
 * yajl's parser follows RFC 8259 to the letter (no hexadecimal, nan, inf,
 * comments, trailing text; valid UTF-8), while lua-cjson, which builds the
 * request table, is lenient; so the text is checked with yajl first. The
 * callbacks see what the table no longer tells: an array where an object
 * belongs ([] and {} both decode to an empty table). */

typedef struct json_check {
    yajl_handle handle;
    size_t depth;         /* containers open */
    const char *no_array; /* set while the value of a member that may not be an array comes */
    char problem[160];    /* set when a callback stops the parse */
    size_t offset;
} json_check;

static size_t token_start(json_check *c)
{
    size_t end = yajl_get_bytes_consumed(c->handle);
    return end ? end - 1 : 0;
}

/* A value starts: `kind` names it as the messages do. */
static int check_value(json_check *c, const char *kind, int is_array, int is_map)
{
    if (c->depth == 0 && !is_map) {
        snprintf(c->problem, sizeof c->problem, "must be a JSON object, got %s", kind);
        c->offset = token_start(c);
        return 0;
    }
    if (is_array && c->no_array) {
        snprintf(c->problem, sizeof c->problem, "%s", c->no_array);
        c->offset = token_start(c);
        return 0;
    }
    c->no_array = NULL;
    return 1;
}

static int on_null(void *ctx) { return check_value(ctx, "null", 0, 0); }
static int on_boolean(void *ctx, int b)
{
    (void)b;
    return check_value(ctx, "boolean", 0, 0);
}
static int on_number(void *ctx, const char *s, size_t len)
{
    (void)s, (void)len;
    return check_value(ctx, "number", 0, 0);
}
static int on_string(void *ctx, const unsigned char *s, size_t len)
{
    (void)s, (void)len;
    return check_value(ctx, "string", 0, 0);
}

static int on_start_map(void *ctx)
{
    json_check *c = ctx;
    if (!check_value(c, "an object", 0, 1))
        return 0;
    c->depth++;
    return 1;
}

static int on_start_array(void *ctx)
{
    json_check *c = ctx;
    if (!check_value(c, "an array", 1, 0))
        return 0;
    c->depth++;
    return 1;
}

static int on_end(void *ctx)
{
    ((json_check *)ctx)->depth--;
    return 1;
}

static int on_map_key(void *ctx, const unsigned char *key, size_t len)
{
    json_check *c = ctx;
    c->no_array = NULL;
    if (c->depth != 1)
        return 1;
    /* The words of the checks that run on the table (check_annotations,
     * fill_host, decode_options), which cannot see an empty array. */
    static const struct {
        const char *name, *message;
    } members[] = {
        {"host", "host must be an object, got an array"},
        {"annotations", "annotations must be an object of strings, not an array"},
        {"options", "options must be a base64 string or an object, got an array"},
    };
    for (size_t i = 0; i < sizeof members / sizeof members[0]; i++)
        if (strlen(members[i].name) == len && memcmp(members[i].name, key, len) == 0)
            c->no_array = members[i].message;
    return 1;
}

static const yajl_callbacks check_callbacks = {
    on_null, on_boolean, NULL, NULL, on_number, on_string,
    on_start_map, on_map_key, on_end, on_start_array, on_end,
};

/* Trims yajl's message ("lexical error: invalid char in json text.\n"). */
static void copy_yajl_error(json_check *c, const char *json, size_t len)
{
    unsigned char *text = yajl_get_error(c->handle, 0, (const unsigned char *)json, len);
    size_t n = text ? strlen((const char *)text) : 0;
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' ' || text[n - 1] == '.'))
        n--;
    snprintf(c->problem, sizeof c->problem, "invalid JSON: %.*s", (int)n,
             text ? (const char *)text : "");
    if (text)
        yajl_free_error(c->handle, text);
}

void vmu_request_check_json(lua_State *L, const char *json, size_t len)
{
    json_check c;
    memset(&c, 0, sizeof c);
    c.handle = yajl_alloc(&check_callbacks, NULL, &c);
    if (!c.handle)
        luaL_error(L, VMU_POLICY_ERR_MEMORY);
    yajl_status status = yajl_parse(c.handle, (const unsigned char *)json, len);
    if (status == yajl_status_ok) {
        status = yajl_complete_parse(c.handle);
        if (status == yajl_status_error) {
            copy_yajl_error(&c, json, len);
            c.offset = len;
        }
    } else if (status == yajl_status_error) {
        copy_yajl_error(&c, json, len);
        /* yajl has consumed the byte it stumbled on */
        size_t consumed = yajl_get_bytes_consumed(c.handle);
        c.offset = consumed ? consumed - 1 : 0;
    }
    yajl_free(c.handle);
    if (status != yajl_status_ok)
        luaL_error(L, "request: %s at byte offset %I", c.problem, (lua_Integer)c.offset);
}

/* Pushes the bytes that a base64 string field stands for. */
static void push_base64_decoded(lua_State *L, int idx, const char *what)
{
    size_t len;
    const char *text = lua_tolstring(L, idx, &len);
    luaL_Buffer b;
    unsigned char *out = (unsigned char *)luaL_buffinitsize(L, &b, VMU_BASE64_DECODED_MAX(len));
    size_t n = 0, bad_at = 0;
    if (vmu_base64_decode(text, len, out, &n, &bad_at) != 0)
        luaL_error(L, "request: %s: illegal base64 data at input byte %I", what,
                   (lua_Integer)bad_at);
    luaL_pushresultsize(&b, n);
}

static int is_null(lua_State *L, int idx)
{
    return lua_isnoneornil(L, idx) || (lua_islightuserdata(L, idx) && lua_touserdata(L, idx) == NULL);
}

static void check_annotations(lua_State *L, int request)
{
    lua_getfield(L, request, "annotations");
    if (is_null(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_setfield(L, request, "annotations");
        return;
    }
    if (!lua_istable(L, -1))
        luaL_error(L, "request: annotations must be an object of strings, got %s",
                   luaL_typename(L, -1));
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "request: annotations must be an object of strings, not an array");
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "request: annotation \"%s\" must be a string, got %s",
                       lua_tostring(L, -2), luaL_typename(L, -1));
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

static const char *go_arch(void)
{
    struct utsname u;
    if (uname(&u) != 0)
        return "amd64";
    static const struct {
        const char *machine, *goarch;
    } names[] = {{"x86_64", "amd64"}, {"aarch64", "arm64"}, {"arm64", "arm64"}, {"i686", "386"},
                 {"i386", "386"},     {"armv7l", "arm"},    {"riscv64", "riscv64"},
                 {"ppc64le", "ppc64le"}, {"s390x", "s390x"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(u.machine, names[i].machine) == 0)
            return names[i].goarch;
    return "amd64";
}

/* The host facts the request leaves out come from this machine; each is
 * looked up only when missing (each costs a system call or a file read).
 * A Linux machine has no Windows build: os_build is checked when given and
 * otherwise left to the policy, which knows what build it assumes. */
typedef enum host_fact { FACT_NONE, FACT_PROCESSORS, FACT_ARCH, FACT_CWD } host_fact;

static void push_host_fact(lua_State *L, host_fact fact)
{
    switch (fact) {
    case FACT_NONE:
        lua_pushnil(L);
        break;
    case FACT_PROCESSORS: {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        lua_pushinteger(L, cpus > 0 ? cpus : 1);
        break;
    }
    case FACT_ARCH:
        lua_pushstring(L, go_arch());
        break;
    case FACT_CWD: {
        char cwd[4096];
        lua_pushstring(L, getcwd(cwd, sizeof cwd) ? cwd : "/");
        break;
    }
    }
}

/* A host fact: its name, where a missing one comes from (FACT_NONE: it
 * stays missing), and what a given one must be (a string, or an integer in
 * [0, max]: the Go type the vmutils functions take it as, so that a policy
 * passing it on meets no argument error). */
typedef struct fact_rule {
    const char *name;
    host_fact fact;
    int type;
    lua_Integer max;
} fact_rule;

static const fact_rule fact_rules[] = {
    {"os_build", FACT_NONE, LUA_TNUMBER, 65535},                        /* osversion: uint16 */
    {"logical_processor_count", FACT_PROCESSORS, LUA_TNUMBER, UINT32_MAX}, /* hcsschema: uint32 */
    {"arch", FACT_ARCH, LUA_TSTRING, 0},
    {"cwd", FACT_CWD, LUA_TSTRING, 0},
};

static void default_fact(lua_State *L, int host, const fact_rule *rule)
{
    int type = lua_getfield(L, host, rule->name);
    if (is_null(L, -1)) {
        push_host_fact(L, rule->fact); /* nil also removes a JSON null */
        lua_setfield(L, host, rule->name);
    } else if (rule->type == LUA_TSTRING && type != LUA_TSTRING) {
        luaL_error(L, "request: host.%s must be a string, got %s", rule->name, luaL_typename(L, -1));
    } else if (rule->type == LUA_TNUMBER) {
        /* integerize() already turned integral floats into integers */
        if (!lua_isinteger(L, -1))
            luaL_error(L, "request: host.%s must be an integer, got %s", rule->name,
                       luaL_typename(L, -1));
        lua_Integer v = lua_tointeger(L, -1);
        if (v < 0 || v > rule->max)
            luaL_error(L, "request: host.%s must be an integer in [0, %I], got %I", rule->name,
                       rule->max, v);
    }
    lua_pop(L, 1);
}

static void fill_host(lua_State *L, int request)
{
    lua_getfield(L, request, "host");
    if (is_null(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, request, "host");
    } else if (!lua_istable(L, -1)) {
        luaL_error(L, "request: host must be an object, got %s", luaL_typename(L, -1));
    }
    int host = lua_gettop(L);
    for (size_t i = 0; i < sizeof fact_rules / sizeof fact_rules[0]; i++)
        default_fact(L, host, &fact_rules[i]);
    lua_pop(L, 1);
}

/* Calls vmutils.unmarshal_runtime_options with the value on the stack top
 * (replaced by the options table), or fails the request with its message. */
static void unmarshal_options(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &vmu_policy_key_vmutils);
    if (lua_getfield(L, -1, "unmarshal_runtime_options") != LUA_TFUNCTION)
        luaL_error(L, "request: options: this vmutils has no unmarshal_runtime_options");
    lua_remove(L, -2);
    lua_insert(L, -2);
    lua_call(L, 1, 2);
    if (lua_isnil(L, -2))
        luaL_error(L, "request: options: %s", lua_tostring(L, -1));
    lua_pop(L, 1);
}

/* The proto3 defaults: unmarshal_runtime_options(nil), made per request. */
static void push_default_options(lua_State *L)
{
    lua_pushnil(L);
    unmarshal_options(L);
}

static void decode_options(lua_State *L, int request)
{
    lua_getfield(L, request, "options");
    int given = lua_gettop(L);
    if (is_null(L, given)) {
        push_default_options(L);
    } else if (lua_type(L, given) == LUA_TSTRING) {
        push_base64_decoded(L, given, "options");
        unmarshal_options(L);
    } else if (lua_istable(L, given) && lua_getfield(L, given, "type_url") != LUA_TNIL &&
               !is_null(L, -1)) {
        /* An Any spelled out: { type_url, value = base64 of the message }. */
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "request: options.type_url must be a string, got %s",
                       luaL_typename(L, -1));
        lua_createtable(L, 0, 2);
        lua_insert(L, -2);
        lua_setfield(L, -2, "type_url");
        if (lua_getfield(L, given, "value") == LUA_TSTRING) {
            push_base64_decoded(L, -1, "options.value");
            lua_remove(L, -2);
        } else if (!is_null(L, -1)) {
            luaL_error(L, "request: options.value must be a base64 string, got %s",
                       luaL_typename(L, -1));
        } else {
            lua_pop(L, 1);
            lua_pushliteral(L, "");
        }
        lua_setfield(L, -2, "value");
        unmarshal_options(L);
    } else if (lua_istable(L, given)) {
        lua_pop(L, 1); /* the absent or null type_url */
        /* Options written as a table: the given fields over proto3 defaults. */
        push_default_options(L);
        lua_pushnil(L);
        while (lua_next(L, given)) {
            if (is_null(L, -1) || lua_type(L, -2) != LUA_TSTRING) {
                lua_pop(L, 1);
                continue;
            }
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, -4);
        }
    } else {
        luaL_error(L, "request: options must be a base64 string or an object, got %s",
                   luaL_typename(L, given));
    }
    lua_setfield(L, request, "options");
    lua_settop(L, given - 1);
}

/* lua-cjson reads every JSON number as a float; a request's counts and sizes
 * are integers, so integral values become Lua integers (as they would be had
 * the request been written in Lua). Arrays and objects are walked to cjson's
 * own nesting limit. */
static void integerize(lua_State *L, int t, int depth)
{
    if (depth > 1000)
        luaL_error(L, "request: nested too deeply");
    vmu_policy_check_stack(L, 4, "request nesting");
    lua_pushnil(L);
    while (lua_next(L, t)) {
        if (lua_type(L, -1) == LUA_TNUMBER && !lua_isinteger(L, -1)) {
            lua_Number f = lua_tonumber(L, -1);
            lua_Integer n;
            if (f == floor(f) && lua_numbertointeger(f, &n)) {
                lua_pushvalue(L, -2);
                lua_pushinteger(L, n);
                lua_rawset(L, t);
            }
        } else if (lua_istable(L, -1)) {
            integerize(L, lua_gettop(L), depth + 1);
        }
        lua_pop(L, 1);
    }
}

void vmu_request_prepare(lua_State *L, int idx)
{
    int request = lua_absindex(L, idx);
    if (!lua_istable(L, request))
        luaL_error(L, "request: must be a JSON object, got %s",
                   is_null(L, request) ? "null" : luaL_typename(L, request));
    if (lua_rawlen(L, request) > 0)
        luaL_error(L, "request: must be a JSON object, got an array");
    vmu_policy_check_stack(L, 20, "request");
    integerize(L, request, 0);
    check_annotations(L, request);
    fill_host(L, request);
    decode_options(L, request);
}
