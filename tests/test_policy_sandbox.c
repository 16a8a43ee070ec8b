/* The sandbox against hostile policies: no writable shared table is
 * reachable (pairs, next, nested library tables, the string metatable), no
 * C code that allocates outside the memory cap, every call into the policy
 * starts from the same state (random generator, open files), the host's
 * standard descriptors are out of reach, and C work is bounded (the
 * deadline, and the library functions whose work is not proportional to what
 * they allocate). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <lauxlib.h>
#include <lua.h>

#include "vmutils.h"
#include "vmutils_policy.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A runtime with these limits; a time limit of 0 means none here (not the
 * default), so that only the tests of the deadline depend on the machine's
 * speed (valgrind runs them tens of times slower). */
static vmu_policy *new_runtime(uint64_t budget, size_t memory, uint64_t time_limit_ms)
{
    vmu_policy_config config;
    vmu_policy_config_init(&config);
    config.instruction_budget = budget;
    config.memory_limit = memory;
    config.time_limit_ms = time_limit_ms ? time_limit_ms : UINT64_MAX;
    vmu_err err = {{0}};
    vmu_policy *rt = vmu_policy_new(&config, &err);
    if (!rt)
        fail_msg("vmu_policy_new: %s", err.msg);
    return rt;
}

static void load(vmu_policy *rt, const char *policy)
{
    if (vmu_policy_load(rt, policy, strlen(policy), "=test") != VMU_POLICY_OK)
        fail_msg("load: %s", vmu_policy_error(rt));
}

/* The document of an evaluation that must succeed. */
static const char *document(vmu_policy *rt, const char *request)
{
    const char *doc = NULL;
    size_t len = 0;
    if (vmu_policy_evaluate(rt, request, strlen(request), &doc, &len) != VMU_POLICY_OK)
        fail_msg("evaluate %s: %s", request, vmu_policy_error(rt));
    return doc;
}

/* The message of an evaluation that must fail. */
static const char *failure(vmu_policy *rt, const char *request)
{
    const char *doc = NULL;
    size_t len = 0;
    vmu_policy_status status = vmu_policy_evaluate(rt, request, strlen(request), &doc, &len);
    if (status != VMU_POLICY_ERROR)
        fail_msg("evaluate %s: status %d (%s)", request, status,
                 status == VMU_POLICY_OK ? doc : vmu_policy_error(rt));
    return vmu_policy_error(rt);
}

/* A log sink that counts the records. */
static void count_record(void *user, const vmu_log_record *record)
{
    (void)record;
    (*(int *)user)++;
}

static void assert_policy_document(vmu_policy *rt, const char *policy, const char *expected)
{
    load(rt, policy);
    const char *doc = document(rt, "{}");
    if (strcmp(doc, expected) != 0)
        fail_msg("%s\n  got      %s\n  expected %s", policy, doc, expected);
}

/* ---- no writable shared table ---- */

/* What a later policy of the same runtime checks: the libraries as they were. */
static const char intact_policy[] =
    "return function() return { string.format('%d', 1), vmutils.normalize_memory_size('uvm', 100), "
    "table.concat({ 'a', 'b' }), ('x'):rep(2), vmutils.osversion.RS5, tostring(rawget(_G, 'x')), "
    "type(string.leak), type(vmutils.leak), type(table.leak), type(math.leak) } end";

