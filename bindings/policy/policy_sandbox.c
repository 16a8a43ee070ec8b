/* The policy sandbox, after Redis's script_lua.c: an allow list of globals
 * (not a deny list), libraries behind read-only proxies so that no policy can
 * change what the next evaluation sees, and no way out to the process, file
 * writes, binary chunks, other C modules or C code that allocates outside
 * the memory cap. */
#include <stdio.h>
#include <string.h>

#include <lualib.h>

#include "lua_vmutils.h"
#include "policy_internal.h"

/* Weak-keyed set of the tables the sandbox's rawset must not touch. */
static const char key_protected = 'p';

#define MAX_LOG_FIELDS 64

/* The base functions a policy gets unchanged. */
static const char *const base_allowed[] = {
    "assert", "error",  "ipairs",   "next",     "pairs", "pcall",  "rawequal", "rawget",
    "rawlen", "select", "tonumber", "tostring", "type",  "xpcall", "_VERSION", NULL};

/* Library members left out: string.dump makes binary chunks; the vmutils
 * setters change state the host and the next evaluation share, and
 * vmutils.policy would start runtimes outside this one's limits. Of cjson
 * only the sentinels remain: its encoder and decoder allocate outside the
 * Lua allocator (no cap) and exit the process when malloc fails; json.encode
 * is the runtime's own, bounded encoder. */
static const char *const string_denied[] = {"dump", NULL};
static const char *const vmutils_denied[] = {"set_log_level", "set_log_format", "set_log_output",
                                             "set_log_handler", "policy", NULL};
static const char *const cjson_allowed[] = {"null", "empty_array", NULL};
static const char *const os_allowed[] = {"time", "clock", "date", "difftime", "getenv", NULL};

/* The seed math.random restarts from at every call into the policy, so that
 * evaluations do not depend on one another (math.randomseed included). */
#define RANDOM_SEED 0x766d7574696c73 /* "vmutils" */

/* Nested library tables (vmutils.osversion) are copied this deep at most. */
#define MAX_LIBRARY_DEPTH 8

static int in_list(const char *const *list, const char *name)
{
    for (; *list; list++)
        if (strcmp(*list, name) == 0)
            return 1;
    return 0;
}

static int readonly_newindex(lua_State *L)
{
    return luaL_error(L, "attempt to modify a read-only table (field '%s')",
                      luaL_tolstring(L, 2, NULL));
}

static int global_newindex(lua_State *L)
{
    return luaL_error(L,
                      "attempt to set global '%s': policy globals are read-only (use a local)",
                      luaL_tolstring(L, 2, NULL));
}

static int is_protected(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &key_protected);
    lua_pushvalue(L, idx);
    int yes = lua_rawget(L, -2) != LUA_TNIL;
    lua_pop(L, 2);
    return yes;
}

/* The iterator of a proxy's pairs: next over the table behind it. It takes
 * proxies only and hands out keys and values, never the table behind. */
static int proxy_next(lua_State *L)
{
    luaL_argexpected(L, lua_istable(L, 1) && is_protected(L, 1) && lua_getmetatable(L, 1), 1,
                     "read-only library");
    lua_getfield(L, -1, "__index");
    lua_replace(L, 1);
    lua_settop(L, 2); /* the table behind, the key */
    if (lua_next(L, 1))
        return 2;
    lua_pushnil(L);
    return 1;
}

/* __pairs of a proxy: the proxy itself is the state, so the table behind it
 * is never handed out. */
static int proxy_pairs(lua_State *L)
{
    lua_pushcfunction(L, proxy_next);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

static int proxy_len(lua_State *L)
{
    lua_getmetatable(L, 1);
    lua_getfield(L, -1, "__index");
    lua_pushinteger(L, (lua_Integer)lua_rawlen(L, -1));
    return 1;
}

static void mark_protected(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &key_protected);
    lua_pushvalue(L, idx);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

/* Makes the (empty) table at `proxy` a read-only view of the table at
 * `target`: reads, pairs and # reach the target, writes call `newindex`. */
static void set_proxy_metatable(lua_State *L, int proxy, int target, lua_CFunction newindex)
{
    proxy = lua_absindex(L, proxy);
    target = lua_absindex(L, target);
    lua_createtable(L, 0, 5);
    lua_pushvalue(L, target);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, proxy_pairs);
    lua_setfield(L, -2, "__pairs");
    lua_pushcfunction(L, proxy_len);
    lua_setfield(L, -2, "__len");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, proxy);
    mark_protected(L, proxy);
}

/* Replaces the table on the stack top by a read-only proxy of it. */
static void make_proxy(lua_State *L, lua_CFunction newindex)
{
    lua_newtable(L);
    set_proxy_metatable(L, -1, -2, newindex);
    lua_remove(L, -2);
}

