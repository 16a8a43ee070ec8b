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