static void test_library_tables_stay_read_only(void **state)
{
    (void)state;
    static const char *const attacks[] = {
        /* the second value of pairs was the backing table */
        "local _, t = pairs(string) t.format = function() return 'pwned' end t.leak = 1",
        "local _, t = pairs(vmutils) t.normalize_memory_size = function() return 0 end t.leak = 1",
        "local t = select(2, pairs(table)) t.concat = function() return 'pwned' end t.leak = 1",
        "local _, t = pairs(_G) t.x = 'global'",
        "local f, t = pairs(math) local k = f(t) t.leak = 1",
        "local _, t = ipairs(string) t.leak = 1",
        /* nested library tables */
        "vmutils.osversion.RS5 = 0",
        "rawset(vmutils.osversion, 'RS5', 0)",
        "local _, t = pairs(vmutils.osversion) t.RS5 = 0",
        /* the string metatable's __index */
        "local t = getmetatable('') t.__index.rep = function() return 'pwned' end",
        "local idx = rawget(getmetatable('') or {}, '__index') idx.rep = nil",
        "('').rep = nil",
        "string.leak = 1",
    };
    for (size_t i = 0; i < ARRAY_LEN(attacks); i++) {
        vmu_policy *rt = new_runtime(0, 0, 0);
        char policy[512];
        snprintf(policy, sizeof policy, "return function() pcall(function() %s end) return {} end",
                 attacks[i]);
        load(rt, policy);
        document(rt, "{}");
        load(rt, intact_policy);
        const char *doc = document(rt, "{}");
        if (strcmp(doc, "[\"1\",100,\"ab\",\"xx\",17763,\"nil\",\"nil\",\"nil\",\"nil\",\"nil\"]") !=
            0)
            fail_msg("after `%s`: %s", attacks[i], doc);
        vmu_policy_free(rt);
    }
}

static void test_iteration_does_not_expose_backing_tables(void **state)
{
    (void)state;
    vmu_policy *rt = new_runtime(0, 0, 0);
    /* pairs hands back the proxy itself as its state, and the iterator
     * serves proxies only. */
    assert_policy_document(rt,
                           "return function() local f, s, k = pairs(string) "
                           "local n = 0 for name, v in pairs(string) do n = n + 1 end "
                           "return { s == string, k == nil, n > 10, pcall(f, {}) } end",
                           "[true,true,true,false,\"bad argument #1 to '?' (read-only library "
                           "expected, got table)\"]");
    assert_policy_document(rt,
                           "return function() local n = 0 for k, v in pairs(vmutils.osversion) do "
                           "n = n + 1 end return { n >= 5, type(next(vmutils.osversion)) } end",
                           "[true,\"nil\"]");
    vmu_policy_free(rt);
}

/* ---- no C code outside the cap ---- */

static void test_json_encode_replaces_cjson(void **state)
{
    (void)state;
    vmu_policy *rt = new_runtime(0, 0, 0);
    assert_policy_document(rt,
                           "return function() return { type(cjson.encode), type(cjson.decode), "
                           "cjson.null == json.null, json.encode({ b = 1, a = { 1, 2, json.null } }) } end",
                           "[\"nil\",\"nil\",true,\"{\\\"a\\\":[1,2,null],\\\"b\\\":1}\"]");
    assert_policy_document(rt, "return function() return { json.encode({ x = { y = 'z' } }, 1) } end",
                           "[\"{\\n \\\"x\\\": {\\n  \\\"y\\\": \\\"z\\\"\\n }\\n}\"]");
    assert_policy_document(rt,
                           "return function() local ok, e = pcall(json.encode, { f = print }) "
                           "return { ok, type(e) } end",
                           "[false,\"string\"]");
    vmu_policy_free(rt);
}

static void test_json_encode_is_bounded_by_the_memory_cap(void **state)
{
    (void)state;
    /* One small table referenced a thousand times: the text is 1000 times
     * larger than the tables that make it. */
    vmu_policy *rt = new_runtime(0, 8u << 20, 0);
    load(rt, "return function() local row = {} for i = 1, 100 do row[i] = string.rep('x', 100) end "
             "local big = {} for i = 1, 1000 do big[i] = row end return { #json.encode(big) } end");
    assert_non_null(strstr(failure(rt, "{}"), VMU_POLICY_ERR_MEMORY));
    load(rt, "return function() return { #json.encode({ string.rep('y', 1000) }) } end");
    assert_string_equal(document(rt, "{}"), "[1004]");
    vmu_policy_free(rt);
}