/* Replaces the table on the stack top by a read-only proxy of a copy of it,
 * nested tables likewise: the module's own tables stay the host's. */
static void readonly_copy(lua_State *L, int depth)
{
    if (depth > MAX_LIBRARY_DEPTH)
        luaL_error(L, "library tables nested too deep");
    vmu_policy_check_stack(L, 8, "library tables nested too deep");
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, -3)) {
        if (lua_istable(L, -1))
            readonly_copy(L, depth + 1);
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -4);
    }
    lua_remove(L, -2);
    make_proxy(L, readonly_newindex);
}

/* Copies the fields of the table at `src` into a new table on the stack
 * top: those in `allowed` (when given), minus those in `denied`; nested
 * tables become read-only copies. */
static void copy_fields(lua_State *L, int src, const char *const *allowed, const char *const *denied)
{
    src = lua_absindex(L, src);
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, src)) {
        if (lua_type(L, -2) == LUA_TSTRING) {
            const char *name = lua_tostring(L, -2);
            if ((!allowed || in_list(allowed, name)) && (!denied || !in_list(denied, name))) {
                if (lua_istable(L, -1))
                    readonly_copy(L, 1);
                lua_pushvalue(L, -2);
                lua_insert(L, -2);
                lua_rawset(L, -4);
                continue;
            }
        }
        lua_pop(L, 1);
    }
}

/* vmutils.host_topology for policies: this machine, a synthetic host or
 * hwloc XML given as text, but no file named by the policy (`xml` as a
 * path, `sysfs_root`): hwloc would open whatever path it is given. */
