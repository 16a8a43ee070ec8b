/* Library functions that build their result outside Lua's own allocations,
 * run so that reaching the memory cap does not depend on the collector's
 * pace.
 *
 * Lua's own allocations collect all garbage and try once more before they
 * raise "not enough memory"; lauxlib's luaL_Buffer calls the allocator
 * directly and raises at once, and json.encode sizes its text by the room
 * left, which garbage takes until it is collected. Under the cap,
 * string.format('%s', big) would then fail or not depending on how much
 * garbage the collector has left at that moment, which earlier calls
 * decide. The functions wrapped here are pure (their only effect is their
 * result): they run protected, and a "not enough memory" collects the
 * garbage and runs them once more, as Lua's allocator does; short of
 * memory again, the call has reached the cap (vmu_policy_out_of_memory). */
#include "policy_internal.h"
#include "lua_vmutils.h"

/* The closure's upvalue 1 is the function; upvalue 2 is true for gsub,
 * whose replacement (the third argument) may be a function or a table of
 * the policy's: then the call does not run twice. */
static int collect_and_retry(lua_State *L)
{
    int n = lua_gettop(L);
    vmu_policy_check_stack(L, n + 1, "too many arguments");
    lua_pushvalue(L, lua_upvalueindex(1));
    for (int i = 1; i <= n; i++)
        lua_pushvalue(L, i);
    int status = lua_pcall(L, n, LUA_MULTRET, 0);
    if (status == LUA_OK)
        return lua_gettop(L) - n;
    int replacement_runs_code = lua_toboolean(L, lua_upvalueindex(2)) &&
                                (lua_type(L, 3) == LUA_TFUNCTION || lua_type(L, 3) == LUA_TTABLE);
    if (!vmu_lua_is_memory_error(L, status) || replacement_runs_code)
        return lua_error(L);
    lua_settop(L, n);
    lua_gc(L, LUA_GCCOLLECT);
    /* A full collection is work the hook does not see: a loop at the cap
     * would run one per call. */
    vmu_policy_check_deadline(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    status = lua_pcall(L, n, LUA_MULTRET, 0);
    if (status == LUA_OK)
        return lua_gettop(L);
    /* Short of memory even after a full collection: the cap is reached. */
    if (vmu_lua_is_memory_error(L, status))
        vmu_policy_out_of_memory(L);
    return lua_error(L);
}

static void wrap(lua_State *L, int lib, const char *name, int calls_back)
{
    if (lua_getfield(L, lib, name) != LUA_TFUNCTION) {
        lua_pop(L, 1);
        return;
    }
    lua_pushboolean(L, calls_back);
    lua_pushcclosure(L, collect_and_retry, 2);
    lua_setfield(L, lib, name);
}

void vmu_memory_retry(lua_State *L, int lib, const char *const *pure)
{
    lib = lua_absindex(L, lib);
    for (; *pure; pure++)
        wrap(L, lib, *pure, 0);
}

void vmu_memory_retry_gsub(lua_State *L, int lib) { wrap(L, lua_absindex(L, lib), "gsub", 1); }