static void test_json_encode_does_not_depend_on_garbage(void **state)
{
    (void)state;
    /* Garbage left by the policy's earlier work counts against the room
     * until collected; json.encode collects it before it gives up. */
    vmu_policy *rt = new_runtime(0, 6u << 20, 0);
    load(rt, "return function() local junk = {} for i = 1, 30000 do junk[i] = ('x'):rep(64) .. i end "
             "junk = nil local t = {} for i = 1, 20000 do t[i] = ('y'):rep(40) .. i end "
             "return { #json.encode(t) > 900000 } end");
    for (int i = 0; i < 3; i++)
        assert_string_equal(document(rt, "{}"), "[true]");
    vmu_policy_free(rt);
}

static void test_module_texts_do_not_depend_on_garbage(void **state)
{
    (void)state;
    /* vmutils.go.quote and vmutils.json_encode build their text outside Lua
     * in the room left under the cap, which garbage takes until collected:
     * about 3 MiB of it here, with 2 MiB of text to build in a 6 MiB cap. */
    static const char *const calls[] = {
        "#vmutils.go.quote(('y'):rep(500000))",
        "#vmutils.json_encode({ ('y'):rep(1000000) })",
    };
    static const char *const lengths[] = {"[500002]", "[1000004]"};
    for (size_t i = 0; i < ARRAY_LEN(calls); i++) {
        vmu_policy *rt = new_runtime(0, 6u << 20, 0);
        char policy[512];
        snprintf(policy, sizeof policy,
                 "return function() local junk = {} for i = 1, 30000 do "
                 "junk[i] = ('x'):rep(64) .. i end junk = nil return { %s } end",
                 calls[i]);
        load(rt, policy);
        for (int k = 0; k < 3; k++)
            assert_string_equal(document(rt, "{}"), lengths[i]);
        vmu_policy_free(rt);
    }
}

/* ---- every call starts from the same state ---- */

static void test_running_out_of_memory_ends_the_call(void **state)
{
    (void)state;
    /* Each policy fills the cap with a nest of tables and catches the error:
     * the first returns the nest (writing it needs memo tables and a larger
     * Lua stack), the second drops it for a small table. What either could
     * still do would depend on the bytes of room left, which the state's
     * history decides (a runtime that ran other policies holds a few bytes
     * more or less); like the other limits, running out of memory ends the
     * call. The cap is moved a few bytes at a time, as that history would. */
    static const char *const policies[] = {
        "return function() local t = {} "
        "pcall(function() for i = 1, 2^53 do t = { { { t, t, k = t }, 64 }, 0 } end end) "
        "return { t = t } end",
        "return function() local t = {} "
        "pcall(function() for i = 1, 2^53 do t = { { t, t, k = t }, 0 } end end) "
        "t = { 1, 2 } return t end",
    };
    for (size_t i = 0; i < ARRAY_LEN(policies); i++) {
        for (size_t cap = 1u << 20; cap < (1u << 20) + 512; cap += 8) {
            vmu_policy *rt = new_runtime(0, cap, 0);
            load(rt, policies[i]);
            const char *msg = failure(rt, "{}");
            if (strcmp(msg, VMU_POLICY_ERR_MEMORY) != 0)
                fail_msg("policy %zu, cap %zu: %s", i + 1, cap, msg);
            /* The runtime is usable again. */
            assert_policy_document(rt, "return function() return { 1 } end", "[1]");
            vmu_policy_free(rt);
        }
    }
}

/* The outcome of an evaluation: the document, or the message. */
static const char *outcome(vmu_policy *rt, const char *request)
{
    const char *doc = NULL;
    size_t len = 0;
    if (vmu_policy_evaluate(rt, request, strlen(request), &doc, &len) == VMU_POLICY_OK)
        return doc;
    return vmu_policy_error(rt);
}

