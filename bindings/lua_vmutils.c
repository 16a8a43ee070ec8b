/* luaopen_vmutils: builds the module table from each concern's registration
 * and gives the state its own logger. */
#include <lauxlib.h>
#include <lua.h>
#include <string.h>

#include "lua_vmutils.h"

/* The address is the registry key of this state's logger userdata. */
static const char logger_key = 'L';

static int logger_gc(lua_State *L)
{
    vmu_logger **slot = lua_touserdata(L, 1);
    if (slot && *slot) {
        vmu_logger_free(*slot);
        *slot = NULL;
    }
    return 0;
}

static void create_state_logger(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &logger_key);
    int exists = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (exists)
        return;
    vmu_logger **slot = lua_newuserdatauv(L, sizeof *slot, 1);
    *slot = NULL;
    lua_newtable(L); /* metatable */
    lua_pushcfunction(L, logger_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    *slot = vmu_logger_new();
    if (!*slot)
        luaL_error(L, "not enough memory");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &logger_key);
}

vmu_logger *vmu_lua_logger(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &logger_key);
    vmu_logger **slot = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (!slot || !*slot)
        luaL_error(L, "vmutils: the module's logger is gone");
    return *slot;
}

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

LUAMOD_API int luaopen_vmutils(lua_State *L)
{
    create_state_logger(L);
    lua_newtable(L);
    vmu_lua_register_constants(L);
    vmu_lua_register_log(L);
    vmu_lua_register_sizing(L);
    vmu_lua_register_numa(L);
    vmu_lua_register_refinfo(L);
    vmu_lua_register_gcs(L);
    vmu_lua_register_gcs_server(L);
    vmu_lua_register_options(L);
    vmu_lua_register_vmmem(L);
    vmu_lua_register_topology(L);
    vmu_lua_register_policy(L);
    vmu_lua_register_go(L);
    return 1;
}
