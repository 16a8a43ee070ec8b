/* Allocation failures through the Lua binding, driven from C on a lua_State.
 * Each case is a Lua function calling vmutils; it is walked twice:
 *
 *  - core allocations: vmu_alloc_fail_after(n) for n = 0, 1, ... until a
 *    call needs no more than n of them;
 *  - Lua allocations: the state's allocator refuses its nth allocation (and
 *    every later one) for n = 0, 1, ... until a call needs no more.
 *
 * Every call must end in one of three ways: the full result (the same as
 * without failures, compared through a serialisation made afterwards), a
 * Lua error about memory ("not enough memory" or "out of memory"), or the
 * `nil, "out of memory"` failure of the API's nil-err convention. A result
 * that is neither complete nor such a failure (a half-built table) fails.
 * Memory the binding holds in C is released by __gc: make sanitize and make
 * memcheck see any leak when the states close. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <lauxlib.h>
#include <lualib.h>

#include "../core/test_hooks.h"
#include "vmutils.h"
#include "vmutils_policy.h"

#define WALK_LIMIT 100000

/* ---- a Lua allocator that can be told to refuse ------------------------- */

typedef struct lua_budget {
    long left;     /* allocations before refusing; < 0: never refuse */
    bool refused;  /* the current call met the limit */
} lua_budget;

static void *budget_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    lua_budget *b = ud;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    /* Only growth counts: Lua must be able to shrink a block. */
    if (b->left >= 0 && (!ptr || nsize > osize)) {
        if (b->left == 0) {
            b->refused = true;
            return NULL;
        }
        b->left--;
    }
    return realloc(ptr, nsize);
}

/* ---- the state and its helpers ------------------------------------------- */

static lua_budget budget = {-1, false};
static lua_State *L;
static char refinfo_root[64];

/* A deterministic text of any Lua value: keys sorted, host times ("time"
 * keys) left out, vmutils.null as null. */
static const char serializer[] =
    "local null = require('vmutils').null\n"
    "local function ser(v)\n"
    "  if v == null then return 'null' end\n"
    "  local t = type(v)\n"
    "  if t == 'string' then return string.format('%q', v) end\n"
    "  if t ~= 'table' then return tostring(v) end\n"
    "  local keys = {}\n"
    "  for k in pairs(v) do if k ~= 'time' then keys[#keys + 1] = k end end\n"
    "  table.sort(keys, function(a, b) return type(a) .. tostring(a) < type(b) .. tostring(b) end)\n"
    "  local parts = {}\n"
    "  for _, k in ipairs(keys) do parts[#parts + 1] = ser(k) .. '=' .. ser(v[k]) end\n"
    "  return '{' .. table.concat(parts, ',') .. '}'\n"
    "end\n"
    "return function(...) local n = select('#', ...); local out = {}\n"
    "  for i = 1, n do out[i] = ser((select(i, ...))) end\n"
    "  return n .. ':' .. table.concat(out, ' ') end\n";

/* For cases whose records go to a Lua handler: a record the handler cannot
 * take (no memory to build it) is handed back to the formatter output, by
 * design. So the records a handler receives must be an ordered subset of
 * those of the run without limits, each whole. Sets the global
 * check_records(records, state) used by those cases. */
static const char record_checker[] =
    "local ser = ...\n"
    "return function(records, state)\n"
    "  local got = {}\n"
    "  for i, r in ipairs(records) do got[i] = ser(r) end\n"
    "  if not state.expected then state.expected = got; return end\n"
    "  local j = 1\n"
    "  for _, s in ipairs(got) do\n"
    "    while j <= #state.expected and state.expected[j] ~= s do j = j + 1 end\n"
    "    if j > #state.expected then error('a record the run without limits did not log: ' .. s, 0) end\n"
    "    j = j + 1\n"
    "  end\n"
    "end\n";