static void test_filling_the_cap_gives_the_same_outcome_every_call(void **state)
{
    (void)state;
    /* Each step keeps 100 KB and drops 100 KB until the cap ends the call.
     * The dropped halves are garbage that must be given back whenever the
     * cap is reached, on the first call and on later ones alike, so that
     * the steps that fit, and what the policy logs, are the same. */
    static const char fill[] =
        "return function() local t = {} "
        "for i = 1, math.maxinteger do "
        "t = { t, string.format('%s %d', ('a'):rep(100000), 7) } log.info('step') end end";
    vmu_policy *rt = new_runtime(0, 4u << 20, 0);
    int steps = 0;
    vmu_logger_set_sink(vmu_policy_logger(rt), count_record, &steps);
    load(rt, fill);
    assert_string_equal(outcome(rt, "{}"), VMU_POLICY_ERR_MEMORY);
    int first = steps;
    assert_true(first > 10);
    for (int i = 0; i < 3; i++) {
        load(rt, fill);
        steps = 0;
        assert_string_equal(outcome(rt, "{}"), VMU_POLICY_ERR_MEMORY);
        assert_int_equal(steps, first);
    }
    vmu_policy_free(rt);
}

static void test_random_generator_restarts_each_evaluation(void **state)
{
    (void)state;
    const char *policy = "return function(r) if r.annotations.seed then "
                         "math.randomseed(tonumber(r.annotations.seed)) end "
                         "return { math.random(1, 1000000000), math.random(1, 1000000000) } end";
    vmu_policy *rt = new_runtime(0, 0, 0);
    load(rt, policy);
    char *first = strdup(document(rt, "{}"));
    assert_non_null(first);
    char *seeded = strdup(document(rt, "{\"annotations\":{\"seed\":\"42\"}}"));
    assert_non_null(seeded);
    assert_string_not_equal(first, seeded);
    assert_string_equal(document(rt, "{}"), first);
    vmu_policy_free(rt);
    rt = new_runtime(0, 0, 0);
    load(rt, policy);
    assert_string_equal(document(rt, "{}"), first);
    vmu_policy_free(rt);
    free(first);
    free(seeded);
}

