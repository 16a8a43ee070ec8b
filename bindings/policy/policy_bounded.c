/* Library functions whose work is not proportional to what they allocate,
 * rewritten so that their loops count against the call's limits: the
 * instruction budget is charged one unit per element moved and the deadline
 * is checked every CHARGE_STEP elements (vmu_policy_charge). Their results and
 * errors are those of Lua's own functions. The others (string.rep with a
 * non-empty result, table.concat, table.unpack, string.byte...) do work in
 * proportion to the memory they allocate, which the cap bounds. */
#include "policy_internal.h"

#define CHARGE_STEP 4096

/* Counts `done` elements of work, CHARGE_STEP at a time. */
static void charge_step(lua_State *L, lua_Unsigned done)
{
    if (done % CHARGE_STEP == 0)
        vmu_policy_charge(L, CHARGE_STEP);
}

/* string.rep(s, n [, sep]): an empty result is made at once (Lua's own
 * loops n times over nothing); any other goes to Lua's, whose work is the
 * result's length, within the memory cap. */
static int bounded_rep(lua_State *L)
{
    size_t l, lsep;
    luaL_checklstring(L, 1, &l);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_optlstring(L, 3, "", &lsep);
    if (n <= 0 || l + lsep == 0) {
        lua_pushliteral(L, "");
        return 1;
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* Tables, or values whose metatable has the fields the access needs, as
 * ltablib's checktab allows. */
static void check_table(lua_State *L, int arg, int need_index, int need_newindex)
{
    if (lua_type(L, arg) == LUA_TTABLE)
        return;
    int ok = lua_getmetatable(L, arg);
    if (ok && need_index) {
        lua_pushliteral(L, "__index");
        ok = lua_rawget(L, -2) != LUA_TNIL;
        lua_pop(L, 1);
    }
    if (ok && need_newindex) {
        lua_pushliteral(L, "__newindex");
        ok = lua_rawget(L, -2) != LUA_TNIL;
        lua_pop(L, 1);
    }
    if (ok)
        lua_pop(L, 1);
    else
        luaL_checktype(L, arg, LUA_TTABLE);
}

static lua_Integer length_of(lua_State *L, int arg)
{
    check_table(L, arg, 1, 1);
    return luaL_len(L, arg);
}

/* table.move(a1, f, e, t [, a2]) */
static int bounded_move(lua_State *L)
{
    lua_Integer f = luaL_checkinteger(L, 2);
    lua_Integer e = luaL_checkinteger(L, 3);
    lua_Integer t = luaL_checkinteger(L, 4);
    int tt = !lua_isnoneornil(L, 5) ? 5 : 1;
    check_table(L, 1, 1, 0);
    check_table(L, tt, 0, 1);
    if (e >= f) {
        luaL_argcheck(L, f > 0 || e < LUA_MAXINTEGER + f, 3, "too many elements to move");
        lua_Unsigned n = (lua_Unsigned)e - (lua_Unsigned)f;
        luaL_argcheck(L, t <= LUA_MAXINTEGER - (lua_Integer)n, 4, "destination wrap around");
        int forward = t > e || t <= f || (tt != 1 && !lua_compare(L, 1, tt, LUA_OPEQ));
        for (lua_Unsigned i = 0; i <= n; i++) {
            lua_Integer k = forward ? (lua_Integer)i : (lua_Integer)(n - i);
            lua_geti(L, 1, f + k);
            lua_seti(L, tt, t + k);
            charge_step(L, i + 1);
        }
    }
    lua_pushvalue(L, tt);
    return 1;
}

/* table.insert(t, [pos,] value) */
static int bounded_insert(lua_State *L)
{
    lua_Integer e = length_of(L, 1);
    e = (lua_Integer)((lua_Unsigned)e + 1); /* the first empty slot */
    lua_Integer pos;
    switch (lua_gettop(L)) {
    case 2:
        pos = e;
        break;
    case 3:
        pos = luaL_checkinteger(L, 2);
        luaL_argcheck(L, (lua_Unsigned)pos - 1u < (lua_Unsigned)e, 2, "position out of bounds");
        for (lua_Integer i = e; i > pos; i--) {
            lua_geti(L, 1, i - 1);
            lua_seti(L, 1, i);
            charge_step(L, (lua_Unsigned)(e - i) + 1);
        }
        break;
    default:
        return luaL_error(L, "wrong number of arguments to 'insert'");
    }
    lua_seti(L, 1, pos);
    return 0;
}

/* table.remove(t [, pos]) */
static int bounded_remove(lua_State *L)
{
    lua_Integer size = length_of(L, 1);
    lua_Integer pos = luaL_optinteger(L, 2, size);
    if (pos != size)
        luaL_argcheck(L, (lua_Unsigned)pos - 1u <= (lua_Unsigned)size, 2, "position out of bounds");
    lua_geti(L, 1, pos);
    for (; pos < size; pos++) {
        lua_geti(L, 1, pos + 1);
        lua_seti(L, 1, pos);
        charge_step(L, (lua_Unsigned)pos);
    }
    lua_pushnil(L);
    lua_seti(L, 1, pos);
    return 1;
}

void vmu_bounded_string(lua_State *L, int lib)
{
    lib = lua_absindex(L, lib);
    lua_getfield(L, lib, "rep");
    lua_pushcclosure(L, bounded_rep, 1);
    lua_setfield(L, lib, "rep");
}

void vmu_bounded_table(lua_State *L, int lib)
{
    static const luaL_Reg functions[] = {
        {"move", bounded_move}, {"insert", bounded_insert}, {"remove", bounded_remove}, {NULL, NULL}};
    lua_pushvalue(L, lib);
    luaL_setfuncs(L, functions, 0);
    lua_pop(L, 1);
}