static void open_state(void)
{
    L = lua_newstate(budget_alloc, &budget);
    assert_non_null(L);
    luaL_openlibs(L);
    luaL_requiref(L, "vmutils", luaopen_vmutils, 1);
    lua_pop(L, 1);
    assert_int_equal(luaL_loadstring(L, serializer), LUA_OK);
    assert_int_equal(lua_pcall(L, 0, 1, 0), LUA_OK);
    lua_setglobal(L, "serialize");
    assert_int_equal(luaL_loadstring(L, record_checker), LUA_OK);
    lua_getglobal(L, "serialize");
    assert_int_equal(lua_pcall(L, 1, 1, 0), LUA_OK);
    lua_setglobal(L, "check_records");
    /* Records that reach the formatter (the handler's fallback, debug
     * records) stay out of the test's output. */
    assert_int_equal(luaL_dostring(L, "require('vmutils').set_log_output(io.tmpfile())"), LUA_OK);
}

/* Case code is a chunk returning the function to walk; it runs with the
 * globals REFINFO_ROOT and STREAM set. */
static void push_case(const char *code)
{
    lua_pushstring(L, refinfo_root);
    lua_setglobal(L, "REFINFO_ROOT");
    if (luaL_loadstring(L, code) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK)
        fail_msg("case does not load: %s", lua_tostring(L, -1));
    assert_true(lua_isfunction(L, -1));
}

/* Calls the function on the stack top (kept) and returns the serialisation
 * of its results, or of its error as "error:<message>" (malloc'd). */
static char *call_and_serialize(bool limit_core, long core_n, bool limit_lua, long lua_n, bool *hit)
{
    lua_gc(L, LUA_GCCOLLECT);
    int top = lua_gettop(L);
    lua_pushvalue(L, -1);
    budget.refused = false;
    if (limit_lua)
        budget.left = lua_n;
    if (limit_core)
        vmu_alloc_fail_after(core_n);
    int status = lua_pcall(L, 0, LUA_MULTRET, 0);
    /* The limits end here: one more core allocation shows whether the core
     * one was met; the Lua allocator remembers. */
    void *probe = vmu_malloc(1);
    vmu_alloc_fail_after(-1);
    vmu_free(probe);
    budget.left = -1;
    *hit = (limit_core && !probe) || (limit_lua && budget.refused);
    char *text;
    if (status != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        size_t n = strlen(msg ? msg : "(not a string)") + 8;
        text = malloc(n);
        snprintf(text, n, "error:%s", msg ? msg : "(not a string)");
    } else {
        int results = lua_gettop(L) - top;
        lua_getglobal(L, "serialize");
        lua_insert(L, top + 1);
        if (lua_pcall(L, results, 1, 0) != LUA_OK)
            fail_msg("serialize: %s", lua_tostring(L, -1));
        text = strdup(lua_tostring(L, -1));
    }
    assert_non_null(text);
    lua_settop(L, top);
    return text;
}

static bool about_memory(const char *text)
{
    return strstr(text, "not enough memory") || strstr(text, "out of memory");
}

/* nil and a message about memory: the nil-err convention's failure
 * (policy.evaluate adds "failed" after the message). */
static bool nil_memory_failure(const char *text)
{
    size_t len = strlen(text);
    bool evaluate_failed = strncmp(text, "3:nil \"", 7) == 0 && len > 9 &&
                           strcmp(text + len - 9, " \"failed\"") == 0;
    return (strncmp(text, "2:nil ", 6) == 0 || strncmp(text, "3:nil nil ", 10) == 0 ||
            evaluate_failed) &&
           about_memory(text);
}

typedef struct case_row {
    const char *name;
    const char *code;
} case_row;

static long walk_case(const case_row *row, const char *reference, bool core)
{
    for (long n = 0; n <= WALK_LIMIT; n++) {
        bool hit;
        char *got = core ? call_and_serialize(true, n, false, 0, &hit)
                         : call_and_serialize(false, 0, true, n, &hit);
        bool complete = strcmp(got, reference) == 0;
        bool clean_failure = (strncmp(got, "error:", 6) == 0 && about_memory(got)) ||
                             nil_memory_failure(got);
        if (!complete && !clean_failure)
            fail_msg("%s, %s allocation %ld refused: neither the result nor a memory failure:\n"
                     "got  %.600s\nwant %.600s",
                     row->name, core ? "core" : "Lua", n, got, reference);
        free(got);
        if (!hit) {
            assert_true(complete);
            return n;
        }
    }
    fail_msg("%s: no end after %d allocations", row->name, WALK_LIMIT);
    return -1;
}

