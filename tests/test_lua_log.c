/* The binding's log helpers from C: vmu_lua_push_value and
 * vmu_lua_push_record for every kind of value, the nesting limit, records
 * logged from C reaching a Lua handler with all their fields, and two Lua
 * states keeping separate levels and handlers. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lualib.h>

#include "lua_vmutils.h"

static lua_State *new_state(void)
{
    lua_State *L = luaL_newstate();
    assert_non_null(L);
    luaL_openlibs(L);
    luaL_requiref(L, "vmutils", luaopen_vmutils, 1);
    lua_pop(L, 1);
    return L;
}

/* Runs `chunk` with the value on the stack top as its `...`; fails the test
 * with Lua's message if it raises. */
static void check_with_lua(lua_State *L, const char *chunk)
{
    if (luaL_loadstring(L, chunk) != LUA_OK)
        fail_msg("%s", lua_tostring(L, -1));
    lua_insert(L, -2);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK)
        fail_msg("%s", lua_tostring(L, -1));
}

#define STR(s) {.kind = VMU_VALUE_STRING, .as.str = {(s), sizeof(s) - 1}}

static void test_push_value_kinds(void **state)
{
    (void)state;
    static const vmu_value items[] = {
        {.kind = VMU_VALUE_INT, .as.i = 1}, STR("b"), {.kind = VMU_VALUE_NULL},
    };
    static const vmu_field inner[] = {
        {"dup", 3, {.kind = VMU_VALUE_INT, .as.i = 1}},
        {"dup", 3, {.kind = VMU_VALUE_INT, .as.i = 2}},
    };
    static const vmu_field members[] = {
        {"s", 1, STR("x\0y")},
        {"i", 1, {.kind = VMU_VALUE_INT, .as.i = INT64_MIN}},
        {"u_small", 7, {.kind = VMU_VALUE_UINT, .as.u = 5}},
        {"u_big", 5, {.kind = VMU_VALUE_UINT, .as.u = UINT64_MAX}},
        {"f", 1, {.kind = VMU_VALUE_FLOAT, .as.f = 1.5}},
        {"whole", 5, {.kind = VMU_VALUE_FLOAT, .as.f = 2.0}},
        {"yes", 3, {.kind = VMU_VALUE_BOOL, .as.b = true}},
        {"n", 1, {.kind = VMU_VALUE_NULL}},
        {"t", 1, {.kind = VMU_VALUE_TIME, .as.time = {1709647629, 500000000, 0, true}}},
        {"t_off", 5, {.kind = VMU_VALUE_TIME, .as.time = {1709647629, 0, 3600, false}}},
        {"a", 1, {.kind = VMU_VALUE_ARRAY, .as.array = {items, 3}}},
        {"empty", 5, {.kind = VMU_VALUE_ARRAY, .as.array = {NULL, 0}}},
        {"o", 1, {.kind = VMU_VALUE_OBJECT, .as.object = {inner, 2}}},
    };
    vmu_value v = {.kind = VMU_VALUE_OBJECT, .as.object = {members, sizeof members / sizeof members[0]}};
    lua_State *L = new_state();
    vmu_lua_push_value(L, &v);
    check_with_lua(L, "local v = ...\n"
                      "local null = require('vmutils').null\n"
                      "assert(v.s == 'x\\0y')\n"
                      "assert(math.type(v.i) == 'integer' and v.i == math.mininteger)\n"
                      "assert(math.type(v.u_small) == 'integer' and v.u_small == 5)\n"
                      "assert(math.type(v.u_big) == 'float' and v.u_big == 2^64)\n"
                      "assert(math.type(v.f) == 'float' and v.f == 1.5)\n"
                      "assert(math.type(v.whole) == 'float' and v.whole == 2)\n"
                      "assert(v.yes == true)\n"
                      "assert(v.n == null and null ~= nil)\n"
                      "assert(v.t == '2024-03-05T14:07:09.5Z', v.t)\n"
                      "assert(v.t_off == '2024-03-05T15:07:09+01:00', v.t_off)\n"
                      "assert(#v.a == 3)\n"
                      "assert(v.a[1] == 1 and v.a[2] == 'b' and v.a[3] == null)\n"
                      "assert(type(v.empty) == 'table' and next(v.empty) == nil)\n"
                      "assert(v.o.dup == 2)\n");
    assert_int_equal(lua_gettop(L), 0);
    lua_close(L);
}

static void test_push_record(void **state)
{
    (void)state;
    vmu_field fields[] = {vmu_field_str("k", "v"), vmu_field_int("k", 7),
                          vmu_field_float("ratio", 0.25)};
    vmu_log_record r = {{1709647629, 987654321, 3600, false}, VMU_LEVEL_WARN, "hello\nworld", 11,
                        fields, 3};
    lua_State *L = new_state();
    vmu_lua_push_record(L, &r);
    check_with_lua(L, "local r = ...\n"
                      "assert(r.time == '2024-03-05T15:07:09+01:00', r.time)\n"
                      "assert(r.level == 'warning')\n"
                      "assert(r.msg == 'hello\\nworld')\n"
                      "assert(r.fields.k == 7 and r.fields.ratio == 0.25)\n");
    vmu_log_record bare = {{0, 0, 0, true}, VMU_LEVEL_TRACE, NULL, 5, NULL, 3};
    vmu_lua_push_record(L, &bare);
    check_with_lua(L, "local r = ...\n"
                      "assert(r.time == '1970-01-01T00:00:00Z' and r.level == 'trace')\n"
                      "assert(r.msg == '' and next(r.fields) == nil)\n");
    lua_close(L);
}

