/* Lua surface of the vNUMA functions: prepare_vnuma_topology, validate_numa,
 * validate_numa_for_vm. Tables use the HCS JSON key names; arrays read from
 * Lua live in userdata, so a wrong argument found halfway leaks nothing. */
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "lua_vmutils.h"

/* Go's osversion.Build() is a uint16. */
#define OS_BUILD_MAX 65535

/* Absent and JSON null both mean Go's zero value (a nil slice, a 0). */
static int is_absent(lua_State *L, int idx)
{
    return lua_isnil(L, idx) || (lua_islightuserdata(L, idx) && lua_touserdata(L, idx) == NULL);
}

/* The integer at `idx` in [0, max]; anything else is an argument error on
 * `arg` naming the value by `fmt` (lua_pushfstring's format). The fast path
 * avoids building that name for every item of a large array. */
static uint64_t check_unsigned(lua_State *L, int idx, int arg, int64_t max, const char *fmt, ...)
{
    idx = lua_absindex(L, idx);
    int isint = 0;
    lua_Integer v = lua_tointegerx(L, idx, &isint);
    if (isint && lua_type(L, idx) == LUA_TNUMBER && v >= 0 && v <= max)
        return (uint64_t)v;
    va_list ap;
    va_start(ap, fmt);
    const char *what = lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    return (uint64_t)vmu_lua_check_integer_range(L, idx, arg, what, 0, max);
}

/* config[key]: NULL for absent (Go's nil slice), else the array of
 * integers in [0, max] copied into a userdata left on the stack (an empty
 * array gives a zero-sized userdata: a non-NULL pointer, Go's empty slice). */
static const void *check_array(lua_State *L, int arg, const char *key, size_t item_size,
                               int64_t max, size_t *len)
{
    *len = 0;
    lua_getfield(L, arg, key);
    if (is_absent(L, -1)) {
        lua_pop(L, 1);
        return NULL;
    }
    if (!lua_istable(L, -1))
        luaL_argerror(L, arg,
                      lua_pushfstring(L, "%s: table expected, got %s", key, luaL_typename(L, -1)));
    int table = lua_gettop(L);
    lua_Unsigned n = lua_rawlen(L, table);
    if (n > SIZE_MAX / item_size)
        luaL_argerror(L, arg, lua_pushfstring(L, "%s: too many items", key));
    void *items = lua_newuserdatauv(L, (size_t)n * item_size, 0);
    for (lua_Unsigned i = 0; i < n; i++) {
        lua_rawgeti(L, table, (lua_Integer)i + 1);
        uint64_t v = check_unsigned(L, -1, arg, max, "%s[%I]", key, (lua_Integer)i + 1);
        if (item_size == sizeof(uint32_t))
            ((uint32_t *)items)[i] = (uint32_t)v;
        else
            ((uint64_t *)items)[i] = v;
        lua_pop(L, 1);
    }
    lua_remove(L, table);
    *len = (size_t)n;
    return items;
}

static uint64_t check_scalar(lua_State *L, int arg, const char *key, int64_t max)
{
    lua_getfield(L, arg, key);
    uint64_t v = 0;
    if (!is_absent(L, -1))
        v = check_unsigned(L, -1, arg, max, "%s", key);
    lua_pop(L, 1);
    return v;
}

/* An unknown key is an error (a Go struct literal has no others to set, and
 * a typo would otherwise pass as "no vNUMA"). The arrays' userdata stay on
 * the stack until the call returns. */
static void check_numa_config(lua_State *L, int arg, vmu_numa_config *c)
{
    static const char *const known[] = {
        "max_processors_per_numa_node", "max_memory_size_per_numa_node",
        "preferred_physical_numa_nodes", "numa_mapped_physical_nodes",
        "numa_processor_counts", "numa_memory_blocks_counts", NULL};
    luaL_checktype(L, arg, LUA_TTABLE);
    vmu_lua_check_known_keys(L, arg, arg, known, NULL);
    memset(c, 0, sizeof *c);
    c->max_processors_per_numa_node =
        (uint32_t)check_scalar(L, arg, "max_processors_per_numa_node", UINT32_MAX);
    c->max_memory_size_per_numa_node =
        check_scalar(L, arg, "max_memory_size_per_numa_node", INT64_MAX);
    c->preferred_physical_numa_nodes =
        check_array(L, arg, "preferred_physical_numa_nodes", sizeof(uint32_t), UINT32_MAX,
                    &c->preferred_physical_numa_nodes_len);
    c->numa_mapped_physical_nodes =
        check_array(L, arg, "numa_mapped_physical_nodes", sizeof(uint32_t), UINT32_MAX,
                    &c->numa_mapped_physical_nodes_len);
    c->numa_processor_counts = check_array(L, arg, "numa_processor_counts", sizeof(uint32_t),
                                           UINT32_MAX, &c->numa_processor_counts_len);
    c->numa_memory_blocks_counts =
        check_array(L, arg, "numa_memory_blocks_counts", sizeof(uint64_t), INT64_MAX,
                    &c->numa_memory_blocks_counts_len);
}

