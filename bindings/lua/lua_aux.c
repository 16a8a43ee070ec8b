/* The binding's shared helpers, as lauxlib is to Lua: argument checks in
 * Go's integer ranges, the `nil, err` convention, unknown-key checks and
 * boxed C buffers. They depend on nothing else of the module, so every
 * concern's file uses them without depending on luaopen_vmutils. */
#include <lauxlib.h>
#include <lua.h>
#include <string.h>

#include "lua_aux.h"

static int buf_box_gc(lua_State *L)
{
    vmu_buf_free(lua_touserdata(L, 1));
    return 0;
}

vmu_buf *vmu_lua_push_buf_box(lua_State *L)
{
    vmu_buf *buf = lua_newuserdatauv(L, sizeof *buf, 0);
    vmu_buf_init(buf);
    if (luaL_newmetatable(L, "vmutils.buf_box")) {
        lua_pushcfunction(L, buf_box_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
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
