/* The binding's shared helpers, as lauxlib is to Lua: argument checks in
 * Go's integer ranges, the `nil, err` convention, unknown-key checks and
 * guards that free C memory when a Lua error unwinds. They depend on
 * nothing else of the module, so every concern's file uses them without
 * depending on luaopen_vmutils. */
#include <lauxlib.h>
#include <lua.h>
#include <string.h>

#include "lua_aux.h"

/* A guard's userdata: the release function, then the data, which starts
 * where a Lua userdata's own alignment (LUAI_MAXALIGN) would put it. */
typedef union guard_header {
    vmu_lua_release release;
    lua_Number n;
    lua_Integer i;
    void *p;
    long l;
} guard_header;

#define GUARD_METATABLE "vmutils.guard"

/* __gc and __close: the first of them releases, a later one finds nothing. */
static int guard_release(lua_State *L)
{
    guard_header *guard = lua_touserdata(L, 1);
    vmu_lua_release release = guard->release;
    guard->release = NULL;
    if (release)
        release(guard + 1);
    return 0;
}

void *vmu_lua_push_guard(lua_State *L, size_t size, vmu_lua_release release)
{
    guard_header *guard = lua_newuserdatauv(L, sizeof *guard + size, 0);
    guard->release = NULL;
    memset(guard + 1, 0, size);
    if (luaL_newmetatable(L, GUARD_METATABLE)) {
        lua_pushcfunction(L, guard_release);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, guard_release);
        lua_setfield(L, -2, "__close");
    }
    lua_setmetatable(L, -2);
    guard->release = release;
    return guard + 1;
}

static void release_buf(void *buf)
{
    vmu_buf_free(buf);
}

vmu_buf *vmu_lua_push_buf_box(lua_State *L)
{
    vmu_buf *buf = vmu_lua_push_guard(L, sizeof *buf, release_buf);
    vmu_buf_init(buf);
    return buf;
}

void vmu_lua_check_known_keys(lua_State *L, int idx, int arg, const char *const *known,
                              const char *what)
{
    idx = lua_absindex(L, idx);
    luaL_checkstack(L, 3, "keys");
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        int is_known = 0;
        if (lua_type(L, -1) == LUA_TSTRING) {
            const char *key = lua_tostring(L, -1);
            for (const char *const *k = known; *k && !is_known; k++)
                is_known = strcmp(*k, key) == 0;
        }
        if (!is_known) {
            const char *key = lua_type(L, -1) == LUA_TSTRING
                                  ? lua_pushfstring(L, "'%s'", lua_tostring(L, -1))
                                  : luaL_tolstring(L, -1, NULL);
            const char *msg = lua_pushfstring(L, "unknown key %s", key);
            if (what)
                msg = lua_pushfstring(L, "%s: %s", what, msg);
            luaL_argerror(L, arg, msg);
        }
    }
}

int vmu_lua_fail(lua_State *L, const char *msg)
{
    lua_pushnil(L);
    lua_pushstring(L, msg);
    return 2;
}

int64_t vmu_lua_check_integer_range(lua_State *L, int idx, int arg, const char *what,
                                    int64_t min, int64_t max)
{
    int isint = 0;
    lua_Integer v = lua_tointegerx(L, idx, &isint);
    if (!isint) {
        const char *got = lua_isnumber(L, idx) ? "number has no integer representation"
                                               : lua_pushfstring(L, "integer expected, got %s",
                                                                 luaL_typename(L, idx));
        if (what)
            luaL_argerror(L, arg, lua_pushfstring(L, "%s: %s", what, got));
        luaL_argerror(L, arg, got);
    }
    if (v < min || v > max) {
        const char *msg = lua_pushfstring(L, "value %I out of range [%I, %I]", (lua_Integer)v,
                                          (lua_Integer)min, (lua_Integer)max);
        if (what)
            msg = lua_pushfstring(L, "%s: %s", what, msg);
        luaL_argerror(L, arg, msg);
    }
    return (int64_t)v;
}

int32_t vmu_lua_check_int32(lua_State *L, int arg)
{
    luaL_checkany(L, arg);
    return (int32_t)vmu_lua_check_integer_range(L, arg, arg, NULL, INT32_MIN, INT32_MAX);
}

uint32_t vmu_lua_check_uint32(lua_State *L, int arg)
{
    luaL_checkany(L, arg);
    return (uint32_t)vmu_lua_check_integer_range(L, arg, arg, NULL, 0, UINT32_MAX);
}

uint64_t vmu_lua_check_nonnegative_int64(lua_State *L, int arg)
{
    luaL_checkany(L, arg);
    return (uint64_t)vmu_lua_check_integer_range(L, arg, arg, NULL, 0, INT64_MAX);
}

void vmu_lua_register_class(lua_State *L, const char *name, lua_CFunction close,
                            lua_CFunction tostring, const luaL_Reg *methods)
{
    if (luaL_newmetatable(L, name)) {
        lua_pushcfunction(L, close);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, close);
        lua_setfield(L, -2, "__close");
        lua_pushcfunction(L, tostring);
        lua_setfield(L, -2, "__tostring");
        lua_newtable(L);
        luaL_setfuncs(L, methods, 0);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
}

int vmu_lua_is_memory_error(lua_State *L, int status)
{
    static const char msg[] = "not enough memory";
    if (status == LUA_ERRMEM)
        return 1;
    size_t len;
    const char *err = status != LUA_OK && lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
    return err && len == sizeof msg - 1 && memcmp(err, msg, len) == 0;
}