static int sandbox_host_topology(lua_State *L)
{
    if (lua_istable(L, 1)) {
        lua_getfield(L, 1, "sysfs_root");
        luaL_argcheck(L, lua_isnil(L, -1), 1, "policies cannot give sysfs_root");
        lua_getfield(L, 1, "xml");
        const char *xml = lua_tostring(L, -1);
        luaL_argcheck(L, !xml || xml[0] == '<', 1,
                      "policies give xml as the XML text, not a file name");
        lua_pop(L, 2);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* Encodes value 1 with indent 2 into the runtime's scratch buffer, bounded
 * by half the room left under the memory cap, so that text and string
 * together fit. */
static int encode_into_scratch(lua_State *L)
{
    vmu_policy_encode_document(L, 1, (unsigned)lua_tointeger(L, 2),
                               vmu_policy_memory_room(L) / 2, VMU_POLICY_ERR_MEMORY,
                               vmu_policy_scratch(L));
    return 0;
}

/* json.encode(value [, indent]): the runtime's encoder (sorted keys, Go's
 * escaping), its text held outside the state; wrapped by
 * vmu_memory_retry, since the room it is bounded by counts garbage. */
static int sandbox_json_encode(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_Integer indent = luaL_optinteger(L, 2, 0);
    luaL_argcheck(L, indent >= 0 && indent <= 16, 2, "indent must be 0 to 16");
    lua_settop(L, 1);
    lua_pushinteger(L, indent);
    encode_into_scratch(L);
    vmu_buf *text = vmu_policy_scratch_text(L);
    lua_pushlstring(L, text->data ? text->data : "", text->len);
    vmu_buf_free(text);
    return 1;
}

static void push_json_table(lua_State *L)
{
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, sandbox_json_encode);
    lua_setfield(L, -2, "encode");
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    static const char *const encode[] = {"encode", NULL};
    vmu_memory_retry(L, -1, encode);
}

/* print goes to stderr: stdout carries the document. */
static int sandbox_print(lua_State *L)
{
    int n = lua_gettop(L);
    for (int i = 1; i <= n; i++) {
        size_t len;
        const char *s = luaL_tolstring(L, i, &len);
        if (i > 1)
            fputc('\t', stderr);
        fwrite(s, 1, len, stderr);
        lua_pop(L, 1);
    }
    fputc('\n', stderr);
    fflush(stderr);
    return 0;
}

/* getmetatable answers for tables only: the metatables of strings, files and
 * vmutils objects are shared with the host and the next evaluation. */
static int sandbox_getmetatable(lua_State *L)
{
    luaL_checkany(L, 1);
    if (!lua_istable(L, 1)) {
        lua_pushnil(L);
        return 1;
    }
    if (!lua_getmetatable(L, 1)) {
        lua_pushnil(L);
        return 1;
    }
    luaL_getmetafield(L, 1, "__metatable");
    return 1;
}

/* setmetatable without __gc: Lua runs finalizers with hooks off, so a
 * finalizer would escape the instruction budget (and run at any later
 * allocation, or when the host frees the runtime). */
static int sandbox_setmetatable(lua_State *L)
{
    if (lua_istable(L, 2)) {
        lua_pushliteral(L, "__gc");
        int has_gc = lua_rawget(L, 2) != LUA_TNIL;
        lua_pop(L, 1);
        if (has_gc)
            return luaL_argerror(L, 2, "policies may not set __gc finalizers");
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

static int sandbox_rawset(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &key_protected);
    lua_pushvalue(L, 1);
    int protected_table = lua_rawget(L, -2) != LUA_TNIL;
    lua_pop(L, 2);
    if (protected_table)
        return luaL_argerror(L, 1, "table is read-only");
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

/* load with text chunks only, and the policy's environment by default. */
static int sandbox_load(lua_State *L)
{
    int env_given = !lua_isnone(L, 4);
    lua_settop(L, 4);
    lua_pushvalue(L, lua_upvalueindex(1)); /* the real load */
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_pushliteral(L, "t");
    if (env_given)
        lua_pushvalue(L, 4);
    else
        lua_pushvalue(L, lua_upvalueindex(2));
    lua_call(L, 4, LUA_MULTRET);
    return lua_gettop(L) - 4;
}

static int sandbox_require(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &vmu_policy_key_libraries);
    if (lua_getfield(L, -1, name) == LUA_TNIL)
        return luaL_error(L, "module '%s' is not available to policies", name);
    return 1;
}

/* log.<level>(msg [, fields]): a record through the runtime's logger, the
 * same one vmutils' own warnings use. */
static int sandbox_log(lua_State *L)
{
    vmu_log_level level = (vmu_log_level)lua_tointeger(L, lua_upvalueindex(1));
    size_t msg_len;
    const char *msg = luaL_checklstring(L, 1, &msg_len);
    vmu_field fields[MAX_LOG_FIELDS];
    size_t count = 0;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        lua_settop(L, 2);
        lua_pushnil(L);
        while (lua_next(L, 2)) {
            if (lua_type(L, -2) != LUA_TSTRING)
                return luaL_argerror(L, 2, "field names must be strings");
            if (count == MAX_LOG_FIELDS)
                return luaL_argerror(L, 2, "too many fields");
            vmu_field *f = &fields[count++];
            /* The key stays referenced on the stack (below the iteration)
             * until the call ends: a __tostring below may remove it from
             * the table, and then the collector could free it. */
            vmu_policy_check_stack(L, 4, "too many fields");
            lua_pushvalue(L, -2);
            lua_insert(L, 3);
            f->key = lua_tolstring(L, 3, &f->key_len);
            switch (lua_type(L, -1)) {
            case LUA_TBOOLEAN:
                f->value.kind = VMU_VALUE_BOOL;
                f->value.as.b = lua_toboolean(L, -1);
                break;
            case LUA_TNUMBER:
                if (lua_isinteger(L, -1)) {
                    f->value.kind = VMU_VALUE_INT;
                    f->value.as.i = lua_tointeger(L, -1);
                } else {
                    f->value.kind = VMU_VALUE_FLOAT;
                    f->value.as.f = lua_tonumber(L, -1);
                }
                break;
            case LUA_TLIGHTUSERDATA:
                if (lua_touserdata(L, -1) == NULL) {
                    f->value.kind = VMU_VALUE_NULL;
                    break;
                }
                /* fall through */
            default: {
                /* Likewise strings and the text of other values. */
                size_t len;
                const char *s = luaL_tolstring(L, -1, &len);
                lua_insert(L, 3);
                f->value.kind = VMU_VALUE_STRING;
                f->value.as.str.ptr = s;
                f->value.as.str.len = len;
                lua_pop(L, 1);
                continue;
            }
            }
            lua_pop(L, 1);
        }
    }
    vmu_log(vmu_lua_logger(L), level, msg, msg_len, fields, count);
    return 0;
}

static void push_log_table(lua_State *L)
{
    static const struct {
        const char *name;
        vmu_log_level level;
    } levels[] = {{"error", VMU_LEVEL_ERROR}, {"warning", VMU_LEVEL_WARN}, {"warn", VMU_LEVEL_WARN},
                  {"info", VMU_LEVEL_INFO},   {"debug", VMU_LEVEL_DEBUG},  {"trace", VMU_LEVEL_TRACE}};
    lua_createtable(L, 0, (int)(sizeof levels / sizeof levels[0]));
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        lua_pushinteger(L, levels[i].level);
        lua_pushcclosure(L, sandbox_log, 1);
        lua_setfield(L, -2, levels[i].name);
    }
}

static void add_library(lua_State *L, int libraries, const char *name)
{
    make_proxy(L, readonly_newindex);
    lua_setfield(L, libraries, name);
}