static void test_walk(void **state)
{
    const case_row *row = *state;
    push_case(row->code);
    bool hit;
    char *reference = call_and_serialize(false, 0, false, 0, &hit);
    if (strncmp(reference, "error:", 6) == 0)
        fail_msg("%s: the case fails without limits: %s", row->name, reference);
    long core_points = walk_case(row, reference, true);
    long lua_points = walk_case(row, reference, false);
    printf("# %s: %ld core and %ld Lua allocation points walked\n", row->name, core_points,
           lua_points);
    free(reference);
    lua_pop(L, 1);
}

/* ---- the cases -------------------------------------------------------------- */

#define STREAM                                                                              \
    "'{\"time\":\"2024-01-15T10:30:00Z\",\"level\":\"warn\",\"msg\":\"one\",\"a\":[1,{\"b\":null}]}\\n' .." \
    "'{\"msg\":\"two\",\"n\":1.5,\"o\":{\"p\":\"q\"}}\\n{\"level\":\"nope\"}\\nnot json\\n' .."          \
    "'{\"msg\":\"three\"}\\ntrailing text'"

static const case_row cases[] = {
    {"decode_gcs_log_entry",
     "local v = require 'vmutils'\n"
     "return function() return v.decode_gcs_log_entry('{\"time\":\"2024-01-15T10:30:00.5+02:00\","
     "\"level\":\"warn\",\"msg\":\"m\",\"a\":[1,{\"b\":null}],\"c\":1.5,\"d\":\"\\xff\"}') end"},
    {"decode_gcs_log_entry, a bad level",
     "local v = require 'vmutils'\n"
     "return function() return v.decode_gcs_log_entry('{\"level\":\"nope\",\"x\":[1,2]}') end"},
    {"gcs_log_decoder feed and finish",
     "local v = require 'vmutils'\n"
     "local s = " STREAM "\n"
     "return function()\n"
     "  local d = v.gcs_log_decoder('vm-1', { resync = true })\n"
     "  local a = d:feed(s:sub(1, 50)); local b = d:feed(s:sub(51)); local c = d:finish()\n"
     "  return a, b, c end"},
    {"parse_gcs_logrus on a string, records to a handler",
     "local v = require 'vmutils'\n"
     "local s = " STREAM "\n"
     "local state = {}\n"
     "return function()\n"
     "  local got = {}\n"
     "  v.set_log_level('trace')\n"
     "  v.set_log_handler(function(r) got[#got + 1] = r end)\n"
     "  local ok, stats = pcall(v.parse_gcs_logrus('vm-2'), s)\n"
     "  v.set_log_handler(nil)\n"
     "  if not ok then error(stats, 0) end\n"
     "  check_records(got, state)\n"
     "  return stats end"},
    {"unmarshal_runtime_options of Any bytes",
     "local v = require 'vmutils'\n"
     "local any = v.marshal_runtime_options({ debug = true, debug_type = 'ETW', registry_root = 'r',"
     " vm_processor_count = 4, default_container_annotations = { b = '2', a = '1' }, scrub_logs = true })\n"
     "return function() return v.unmarshal_runtime_options(any) end"},
    {"unmarshal_runtime_options of an Any table",
     "local v = require 'vmutils'\n"
     "return function() return v.unmarshal_runtime_options({ type_url = 'x/containerd.runhcs.v1.Options',"
     " value = '\\8\\1\\34\\3img' }) end"},
    {"marshal_runtime_options",
     "local v = require 'vmutils'\n"
     "return function() return v.marshal_runtime_options({ debug = true, sandbox_isolation = 'HYPERVISOR',"
     " default_container_annotations = { z = 'last', a = 'first' }, GPUVHDPath = 'gpu' }) end"},
    {"prepare_vnuma_topology, explicit",
     "local v = require 'vmutils'\n"
     "return function()\n"
     "  v.set_log_level('debug'); v.set_log_handler(function() end)\n"
     "  local a, b, c = v.prepare_vnuma_topology({ numa_mapped_physical_nodes = { 0, 1 },"
     "    numa_processor_counts = { 2, 2 }, numa_memory_blocks_counts = { 1024, 1024 },"
     "    preferred_physical_numa_nodes = { 1 } }, { os_build = 26100 })\n"
     "  v.set_log_handler(nil)\n"
     "  return a, b, c end"},
    {"prepare_vnuma_topology, implicit",
     "local v = require 'vmutils'\n"
     "return function() return v.prepare_vnuma_topology({ max_processors_per_numa_node = 4,"
     " max_memory_size_per_numa_node = 2048, preferred_physical_numa_nodes = { 0, 1 } }) end"},
    {"validate_numa",
     "local v = require 'vmutils'\n"
     "return function() return v.validate_numa({ Settings = { { VirtualNodeNumber = 0,"
     " PhysicalNodeNumber = 0, CountOfProcessors = 2, CountOfMemoryBlocks = 512 },"
     " { VirtualNodeNumber = 1, PhysicalNodeNumber = 1, CountOfProcessors = 2,"
     " CountOfMemoryBlocks = 512 } } }) end"},
    {"parse_uvm_reference_info",
     "local v = require 'vmutils'\n"
     "return function() return v.parse_uvm_reference_info(REFINFO_ROOT, 'sub/../ref.cose') end"},
    {"normalize_memory_size with its warning",
     "local v = require 'vmutils'\n"
     "local state = {}\n"
     "return function()\n"
     "  local got = {}\n"
     "  v.set_log_handler(function(r) got[#got + 1] = r end)\n"
     "  local ok, n = pcall(v.normalize_memory_size, 'vm-3', 1023)\n"
     "  v.set_log_handler(nil)\n"
     "  if not ok then error(n, 0) end\n"
     "  check_records(got, state)\n"
     "  return n end"},
    {"default_lcow_os_boot_files_path",
     "local v = require 'vmutils'\n"
     "return function() return v.default_lcow_os_boot_files_path() end"},
    {"host_topology of a synthetic host",
     "local v = require 'vmutils'\n"
     "return function() return v.host_topology({ synthetic = 'pack:1 numa:2 core:2 pu:2' }) end"},
    {"policy.evaluate, the document read back",
     "local v = require 'vmutils'\n"
     "return function()\n"
     "  return v.policy.evaluate('return function(r) return { b = { r.host.os_build, 2.5 } } end',\n"
     "                           '{\"host\":{\"os_build\":26100}}') end"},
};

