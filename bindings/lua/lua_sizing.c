/* Lua surface of the sizing rules and LCOW defaults: normalize_memory_size,
 * normalize_processor_count, default_processor_count_for_uvm,
 * default_lcow_os_boot_files_path, linux_log_forwarder_command. */
#include <stdint.h>

#include "lua_vmutils.h"

static int l_default_processor_count_for_uvm(lua_State *L)
{
    lua_pushinteger(L, vmu_default_processor_count_for_uvm());
    return 1;
}

static int l_normalize_memory_size(lua_State *L)
{
    size_t uvm_id_len;
    const char *uvm_id = luaL_checklstring(L, 1, &uvm_id_len);
    uint64_t requested = vmu_lua_check_nonnegative_int64(L, 2);
    /* The one odd value whose even successor, 2^63, has no Lua integer. */
    if (requested == (uint64_t)INT64_MAX)
        return luaL_argerror(L, 2, "value 9223372036854775807 rounds up past the integer range");
    uint64_t assigned = vmu_normalize_memory_size(vmu_lua_logger(L), uvm_id, uvm_id_len, requested);
    lua_pushinteger(L, (lua_Integer)assigned);
    return 1;
}

/* hcsschema.ProcessorTopology: a missing LogicalProcessorCount is Go's zero.
 * The other keys of vmutils.host_topology's table are accepted too, so that
 * a discovered host passes as it is; any other key is a typo. */
static uint32_t check_logical_processor_count(lua_State *L, int arg)
{
    static const char *const known[] = {"LogicalProcessorCount", "nodes", "packages", "cores",
                                        "existing_processors", "offline_processors", NULL};
    luaL_checktype(L, arg, LUA_TTABLE);
    vmu_lua_check_known_keys(L, arg, arg, known, NULL);
    lua_getfield(L, arg, "LogicalProcessorCount");
    uint32_t count = 0;
    if (!lua_isnil(L, -1))
        count = (uint32_t)vmu_lua_check_integer_range(L, -1, arg, "LogicalProcessorCount", 0,
                                                      UINT32_MAX);
    lua_pop(L, 1);
    return count;
}

static int l_normalize_processor_count(lua_State *L)
{
    size_t uvm_id_len;
    const char *uvm_id = luaL_checklstring(L, 1, &uvm_id_len);
    int32_t requested = vmu_lua_check_int32(L, 2);
    uint32_t host_count = check_logical_processor_count(L, 3);
    lua_pushinteger(L, vmu_normalize_processor_count(vmu_lua_logger(L), uvm_id, uvm_id_len,
                                                     requested, host_count));
    return 1;
}

static int l_linux_log_forwarder_command(lua_State *L)
{
    int reconnect = 0;
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TBOOLEAN);
        reconnect = lua_toboolean(L, 1);
    }
    lua_pushstring(L, vmu_linux_log_forwarder_command(reconnect));
    return 1;
}

/* A core-allocated string is held in a guard while Lua copies it, so that a
 * memory error raised by the copy still frees it. */
static void release_path(void *box)
{
    vmu_free(*(char **)box);
}

static int l_default_lcow_os_boot_files_path(lua_State *L)
{
    char **box = vmu_lua_push_guard(L, sizeof *box, release_path);
    *box = vmu_default_lcow_os_boot_files_path();
    if (!*box)
        return luaL_error(L, "not enough memory");
    lua_pushstring(L, *box);
    vmu_free(*box);
    *box = NULL;
    return 1;
}

static const luaL_Reg sizing_functions[] = {
    {"default_processor_count_for_uvm", l_default_processor_count_for_uvm},
    {"normalize_memory_size", l_normalize_memory_size},
    {"normalize_processor_count", l_normalize_processor_count},
    {"linux_log_forwarder_command", l_linux_log_forwarder_command},
    {"default_lcow_os_boot_files_path", l_default_lcow_os_boot_files_path},
    {NULL, NULL},
};

void vmu_lua_register_sizing(lua_State *L) { luaL_setfuncs(L, sizing_functions, 0); }