void vmu_sandbox_init(lua_State *L)
{
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key_protected);

    lua_newtable(L);
    int libraries = lua_gettop(L);

    static const struct {
        const char *name;
        const char *const *allowed, *const *denied;
    } standard[] = {{"string", NULL, string_denied}, {"table", NULL, NULL}, {"math", NULL, NULL},
                    {"utf8", NULL, NULL},             {"os", os_allowed, NULL}};
    for (size_t i = 0; i < sizeof standard / sizeof standard[0]; i++) {
        lua_getglobal(L, standard[i].name);
        copy_fields(L, -1, standard[i].allowed, standard[i].denied);
        lua_remove(L, -2);
        if (strcmp(standard[i].name, "string") == 0) {
            static const char *const buffered[] = {"format", "rep",  "upper", "lower",
                                                   "reverse", "char", "pack",  NULL};
            vmu_bounded_string(L, -1);
            vmu_bounded_patterns(L, -1);
            vmu_memory_retry(L, -1, buffered);
            vmu_memory_retry_gsub(L, -1);
        } else if (strcmp(standard[i].name, "table") == 0) {
            static const char *const buffered[] = {"concat", NULL};
            vmu_bounded_table(L, -1);
            vmu_memory_retry(L, -1, buffered);
        } else if (strcmp(standard[i].name, "utf8") == 0) {
            static const char *const buffered[] = {"char", NULL};
            vmu_memory_retry(L, -1, buffered);
        }
        add_library(L, libraries, standard[i].name);
    }

    /* Strings share one metatable: its __index becomes the policies' string
     * library (bounded, without dump), and it is hidden. The host's string
     * table stays as it is, out of reach. */
    lua_pushliteral(L, "");
    if (lua_getmetatable(L, -1)) {
        lua_getfield(L, libraries, "string");
        lua_setfield(L, -2, "__index");
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);

    vmu_files_push_io(L);
    add_library(L, libraries, "io");

    lua_rawgetp(L, LUA_REGISTRYINDEX, &vmu_policy_key_vmutils);
    copy_fields(L, -1, NULL, vmutils_denied);
    lua_remove(L, -2);
    if (lua_getfield(L, -1, "host_topology") == LUA_TFUNCTION) {
        lua_pushcclosure(L, sandbox_host_topology, 1);
        lua_setfield(L, -2, "host_topology");
    } else {
        lua_pop(L, 1);
    }
    add_library(L, libraries, "vmutils");

    lua_rawgetp(L, LUA_REGISTRYINDEX, &vmu_policy_key_cjson);
    copy_fields(L, -1, cjson_allowed, NULL);
    lua_remove(L, -2);
    add_library(L, libraries, "cjson");

    push_log_table(L);
    add_library(L, libraries, "log");

    push_json_table(L);
    add_library(L, libraries, "json");

    lua_rawsetp(L, LUA_REGISTRYINDEX, &vmu_policy_key_libraries);

    /* Files share one metatable too. */
    if (luaL_getmetatable(L, LUA_FILEHANDLE) == LUA_TTABLE) {
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
    }
    lua_pop(L, 1);
}

void vmu_sandbox_push_env(lua_State *L)
{
    lua_newtable(L); /* the environment the policy sees */
    int env = lua_gettop(L);
    lua_newtable(L); /* the globals behind it */
    int globals = lua_gettop(L);

    for (const char *const *name = base_allowed; *name; name++) {
        lua_getglobal(L, *name);
        lua_setfield(L, globals, *name);
    }
    lua_pushcfunction(L, sandbox_print);
    lua_setfield(L, globals, "print");
    lua_pushcfunction(L, sandbox_getmetatable);
    lua_setfield(L, globals, "getmetatable");
    lua_getglobal(L, "setmetatable");
    lua_pushcclosure(L, sandbox_setmetatable, 1);
    lua_setfield(L, globals, "setmetatable");
    lua_pushcfunction(L, sandbox_rawset);
    lua_setfield(L, globals, "rawset");
    lua_pushcfunction(L, sandbox_require);
    lua_setfield(L, globals, "require");
    lua_getglobal(L, "load");
    lua_pushvalue(L, env);
    lua_pushcclosure(L, sandbox_load, 2);
    lua_setfield(L, globals, "load");
    lua_pushvalue(L, env);
    lua_setfield(L, globals, "_G");

    lua_rawgetp(L, LUA_REGISTRYINDEX, &vmu_policy_key_libraries);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, globals);
    }
    lua_pop(L, 1);

    set_proxy_metatable(L, env, globals, global_newindex);
    lua_pop(L, 1); /* globals */
}

void vmu_sandbox_begin_call(lua_State *L)
{
    lua_getglobal(L, "math"); /* the host's, out of the policies' reach */
    lua_getfield(L, -1, "randomseed");
    lua_pushinteger(L, (lua_Integer)RANDOM_SEED);
    lua_call(L, 1, 0);
    lua_pop(L, 1);
}

void vmu_sandbox_end_call(lua_State *L) { vmu_files_close_all(L); }