static int open_descriptors(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static void test_open_files_are_limited_and_closed(void **state)
{
    (void)state;
    vmu_policy_config config;
    vmu_policy_config_init(&config);
    assert_int_equal(config.max_open_files, VMU_POLICY_DEFAULT_MAX_OPEN_FILES);
    int before = open_descriptors();
    vmu_policy *rt = new_runtime(0, 0, 0);
    /* Handles kept in an upvalue outlive the evaluation; their files do not. */
    load(rt, "local kept = {} return function() local opened, err = 0 "
             "for i = 1, 100 do local f, e = io.open('/dev/null') if not f then err = e break end "
             "kept[#kept + 1] = f opened = opened + 1 end "
             "local closed = 0 for _, f in ipairs(kept) do "
             "if io.type(f) == 'closed file' then closed = closed + 1 end end "
             "return { opened, closed, err } end");
    assert_string_equal(document(rt, "{}"), "[16,0,\"too many open files (the limit is 16)\"]");
    assert_string_equal(document(rt, "{}"), "[16,16,\"too many open files (the limit is 16)\"]");
    assert_int_equal(open_descriptors(), before);
    /* Closing a file gives its slot back; io.lines counts as an open file. */
    load(rt, "return function() for i = 1, 40 do local f = assert(io.open('/dev/null')) f:close() "
             "end for i = 1, 40 do for l in io.lines('/proc/self/status') do break end end "
             "return { true } end");
    assert_string_equal(document(rt, "{}"), "[true]");
    vmu_policy_free(rt);
    assert_int_equal(open_descriptors(), before);
}

static void test_host_standard_descriptors_are_unreachable(void **state)
{
    (void)state;
    char pid_path[64];
    snprintf(pid_path, sizeof pid_path, "/proc/%ld/fd/0", (long)getpid());
    const char *paths[] = {"/dev/stdin",      "/dev/stdout",         "/dev/stderr",
                           "/dev/fd/0",       "/proc/self/fd/0",     "/proc/self/fd/2",
                           "/proc/thread-self/fd/1", pid_path, "/dev/fd/../fd/0"};
    vmu_policy *rt = new_runtime(0, 0, 0);
    for (size_t i = 0; i < ARRAY_LEN(paths); i++) {
        char policy[512];
        snprintf(policy, sizeof policy,
                 "return function() local f, e = io.open('%s') "
                 "local ok = pcall(io.lines, '%s') return { f == nil, type(e), ok } end",
                 paths[i], paths[i]);
        load(rt, policy);
        const char *doc = document(rt, "{}");
        if (strcmp(doc, "[true,\"string\",false]") != 0)
            fail_msg("%s: %s", paths[i], doc);
    }
    /* Regular files and /dev/null stay readable. */
    assert_policy_document(rt,
                           "return function() local f = assert(io.open('/proc/self/status')) "
                           "local l = f:read('l') f:close() local g = assert(io.open('/dev/null')) "
                           "return { l:sub(1, 5), g:read('a') } end",
                           "[\"Name:\",\"\"]");
    vmu_policy_free(rt);
}

/* ---- C work is bounded ---- */

static void test_deadline_stops_c_work(void **state)
{
    (void)state;
    vmu_policy_config config;
    vmu_policy_config_init(&config);
    assert_int_equal(config.time_limit_ms, VMU_POLICY_DEFAULT_TIME_LIMIT_MS);
    /* No instruction budget: only the deadline can end these. */
    vmu_policy *rt = new_runtime(UINT64_MAX, 0, 50);
    static const char *const bodies[] = {
        "table.move({}, 1, math.maxinteger - 1, 1, {})",
        "local t = setmetatable({}, { __len = function() return math.maxinteger - 1 end }) "
        "table.insert(t, 1, 'x')",
        "local t = setmetatable({}, { __len = function() return math.maxinteger - 1 end }) "
        "table.remove(t, 1)",
        "while true do end",
    };
    for (size_t i = 0; i < ARRAY_LEN(bodies); i++) {
        char policy[512];
        snprintf(policy, sizeof policy,
                 "return function() pcall(function() %s end) return { 'escaped' } end", bodies[i]);
        load(rt, policy);
        const char *msg = failure(rt, "{}");
        if (strcmp(msg, VMU_POLICY_ERR_TIME_LIMIT) != 0)
            fail_msg("%s: %s", bodies[i], msg);
        /* The runtime is usable again. */
        assert_policy_document(rt, "return function() return { 1 } end", "[1]");
    }
    vmu_policy_free(rt);
}

static void test_deadline_stops_work_between_hook_checks(void **state)
{
    (void)state;
    /* One VM instruction can do work in proportion to the memory cap
     * (s:upper(), s .. s, string.rep one byte a million times), or open a
     * file (system calls that allocate little in the state); the hook,
     * every 10,000 instructions, would let the first 600 or more of the steps
     * below run before it looks at the clock. Each step logs a record, so
     * the records counted are the steps run. An allocating step takes a
     * millisecond or so, an open some microseconds: with the deadlines below,
     * on any machine far fewer run. */
    static const char text[] = "('a'):rep(1 << 20)", none[] = "''";
    static const struct {
        const char *s; /* the text the step works on */
        const char *body;
        uint64_t deadline_ms;
        int max_steps;
    } cases[] = {
        {text, "local x = s:upper()", 20, 300},
        {text, "local x = s .. s", 20, 300},
        {none, "local x = string.rep('a', 1 << 20)", 20, 300},
        {none, "local x = string.rep('b', 1 << 19, 'a')", 20, 300},
        {none, "for l in io.lines('/proc/self/status') do break end", 2, 300},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        vmu_policy *rt = new_runtime(UINT64_MAX, 0, cases[i].deadline_ms);
        int steps = 0;
        vmu_logger_set_sink(vmu_policy_logger(rt), count_record, &steps);
        char policy[512];
        snprintf(policy, sizeof policy,
                 "return function() local s = %s pcall(function() "
                 "for i = 1, 2000 do %s log.info('step') end end) return { 'escaped' } end",
                 cases[i].s, cases[i].body);
        load(rt, policy);
        const char *msg = failure(rt, "{}");
        if (strcmp(msg, VMU_POLICY_ERR_TIME_LIMIT) != 0)
            fail_msg("%s: %s", cases[i].body, msg);
        if (steps > cases[i].max_steps)
            fail_msg("%s: %d steps ran past a %d ms deadline", cases[i].body, steps,
                     (int)cases[i].deadline_ms);
        assert_policy_document(rt, "return function() return { 1 } end", "[1]");
        vmu_policy_free(rt);
    }
}

static void test_deadline_covers_the_document(void **state)
{
    (void)state;
    /* A document of shared tables is exponentially longer than the tables:
     * writing it is C work after the policy returned. Each table is scanned
     * once per depth and its text copied after that, so the document cap
     * (16 MiB) is reached long before the time limit; either ends it. */
    vmu_policy *rt = new_runtime(UINT64_MAX, 0, 50);
    load(rt, "return function() local t = {} for i = 1, 40 do t = { t, t } end return t end");
    const char *msg = failure(rt, "{}");
    if (strcmp(msg, VMU_POLICY_ERR_TIME_LIMIT) != 0 &&
        strcmp(msg, "document exceeds 16777216 bytes") != 0)
        fail_msg("the document was not stopped by a limit: %s", msg);
    load(rt, "return function() return { 1 } end");
    assert_string_equal(document(rt, "{}"), "[1]");
    vmu_policy_free(rt);
}

static void test_bounded_functions_keep_their_results(void **state)
{
    (void)state;
    vmu_policy *rt = new_runtime(0, 0, 0);
    /* An empty result is made at once, however many repetitions. */
    assert_policy_document(rt,
                           "return function() return { ('').rep('', math.maxinteger), "
                           "string.rep('', 1e9, ''), ('ab'):rep(3, ','), string.rep('x', 0) } end",
                           "[\"\",\"\",\"ab,ab,ab\",\"\"]");
    assert_policy_document(rt,
                           "return function() local a = table.move({ 1, 2, 3, 4 }, 2, 4, 1) "
                           "local b = table.move({ 1, 2, 3 }, 1, 3, 2) local c = table.move({ 1, 2 }, 1, 2, 3, { 9 }) "
                           "local t = { 'a', 'c' } table.insert(t, 2, 'b') table.insert(t, 'd') "
                           "local r = table.remove(t, 1) local l = table.remove(t) "
                           "return { a, b, c, t, r, l, select('#', table.remove({})) } end",
                           "[[2,3,4,4],[1,1,2,3],{\"1\":9,\"3\":1,\"4\":2},[\"b\",\"c\"],\"a\",\"d\",1]");
    assert_policy_document(rt,
                           "return function() local ok1, e1 = pcall(table.insert, {}, 5, 'x') "
                           "local ok2, e2 = pcall(table.insert, {}, 1, 2, 3) "
                           "return { ok1, e1, ok2, e2 } end",
                           "[false,\"bad argument #2 to '?' (position out of bounds)\",false,"
                           "\"wrong number of arguments to 'insert'\"]");
    assert_policy_document(rt,
                           "return function() local s = 'key = value; other = 2' "
                           "local out = {} for k, v in s:gmatch('(%w+) = (%w+)') do out[#out + 1] = k .. v end "
                           "return { s:find('other'), s:match('^(%w+)'), (s:gsub('%s', '')), out, "
                           "('x'):find('.', 1, true) } end",
                           "[14,\"key\",\"key=value;other=2\",[\"keyvalue\",\"other2\"]]");
    /* Work a budget can count: the budget ends it when no deadline is set. */
    vmu_policy_free(rt);
    rt = new_runtime(1000000, 0, UINT64_MAX);
    load(rt, "return function() table.move({}, 1, math.maxinteger - 1, 1, {}) return {} end");
    assert_string_equal(failure(rt, "{}"), VMU_POLICY_ERR_INSTRUCTION_BUDGET);
    vmu_policy_free(rt);
}

/* The policies' pattern functions (reached through the string metatable)
 * against Lua's own (the host's string table) on every combination of
 * subjects, patterns, start positions and replacements below: the same
 * results, or the same error messages. */
static const char pattern_comparison[] =
    "local subjects = { '', 'a', 'aaa', 'abc', 'hello world', 'key = value; other = 2', "
    "  '(foo(bar))baz', 'THE (quick) fox', 'a.b-c%d', '\\0x\\0', '  trim me  ', "
    "  'aXbXc', 'x=1, y=22, z=333', '[[]]', 'caf\\195\\169', 'ab12cd34', '$^' }\n"
    "local patterns = { '', 'a', '^a', 'a$', '^$', '.', '.-', '.*', 'a*', 'a+', 'a-', 'a?', "
    "  '%a+', '%A', '%d+', '%D+', '%s*(.-)%s*$', '(%w+) = (%w+)', '%b()', '%f[%w]%w+', "
    "  '()a()', '(a)%1', '(a*(.)%w(%s*))', '[%a_][%w_]*', '[^%s]+', '[]]', '[a-c]+', '[%]]', "
    "  '[^]]', 'x=(%d+)', '%.', '%%', '%', '[a', '(()', '%1', '(a', 'a)', '%f', '%fa', '%b', "
    "  '%bx', '^(a+)$', '$^', '^', '%z', '\\0', '%c', '[%c]', '%x+', '%p', '%u%l', '%g+', "
    "  '(%d)(%d)', 'X', 'c%.', '[a-]', '[-a]', '[%a-z]', 'a-b', '.-b', '(h)(e)(l)(l)(o)' }\n"
    "local inits = { nil, 1, 2, 0, -1, -3, 100, -100 }\n"
    "local repls = { '', '%0', '<%1>', '%%', '%2', '%', '%x', 'r', 5, { a = 'A', hello = false }, "
    "  function(x) return x == 'a' and 'Z' or nil end, function() return {} end }\n"
    "local function pack(ok, ...) return { ok = ok, n = select('#', ...), ... } end\n"
    "local function same(a, b) if a.ok ~= b.ok or a.n ~= b.n then return false end "
    "  for i = 1, a.n do if a[i] ~= b[i] and not (a.ok and type(a[i]) == 'function') then "
    "    return false end end return true end\n"
    "local function show(r) local t = {} for i = 1, r.n do t[i] = tostring(r[i]) end "
    "  return tostring(r.ok) .. ' ' .. table.concat(t, ', ') end\n"
    "local mine = { find = ('').find, match = ('').match, gmatch = ('').gmatch, gsub = ('').gsub }\n"
    "assert(mine.find ~= string.find and mine.gsub ~= string.gsub)\n"
    "local count = 0\n"
    "local function check(name, ...)\n"
    "  count = count + 1\n"
    "  local want, got = pack(pcall(string[name], ...)), pack(pcall(mine[name], ...))\n"
    "  if not same(want, got) then\n"
    "    local args = {} for i = 1, select('#', ...) do args[i] = tostring((select(i, ...))) end\n"
    "    error(name .. '(' .. table.concat(args, ', ') .. '): Lua gives ' .. show(want) .. "
    "      ', the sandbox ' .. show(got), 0)\n"
    "  end\n"
    "end\n"
    "local function all(f, ...) local t = {} for x in f(...) do t[#t + 1] = x end return t end\n"
    "for _, s in ipairs(subjects) do for _, p in ipairs(patterns) do\n"
    "  for i = 1, #inits + 1 do local init = inits[i]\n"
    "    check('find', s, p, init) check('match', s, p, init) check('find', s, p, init, true)\n"
    "  end\n"
    "  for _, r in ipairs(repls) do check('gsub', s, p, r) check('gsub', s, p, r, 1) end\n"
    "  local ok1, w = pcall(all, string.gmatch, s, p) local ok2, g = pcall(all, mine.gmatch, s, p)\n"
    "  count = count + 1\n"
    "  if ok1 ~= ok2 or (ok1 and table.concat(w, '|') ~= table.concat(g, '|')) or (not ok1 and w ~= g) then\n"
    "    error('gmatch(' .. s .. ', ' .. p .. ') differs: ' .. tostring(ok1 and table.concat(w, '|') or w) "
    "      .. ' vs ' .. tostring(ok2 and table.concat(g, '|') or g), 0)\n"
    "  end\n"
    "  for _, init in ipairs({ 2, -2, 50 }) do local a, b = all(string.gmatch, s, '.', init), "
    "    all(mine.gmatch, s, '.', init) assert(table.concat(a) == table.concat(b), 'gmatch init') end\n"
    "end end\n"
    "return count\n";

static void test_patterns_match_lua(void **state)
{
    (void)state;
    vmu_policy *rt = new_runtime(0, 0, 0);
    lua_State *L = vmu_policy_lua(rt);
    if (luaL_dostring(L, pattern_comparison) != LUA_OK)
        fail_msg("%s", lua_tostring(L, -1));
    assert_true(lua_tointeger(L, -1) > 50000);
    lua_pop(L, 1);
    vmu_policy_free(rt);
}

static void test_backtracking_patterns_are_bounded(void **state)
{
    (void)state;
    /* Polynomial in the subject's length to the power of the quantifiers:
     * the budget and the deadline both stop them. */
    static const char *const bodies[] = {
        "string.find(string.rep('a', 20000), string.rep('a-', 12) .. 'b')",
        "string.match(string.rep('a', 20000), string.rep('a*', 12) .. 'b')",
        "string.gsub(string.rep('a', 20000), string.rep('a-', 12) .. 'b', '')",
        "for m in string.gmatch(string.rep('a', 20000), string.rep('a-', 12) .. 'b') do end",
        "('a'):rep(20000):find(('a?'):rep(20) .. 'b')",
        "string.find(string.rep('a', 1000000), string.rep('a', 500000) .. 'b', 1, true)",
    };
    for (int limit = 0; limit < 2; limit++) {
        vmu_policy *rt = limit ? new_runtime(UINT64_MAX, 0, 50) : new_runtime(1000000, 0, UINT64_MAX);
        const char *want = limit ? VMU_POLICY_ERR_TIME_LIMIT : VMU_POLICY_ERR_INSTRUCTION_BUDGET;
        for (size_t i = 0; i < ARRAY_LEN(bodies); i++) {
            char policy[512];
            snprintf(policy, sizeof policy,
                     "return function() pcall(function() %s end) return { 'escaped' } end", bodies[i]);
            load(rt, policy);
            const char *msg = failure(rt, "{}");
            if (strcmp(msg, want) != 0)
                fail_msg("%s: %s", bodies[i], msg);
        }
        vmu_policy_free(rt);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_library_tables_stay_read_only),
        cmocka_unit_test(test_iteration_does_not_expose_backing_tables),
        cmocka_unit_test(test_json_encode_replaces_cjson),
        cmocka_unit_test(test_json_encode_is_bounded_by_the_memory_cap),
        cmocka_unit_test(test_json_encode_does_not_depend_on_garbage),
        cmocka_unit_test(test_module_texts_do_not_depend_on_garbage),
        cmocka_unit_test(test_running_out_of_memory_ends_the_call),
        cmocka_unit_test(test_filling_the_cap_gives_the_same_outcome_every_call),
        cmocka_unit_test(test_random_generator_restarts_each_evaluation),
        cmocka_unit_test(test_open_files_are_limited_and_closed),
        cmocka_unit_test(test_host_standard_descriptors_are_unreachable),
        cmocka_unit_test(test_deadline_stops_c_work),
        cmocka_unit_test(test_deadline_stops_work_between_hook_checks),
        cmocka_unit_test(test_deadline_covers_the_document),
        cmocka_unit_test(test_bounded_functions_keep_their_results),
        cmocka_unit_test(test_patterns_match_lua),
        cmocka_unit_test(test_backtracking_patterns_are_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