/* host.os_build, or -1 (skip the check) when there is no host table or no
 * build in it: this binding runs on hosts that are not Windows. The host
 * may be a policy request's host table, so its other facts are known keys. */
static int32_t check_host_os_build(lua_State *L, int arg)
{
    static const char *const known[] = {"os_build", "logical_processor_count", "arch", "cwd", NULL};
    if (lua_isnoneornil(L, arg))
        return -1;
    luaL_checktype(L, arg, LUA_TTABLE);
    vmu_lua_check_known_keys(L, arg, arg, known, NULL);
    lua_getfield(L, arg, "os_build");
    int32_t build = -1;
    if (!is_absent(L, -1))
        build = (int32_t)vmu_lua_check_integer_range(L, -1, arg, "os_build", 0, OS_BUILD_MAX);
    lua_pop(L, 1);
    return build;
}

/* ---- results ---- */

typedef struct numa_result_box {
    vmu_numa *numa;
    vmu_numa_processors *processors;
} numa_result_box;

static void release_numa_result(void *data)
{
    numa_result_box *box = data;
    vmu_numa_free(box->numa);
    vmu_numa_processors_free(box->processors);
}

/* Core results are held in a guard while tables are built: a memory error
 * in lua_createtable then frees them. */
static numa_result_box *push_result_box(lua_State *L)
{
    return vmu_lua_push_guard(L, sizeof(numa_result_box), release_numa_result);
}

static void set_integer(lua_State *L, const char *key, uint64_t value)
{
    lua_pushinteger(L, (lua_Integer)value);
    lua_setfield(L, -2, key);
}

static void push_setting(lua_State *L, const vmu_numa_setting *s)
{
    lua_createtable(L, 0, 6);
    set_integer(L, "VirtualNodeNumber", s->virtual_node_number);
    set_integer(L, "PhysicalNodeNumber", s->physical_node_number);
    set_integer(L, "VirtualSocketNumber", s->virtual_socket_number);
    set_integer(L, "CountOfProcessors", s->count_of_processors);
    set_integer(L, "CountOfMemoryBlocks", s->count_of_memory_blocks);
    lua_pushstring(L, vmu_memory_backing_type_name(s->memory_backing_type));
    lua_setfield(L, -2, "MemoryBackingType");
}

/* Keys the Go struct would omit as empty (the explicit topology's
 * MaxSizePerNode, the implicit one's count and settings) are left out, so
 * that cjson.encode gives the HCS fragment; settings keep every key. */