static int push_deep(lua_State *L)
{
    vmu_lua_push_value(L, lua_touserdata(L, 1));
    return 1;
}

/* Nesting past VMU_LOG_MAX_DEPTH is a Lua error, not a C stack overflow;
 * up to it, every level arrives. */
static void test_push_value_nesting_limit(void **state)
{
    (void)state;
    size_t n = VMU_LOG_MAX_DEPTH + 1;
    vmu_value *chain = calloc(n, sizeof *chain);
    assert_non_null(chain);
    for (size_t i = 0; i + 1 < n; i++) {
        chain[i].kind = VMU_VALUE_ARRAY;
        chain[i].as.array.items = &chain[i + 1];
        chain[i].as.array.count = 1;
    }
    chain[n - 1].kind = VMU_VALUE_INT;
    lua_State *L = new_state();
    /* chain[0] sits at level 2: containers 2..max+1 is one too many */
    lua_pushcfunction(L, push_deep);
    lua_pushlightuserdata(L, chain);
    assert_int_equal(lua_pcall(L, 1, 1, 0), LUA_ERRRUN);
    assert_non_null(strstr(lua_tostring(L, -1), "nested deeper than"));
    lua_pop(L, 1);
    lua_pushcfunction(L, push_deep);
    lua_pushlightuserdata(L, &chain[1]);
    assert_int_equal(lua_pcall(L, 1, 1, 0), LUA_OK);
    check_with_lua(L, "local v, depth = ..., 0\n"
                      "while type(v) == 'table' do v = v[1]; depth = depth + 1 end\n"
                      "assert(depth == 9999 and v == 0, depth)\n");
    lua_close(L);
    free(chain);
}

/* Records logged from C through a state's logger reach that state's Lua
 * handler with every field; another state sees nothing of it. */
static void test_states_are_separate(void **state)
{
    (void)state;
    lua_State *a = new_state();
    lua_State *b = new_state();
    assert_ptr_not_equal(vmu_lua_logger(a), vmu_lua_logger(b));
    assert_int_equal(luaL_dostring(a, "local v = require 'vmutils'\n"
                                      "seen = {}\n"
                                      "v.set_log_level('debug')\n"
                                      "v.set_log_handler(function(r) seen[#seen + 1] = r end)\n"),
                     LUA_OK);
    assert_int_equal(luaL_dostring(b, "local v = require 'vmutils'\n"
                                      "seen = {}\n"
                                      "v.set_log_handler(function(r) seen[#seen + 1] = r end)\n"),
                     LUA_OK);
    static const vmu_value list[] = {{.kind = VMU_VALUE_FLOAT, .as.f = 1e21}, STR("s")};
    vmu_field fields[] = {
        vmu_field_float("f", 0.1),
        {"list", 4, {.kind = VMU_VALUE_ARRAY, .as.array = {list, 2}}},
        {"t", 1, {.kind = VMU_VALUE_TIME, .as.time = {0, 1, 0, true}}},
    };
    assert_int_equal(vmu_log(vmu_lua_logger(a), VMU_LEVEL_DEBUG, "from C", 6, fields, 3), 0);
    assert_int_equal(vmu_log(vmu_lua_logger(b), VMU_LEVEL_DEBUG, "filtered", 8, fields, 3), 0);
    assert_int_equal(luaL_dostring(a, "assert(#seen == 1)\n"
                                      "local r = seen[1]\n"
                                      "assert(r.level == 'debug' and r.msg == 'from C')\n"
                                      "assert(r.fields.f == 0.1)\n"
                                      "assert(r.fields.list[1] == 1e21 and r.fields.list[2] == 's')\n"
                                      "assert(r.fields.t == '1970-01-01T00:00:00.000000001Z')\n"
                                      "assert(require('vmutils').get_log_level() == 'debug')\n"),
                     LUA_OK);
    assert_int_equal(luaL_dostring(b, "assert(#seen == 0)\n"
                                      "assert(require('vmutils').get_log_level() == 'info')\n"),
                     LUA_OK);
    /* Closing a state with a handler and an output installed frees it all
     * (valgrind checks). */
    assert_int_equal(luaL_dostring(b, "require('vmutils').set_log_output(io.tmpfile())"), LUA_OK);
    lua_close(a);
    lua_close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_push_value_kinds),
        cmocka_unit_test(test_push_record),
        cmocka_unit_test(test_push_value_nesting_limit),
        cmocka_unit_test(test_states_are_separate),
    };
    return cmocka_run_group_tests_name("lua_log", tests, NULL, NULL);
}