static int group_setup(void **state)
{
    (void)state;
    snprintf(refinfo_root, sizeof refinfo_root, "/tmp/vmutils-lua-alloc-XXXXXX");
    if (!mkdtemp(refinfo_root))
        return -1;
    char path[128];
    snprintf(path, sizeof path, "%s/sub", refinfo_root);
    if (mkdir(path, 0755) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/ref.cose", refinfo_root);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    for (int i = 0; i < 3000; i++)
        fputc(i % 251, f);
    fclose(f);
    open_state();
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    lua_close(L);
    char path[128];
    snprintf(path, sizeof path, "%s/ref.cose", refinfo_root);
    unlink(path);
    snprintf(path, sizeof path, "%s/sub", refinfo_root);
    rmdir(path);
    rmdir(refinfo_root);
    return 0;
}

static int reset_limits(void **state)
{
    (void)state;
    vmu_alloc_fail_after(-1);
    budget.left = -1;
    lua_settop(L, 0);
    return 0;
}

int main(void)
{
    struct CMUnitTest tests[sizeof cases / sizeof cases[0]];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct CMUnitTest t = {cases[i].name, test_walk, NULL, reset_limits, (void *)&cases[i]};
        tests[i] = t;
    }
    return _cmocka_run_group_tests("lua_alloc", tests, sizeof tests / sizeof tests[0], group_setup,
                                   group_teardown);
}