static void push_numa(lua_State *L, const vmu_numa *numa)
{
    lua_createtable(L, 0, 4);
    if (numa->virtual_node_count)
        set_integer(L, "VirtualNodeCount", numa->virtual_node_count);
    if (numa->preferred_physical_nodes_len) {
        lua_createtable(L, (int)numa->preferred_physical_nodes_len, 0);
        for (size_t i = 0; i < numa->preferred_physical_nodes_len; i++) {
            lua_pushinteger(L, numa->preferred_physical_nodes[i]);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        lua_setfield(L, -2, "PreferredPhysicalNodes");
    }
    if (numa->settings_len) {
        lua_createtable(L, (int)numa->settings_len, 0);
        for (size_t i = 0; i < numa->settings_len; i++) {
            push_setting(L, &numa->settings[i]);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        lua_setfield(L, -2, "Settings");
    }
    if (numa->max_size_per_node)
        set_integer(L, "MaxSizePerNode", numa->max_size_per_node);
}

static void push_numa_processors(lua_State *L, const vmu_numa_processors *processors)
{
    lua_createtable(L, 0, 2);
    lua_createtable(L, 0, 1);
    set_integer(L, "max", processors->count_per_node.max);
    lua_setfield(L, -2, "count_per_node");
    if (processors->node_per_socket)
        set_integer(L, "node_per_socket", processors->node_per_socket);
}

static int l_prepare_vnuma_topology(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2); /* the arrays' userdata go above the arguments */
    vmu_numa_config config;
    check_numa_config(L, 1, &config);
    int32_t host_os_build = check_host_os_build(L, 2);
    numa_result_box *box = push_result_box(L);
    vmu_err err;
    if (vmu_prepare_vnuma_topology(vmu_lua_logger(L), &config, host_os_build, &box->numa,
                                   &box->processors, &err) != 0) {
        lua_pushnil(L);
        lua_pushnil(L);
        lua_pushstring(L, err.msg);
        return 3;
    }
    if (box->numa)
        push_numa(L, box->numa);
    else
        lua_pushnil(L);
    if (box->processors)
        push_numa_processors(L, box->processors);
    else
        lua_pushnil(L);
    vmu_numa_free(box->numa);
    vmu_numa_processors_free(box->processors);
    box->numa = NULL;
    box->processors = NULL;
    return 2;
}

/* ---- validate_numa / validate_numa_for_vm ---- */

static uint64_t check_setting_field(lua_State *L, int setting, int arg, lua_Integer index,
                                    const char *key, int64_t max)
{
    lua_getfield(L, setting, key);
    uint64_t v = 0;
    if (!is_absent(L, -1))
        v = check_unsigned(L, -1, arg, max, "Settings[%I].%s", index, key);
    lua_pop(L, 1);
    return v;
}

/* Reads numa.Settings (the shape prepare_vnuma_topology returns) into a
 * userdata left on the stack. Missing keys are Go's zero values; the
 * backing type is not read, as validation does not look at it. */
static void check_numa(lua_State *L, int arg, vmu_numa *numa)
{
    luaL_checktype(L, arg, LUA_TTABLE);
    memset(numa, 0, sizeof *numa);
    lua_getfield(L, arg, "Settings");
    if (is_absent(L, -1)) {
        lua_pop(L, 1);
        return;
    }
    if (!lua_istable(L, -1))
        luaL_argerror(L, arg,
                      lua_pushfstring(L, "Settings: table expected, got %s", luaL_typename(L, -1)));
    int settings = lua_gettop(L);
    lua_Unsigned n = lua_rawlen(L, settings);
    if (n > SIZE_MAX / sizeof(vmu_numa_setting))
        luaL_argerror(L, arg, "Settings: too many items");
    vmu_numa_setting *items = lua_newuserdatauv(L, (size_t)n * sizeof *items, 0);
    for (lua_Unsigned i = 0; i < n; i++) {
        lua_Integer index = (lua_Integer)i + 1;
        lua_rawgeti(L, settings, index);
        if (!lua_istable(L, -1))
            luaL_argerror(L, arg, lua_pushfstring(L, "Settings[%I]: table expected, got %s", index,
                                                  luaL_typename(L, -1)));
        int setting = lua_gettop(L);
        vmu_numa_setting *s = &items[i];
        s->virtual_node_number =
            (uint32_t)check_setting_field(L, setting, arg, index, "VirtualNodeNumber", UINT32_MAX);
        s->physical_node_number = (uint32_t)check_setting_field(L, setting, arg, index,
                                                                "PhysicalNodeNumber", UINT32_MAX);
        s->virtual_socket_number = (uint32_t)check_setting_field(
            L, setting, arg, index, "VirtualSocketNumber", UINT32_MAX);
        s->count_of_processors =
            (uint32_t)check_setting_field(L, setting, arg, index, "CountOfProcessors", UINT32_MAX);
        s->count_of_memory_blocks =
            check_setting_field(L, setting, arg, index, "CountOfMemoryBlocks", INT64_MAX);
        s->memory_backing_type = VMU_MEMORY_BACKING_NONE;
        lua_pop(L, 1);
    }
    lua_remove(L, settings);
    numa->settings = items;
    numa->settings_len = (size_t)n;
}

static int push_validation(lua_State *L, int status, const vmu_err *err)
{
    if (status != 0)
        return vmu_lua_fail(L, err->msg);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_validate_numa(lua_State *L)
{
    vmu_numa numa;
    check_numa(L, 1, &numa);
    vmu_err err;
    return push_validation(L, vmu_validate_numa(&numa, &err), &err);
}

static int l_validate_numa_for_vm(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    uint32_t proc_count = vmu_lua_check_uint32(L, 2);
    uint64_t mem_in_mb = vmu_lua_check_nonnegative_int64(L, 3);
    lua_settop(L, 3); /* the settings' userdata go above the arguments */
    vmu_numa numa;
    check_numa(L, 1, &numa);
    vmu_err err;
    return push_validation(L, vmu_validate_numa_for_vm(&numa, proc_count, mem_in_mb, &err), &err);
}

static const luaL_Reg numa_functions[] = {
    {"prepare_vnuma_topology", l_prepare_vnuma_topology},
    {"validate_numa", l_validate_numa},
    {"validate_numa_for_vm", l_validate_numa_for_vm},
    {NULL, NULL},
};

void vmu_lua_register_numa(lua_State *L) { luaL_setfuncs(L, numa_functions, 0); }
