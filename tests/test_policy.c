/* The embedding API (bindings/policy/vmutils_policy.h): loading and evaluating
 * policies, the request shape, the sorted JSON encoder, the sandbox, both
 * limits (and that the runtime stays usable after them), logging, one
 * runtime per thread, and bad arguments. */
#include <pthread.h>
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
#include <lualib.h>

#include "../core/test_hooks.h"
#include "vmutils.h"
#include "vmutils_policy.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A runtime with the test's budget, loaded with `policy`; fails the test if
 * either step fails. */
static vmu_policy *runtime_with(const char *policy, uint64_t budget, size_t memory)
{
    vmu_policy_config config;
    vmu_policy_config_init(&config);
    config.instruction_budget = budget;
    config.memory_limit = memory;
    /* The time limit has tests of its own (test_policy_sandbox.c); these
     * fill the memory cap, which takes seconds under valgrind. */
    config.time_limit_ms = UINT64_MAX;
    vmu_err err = {{0}};
    vmu_policy *rt = vmu_policy_new(&config, &err);
    if (!rt)
        fail_msg("vmu_policy_new: %s", err.msg);
    if (policy && vmu_policy_load(rt, policy, strlen(policy), "=test") != VMU_POLICY_OK)
        fail_msg("load: %s", vmu_policy_error(rt));
    return rt;
}

static vmu_policy *runtime_loaded(const char *policy) { return runtime_with(policy, 0, 0); }

/* Evaluates and returns the status; *doc gets the document (or NULL). */
static vmu_policy_status evaluate(vmu_policy *rt, const char *request, const char **doc)
{
    size_t len = 0;
    vmu_policy_status status = vmu_policy_evaluate(rt, request, strlen(request), doc, &len);
    if (status == VMU_POLICY_OK)
        assert_int_equal(len, strlen(*doc));
    else
        assert_null(*doc);
    return status;
}

/* The failure a policy gives for an empty request: status and message part. */
static void assert_failure(const char *policy, vmu_policy_status want, const char *message_part)
{
    vmu_policy *rt = runtime_loaded(policy);
    const char *doc = NULL;
    vmu_policy_status status = evaluate(rt, "{}", &doc);
    if (status != want || !strstr(vmu_policy_error(rt), message_part))
        fail_msg("%s: status %d, message '%s' (wanted %d, '%s')", policy, status,
                 vmu_policy_error(rt), want, message_part);
    vmu_policy_free(rt);
}

/* ---- configuration and lifecycle ---- */

static void test_config_defaults(void **state)
{
    (void)state;
    vmu_policy_config config;
    memset(&config, 0xff, sizeof config);
    vmu_policy_config_init(&config);
    assert_int_equal(config.instruction_budget, 50000000);
    assert_int_equal(config.memory_limit, 64u * 1024 * 1024);
    assert_int_equal(config.json_indent, 0);
}

static void test_null_arguments(void **state)
{
    (void)state;
    vmu_policy_free(NULL);
    assert_string_equal(vmu_policy_error(NULL), "no runtime");
    assert_null(vmu_policy_logger(NULL));
    assert_null(vmu_policy_lua(NULL));
    assert_int_equal(vmu_policy_memory_in_use(NULL), 0);
    const char *doc = "unset";
    size_t len = 7;
    assert_int_equal(vmu_policy_evaluate(NULL, "{}", 2, &doc, &len), VMU_POLICY_ERROR);
    assert_null(doc);
    assert_int_equal(len, 0);
    assert_int_equal(vmu_policy_load(NULL, "x", 1, NULL), VMU_POLICY_ERROR);
    assert_int_equal(vmu_policy_load_file(NULL, "x"), VMU_POLICY_ERROR);

    vmu_policy *rt = runtime_loaded(NULL);
    assert_int_equal(vmu_policy_load(rt, NULL, 0, NULL), VMU_POLICY_ERROR);
    assert_string_equal(vmu_policy_error(rt), "no policy source");
    assert_int_equal(vmu_policy_load_file(rt, NULL), VMU_POLICY_ERROR);
    assert_int_equal(vmu_policy_evaluate(rt, NULL, 0, &doc, NULL), VMU_POLICY_ERROR);
    assert_string_equal(vmu_policy_error(rt), "request: no JSON given");
    /* No policy yet. */
    assert_int_equal(vmu_policy_evaluate(rt, "{}", 2, NULL, NULL), VMU_POLICY_ERROR);
    assert_string_equal(vmu_policy_error(rt), "no policy loaded");
    vmu_policy_free(rt);
}

static void test_new_fails_cleanly_without_memory(void **state)
{
    (void)state;
    for (long n = 0; n < 3; n++) {
        vmu_alloc_fail_after(n);
        vmu_err err = {{0}};
        vmu_policy *rt = vmu_policy_new(NULL, &err);
        vmu_alloc_fail_after(-1);
        if (rt) {
            vmu_policy_free(rt);
            continue;
        }
        assert_string_equal(err.msg, "not enough memory");
    }
    /* A cap too small for the libraries fails with the memory message. */
    vmu_policy_config config;
    vmu_policy_config_init(&config);
    config.memory_limit = 4096;
    vmu_err err = {{0}};
    assert_null(vmu_policy_new(&config, &err));
    assert_string_equal(err.msg, "not enough memory");
}

static void test_load_policy_file(void **state)
{
    (void)state;
    vmu_policy *rt = runtime_loaded(NULL);
    assert_int_equal(vmu_policy_load_file(rt, "/nonexistent/policy.lua"), VMU_POLICY_ERROR);
    assert_string_equal(vmu_policy_error(rt),
                        "cannot open /nonexistent/policy.lua: No such file or directory");

    char path[] = "/tmp/vmutils-test-policy-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "#!/usr/bin/env vmutils\nreturn function(r) return { ok = true } end\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(vmu_policy_load_file(rt, path), VMU_POLICY_OK);
    assert_string_equal(vmu_policy_error(rt), "");
    const char *doc = NULL;
    assert_int_equal(evaluate(rt, "{}", &doc), VMU_POLICY_OK);
    assert_string_equal(doc, "{\"ok\":true}");
    unlink(path);
    vmu_policy_free(rt);
}

/* ---- loading ---- */

typedef struct load_case {
    const char *name;
    const char *policy;
    const char *message_part;
} load_case;

static const load_case load_failures[] = {
    {"syntax error", "return function(", "test:1:"},
    {"returns a number", "return 42", "policy must return a function build(request), got number"},
    {"returns nothing", "local x = 1", "policy must return a function build(request), got nil"},
    {"raises", "error('refused at load')", "refused at load"},
    {"loops at load", "while true do end", "policy exceeded its instruction budget"},
    {"sets a global", "helper = 1 return function() end",
     "attempt to set global 'helper': policy globals are read-only (use a local)"},
};

static void test_load_failures(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(load_failures); i++) {
        const load_case *c = &load_failures[i];
        vmu_policy *rt = runtime_with(NULL, 1000000, 0);
        assert_int_equal(vmu_policy_load(rt, c->policy, strlen(c->policy), "=test"),
                         VMU_POLICY_ERROR);
        if (!strstr(vmu_policy_error(rt), c->message_part))
            fail_msg("%s: got '%s'", c->name, vmu_policy_error(rt));
        /* A failed load leaves no policy behind. */
        assert_int_equal(vmu_policy_evaluate(rt, "{}", 2, NULL, NULL), VMU_POLICY_ERROR);
        assert_string_equal(vmu_policy_error(rt), "no policy loaded");
        vmu_policy_free(rt);
    }
}

static int dump_writer(lua_State *L, const void *p, size_t size, void *ud)
{
    (void)L;
    return vmu_buf_append(ud, p, size);
}

static void test_binary_chunks_are_refused(void **state)
{
    (void)state;
    lua_State *L = luaL_newstate();
    assert_int_equal(luaL_loadstring(L, "return function() return {} end"), LUA_OK);
    vmu_buf binary;
    vmu_buf_init(&binary);
    assert_int_equal(lua_dump(L, dump_writer, &binary, 1), 0);
    lua_close(L);

    vmu_policy *rt = runtime_loaded(NULL);
    assert_int_equal(vmu_policy_load(rt, binary.data, binary.len, "=binary"), VMU_POLICY_ERROR);
    assert_non_null(strstr(vmu_policy_error(rt), "attempt to load a binary chunk"));
    vmu_buf_free(&binary);
    vmu_policy_free(rt);
}

static void test_reload_replaces_the_policy(void **state)
{
    (void)state;
    vmu_policy *rt = runtime_loaded("return function() return { v = 1 } end");
    const char *doc = NULL;
    assert_int_equal(evaluate(rt, "{}", &doc), VMU_POLICY_OK);
    assert_string_equal(doc, "{\"v\":1}");
    const char *second = "return function() return { v = 2 } end";
    assert_int_equal(vmu_policy_load(rt, second, strlen(second), "=second"), VMU_POLICY_OK);
    assert_int_equal(evaluate(rt, "{}", &doc), VMU_POLICY_OK);
    assert_string_equal(doc, "{\"v\":2}");
    vmu_policy_free(rt);
}

/* ---- evaluation outcomes ---- */

static void test_rejection_and_errors(void **state)
{
    (void)state;
    assert_failure("return function() return nil, 'too many processors' end", VMU_POLICY_REJECTED,
                   "too many processors");
    assert_failure("return function() return false, 'no' end", VMU_POLICY_REJECTED, "no");
    assert_failure("return function() return nil end", VMU_POLICY_REJECTED,
                   "policy rejected the request");
    assert_failure("return function() error('boom') end", VMU_POLICY_ERROR, "test:1: boom");
    assert_failure("return function() error({}) end", VMU_POLICY_ERROR,
                   "(error object is not a string)");
    /* An error object's __tostring is not run: it would run unbudgeted. */
    assert_failure("return function() error(setmetatable({}, { __tostring = function() "
                   "while true do end end })) end",
                   VMU_POLICY_ERROR, "(error object is not a string)");
    assert_failure("return function() return 'text' end", VMU_POLICY_ERROR,
                   "policy returned a string, not a document table");
    assert_failure("return function() local t = {} t.t = t return t end", VMU_POLICY_ERROR,
                   "nested more than 128 levels");
    assert_failure("return function() return { f = print } end", VMU_POLICY_ERROR,
                   "cannot encode a function value as JSON");
    assert_failure("return function() return { x = 0/0 } end", VMU_POLICY_ERROR,
                   "json: unsupported value: NaN");
    assert_failure("return function() return { x = -1/0 } end", VMU_POLICY_ERROR,
                   "json: unsupported value: -Inf");
    assert_failure("return function() return { 1/0 } end", VMU_POLICY_ERROR,
                   "json: unsupported value: +Inf");
    assert_failure("return function() return { [true] = 1 } end", VMU_POLICY_ERROR,
                   "cannot encode a table key of type boolean");
}

static void test_error_is_cleared_by_success(void **state)
{
    (void)state;
    vmu_policy *rt = runtime_loaded(
        "return function(r) if r.annotations.no then return nil, 'refused' end return {} end");
    const char *doc = NULL;
    assert_int_equal(evaluate(rt, "{\"annotations\":{\"no\":\"1\"}}", &doc), VMU_POLICY_REJECTED);
    assert_string_equal(vmu_policy_error(rt), "refused");
    assert_int_equal(evaluate(rt, "{}", &doc), VMU_POLICY_OK);
    assert_string_equal(vmu_policy_error(rt), "");
    vmu_policy_free(rt);
}

/* ---- the request ---- */

static void test_request_host_defaults(void **state)
{
    (void)state;
    vmu_policy *rt = runtime_loaded("return function(r) return r.host end");
    const char *doc = NULL;
    assert_int_equal(evaluate(rt, "{}", &doc), VMU_POLICY_OK);
    char expected[512];
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    char cwd[200];
    assert_non_null(getcwd(cwd, sizeof cwd));
#if defined(__x86_64__)
    const char *arch = "amd64";
#elif defined(__aarch64__)
    const char *arch = "arm64";
#else
    const char *arch = NULL;
#endif
    /* This machine's facts; no Windows build (the request's or the policy's). */
    if (arch) {
        snprintf(expected, sizeof expected,
                 "{\"arch\":\"%s\",\"cwd\":\"%s\",\"logical_processor_count\":%ld}",
                 arch, cwd, cpus);
        assert_string_equal(doc, expected);
    }
    /* Given facts are kept; JSON numbers arrive as integers. */
    assert_int_equal(evaluate(rt,
                              "{\"host\":{\"os_build\":17763,\"logical_processor_count\":4.0,"
                              "\"arch\":\"arm64\",\"cwd\":\"/x\"}}",
                              &doc),
                     VMU_POLICY_OK);
    assert_string_equal(doc,
                        "{\"arch\":\"arm64\",\"cwd\":\"/x\",\"logical_processor_count\":4,\"os_build\":17763}");
    vmu_policy_free(rt);

    rt = runtime_loaded("return function(r) return { t = math.type(r.host.logical_processor_count), "
                        "a = r.annotations, n = #r.annotations } end");
    assert_int_equal(evaluate(rt, "{\"annotations\":null}", &doc), VMU_POLICY_OK);
    assert_string_equal(doc, "{\"a\":{},\"n\":0,\"t\":\"integer\"}");
    vmu_policy_free(rt);
}

typedef struct request_case {
    const char *name;
    const char *request;
    const char *message;
} request_case;

static const request_case bad_requests[] = {
    {"not JSON", "{", "request: invalid JSON: "},
    {"an array", "[1, 2]", "request: must be a JSON object, got an array"},
    {"a string", "\"x\"", "request: must be a JSON object, got string"},
    {"null", "null", "request: must be a JSON object, got null"},
    {"annotation not a string", "{\"annotations\":{\"a\":1}}",
     "request: annotation \"a\" must be a string, got number"},
    {"annotations an array", "{\"annotations\":[\"a\"]}",
     "request: annotations must be an object of strings, not an array"},
    {"annotations a string", "{\"annotations\":\"a\"}",
     "request: annotations must be an object of strings, got string"},
    {"host not an object", "{\"host\":3}", "request: host must be an object, got number"},
    {"os_build not an integer", "{\"host\":{\"os_build\":1.5}}",
     "request: host.os_build must be an integer, got number"},
    {"arch not a string", "{\"host\":{\"arch\":64}}", "request: host.arch must be a string, got number"},
    {"os_build past uint16", "{\"host\":{\"os_build\":65536}}",
     "request: host.os_build must be an integer in [0, 65535], got 65536"},
    {"os_build negative", "{\"host\":{\"os_build\":-1}}",
     "request: host.os_build must be an integer in [0, 65535], got -1"},
    {"processor count past uint32", "{\"host\":{\"logical_processor_count\":4294967296}}",
     "request: host.logical_processor_count must be an integer in [0, 4294967295], got 4294967296"},
    {"processor count negative", "{\"host\":{\"logical_processor_count\":-2}}",
     "request: host.logical_processor_count must be an integer in [0, 4294967295], got -2"},
    {"options.type_url not a string", "{\"options\":{\"type_url\":5,\"value\":\"\"}}",
     "request: options.type_url must be a string, got number"},
    {"options.type_url an object", "{\"options\":{\"type_url\":{}}}",
     "request: options.type_url must be a string, got table"},
    {"options not base64", "{\"options\":\"@@@@\"}",
     "request: options: illegal base64 data at input byte 0"},
    {"options cut", "{\"options\":\"QUJD=\"}", "request: options: illegal base64 data at input byte 4"},
    {"options a number", "{\"options\":5}",
     "request: options must be a base64 string or an object, got number"},
    {"options.value not a string", "{\"options\":{\"type_url\":\"x\",\"value\":5}}",
     "request: options.value must be a base64 string, got number"},
};

static void test_bad_requests(void **state)
{
    (void)state;
    vmu_policy *rt = runtime_loaded("return function(r) return {} end");
    for (size_t i = 0; i < ARRAY_LEN(bad_requests); i++) {
        const request_case *c = &bad_requests[i];
        const char *doc = NULL;
        vmu_policy_status status = evaluate(rt, c->request, &doc);
        if (status != VMU_POLICY_ERROR || strncmp(vmu_policy_error(rt), c->message, strlen(c->message)))
            fail_msg("%s: status %d, '%s'", c->name, status, vmu_policy_error(rt));
    }
    vmu_policy_free(rt);
}

static void test_request_options(void **state)
{
    (void)state;
    vmu_policy *rt = runtime_loaded(
        "return function(r) return { n = r.options.vm_processor_count, "
        "b = r.options.boot_files_root_path, d = r.options.debug } end");
    const char *doc = NULL;
    /* No options: proto3 defaults. */
    assert_int_equal(evaluate(rt, "{}", &doc), VMU_POLICY_OK);
    assert_string_equal(doc, "{\"b\":\"\",\"d\":false,\"n\":0}");
    /* A table: its fields over the defaults. */
    assert_int_equal(evaluate(rt, "{\"options\":{\"vm_processor_count\":3,\"debug\":null}}", &doc),
                     VMU_POLICY_OK);
    assert_string_equal(doc, "{\"b\":\"\",\"d\":false,\"n\":3}");
    /* A null type_url is absent, as any null field is. */
    assert_int_equal(
        evaluate(rt, "{\"options\":{\"type_url\":null,\"vm_processor_count\":4}}", &doc),
        VMU_POLICY_OK);
    assert_string_equal(doc, "{\"b\":\"\",\"d\":false,\"n\":4}");
    vmu_policy_free(rt);

    /* The base64 of an Any made by marshal_runtime_options decodes back. */
    rt = runtime_loaded(
        "return function(r) return { n = r.options.vm_processor_count, "
        "b = r.options.boot_files_root_path } end");
    lua_State *RL = vmu_policy_lua(rt);
    assert_int_equal(luaL_dostring(RL,
                                   "local any = package.loaded.vmutils.marshal_runtime_options("
                                   "{ vm_processor_count = 6, boot_files_root_path = '/boot' }) "
                                   "local chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                   "0123456789+/' "
                                   "local out = {} "
                                   "for i = 1, #any, 3 do "
                                   "  local a, b, c = any:byte(i, i + 2) "
                                   "  local n = (a << 16) | ((b or 0) << 8) | (c or 0) "
                                   "  for k = 0, 3 do "
                                   "    if k <= 1 or (k == 2 and b) or (k == 3 and c) then "
                                   "      local x = (n >> (18 - 6 * k)) & 63 "
                                   "      out[#out + 1] = chars:sub(x + 1, x + 1) "
                                   "    else out[#out + 1] = '=' end "
                                   "  end "
                                   "end "
                                   "return table.concat(out)"),
                     LUA_OK);
    char request[512];
    snprintf(request, sizeof request, "{\"options\":\"%s\"}", lua_tostring(RL, -1));
    lua_pop(RL, 1);
    assert_int_equal(evaluate(rt, request, &doc), VMU_POLICY_OK);
    assert_string_equal(doc, "{\"b\":\"/boot\",\"n\":6}");
    /* An Any spelled out as { type_url, value }; an empty message is all defaults. */
    assert_int_equal(evaluate(rt,
                              "{\"options\":{\"type_url\":\"containerd.runhcs.v1.Options\","
                              "\"value\":\"\"}}",
                              &doc),
                     VMU_POLICY_OK);
    assert_string_equal(doc, "{\"b\":\"\",\"n\":0}");
    /* A wrong type URL is the options' own error. */
    assert_int_equal(evaluate(rt, "{\"options\":{\"type_url\":\"other.Type\",\"value\":\"\"}}", &doc),
                     VMU_POLICY_ERROR);
    assert_non_null(strstr(vmu_policy_error(rt), "request: options: failed to unmarshal options"));
    vmu_policy_free(rt);
}

/* ---- the JSON encoder ---- */

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct json_case {
    const char *name;
    const char *value; /* a Lua expression */
    const char *json;
} json_case;

static const json_case json_cases[] = {
    {"keys sorted bytewise", "{ b = 1, a = 2, B = 3, aa = 4 }", "{\"B\":3,\"a\":2,\"aa\":4,\"b\":1}"},
    {"integer keys become strings", "{ x = { [10] = 'a', [2] = 'b', k = 'c' } }",
     "{\"x\":{\"10\":\"a\",\"2\":\"b\",\"k\":\"c\"}}"},
    {"sequence is an array", "{ a = { 3, 1, 2 } }", "{\"a\":[3,1,2]}"},
    {"holes make an object", "{ a = { [1] = 1, [3] = 3 } }", "{\"a\":{\"1\":1,\"3\":3}}"},
    {"empty table is an object", "{ e = {} }", "{\"e\":{}}"},
    {"null sentinels", "{ a = cjson.null, b = vmutils.null }", "{\"a\":null,\"b\":null}"},
    {"booleans", "{ t = true, f = false }", "{\"f\":false,\"t\":true}"},
    {"integers", "{ a = 0, b = -7, c = math.maxinteger, d = math.mininteger }",
     "{\"a\":0,\"b\":-7,\"c\":9223372036854775807,\"d\":-9223372036854775808}"},
    {"floats as Go writes them",
     "{ 0.1, 2.5, 1e20, 1e21, 1e-6, 1e-7, 123456789.0, -0.0, 1/3, 5e-324, 1.5e300 }",
     "[0.1,2.5,100000000000000000000,1e+21,0.000001,1e-7,123456789,-0,0.3333333333333333,5e-324,"
     "1.5e+300]"},
    {"HTML characters escaped", "{ s = '<a href=\"x\">&</a>' }",
     "{\"s\":\"\\u003ca href=\\\"x\\\"\\u003e\\u0026\\u003c/a\\u003e\"}"},
    {"control characters", "{ s = '\\0\\1\\b\\f\\n\\r\\t\\31\\127' }",
     "{\"s\":\"\\u0000\\u0001\\b\\f\\n\\r\\t\\u001f\x7f\"}"},
    {"backslash", "{ s = 'C:\\\\Program Files' }", "{\"s\":\"C:\\\\Program Files\"}"},
    {"UTF-8 kept, line separators escaped", "{ s = 'caf\\u{e9} \\u{2028}\\u{2029} \\u{1F600}' }",
     "{\"s\":\"caf\xc3\xa9 \\u2028\\u2029 \xf0\x9f\x98\x80\"}"},
    {"invalid UTF-8 replaced", "{ s = 'a\\xff\\xc3b\\xed\\xa0\\x80' }",
     "{\"s\":\"a\\ufffd\\ufffdb\\ufffd\\ufffd\\ufffd\"}"},
    {"binary keys escaped too", "{ ['<k>'] = 1 }", "{\"\\u003ck\\u003e\":1}"},
};

static void test_json_encoding(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(json_cases); i++) {
        const json_case *c = &json_cases[i];
        char policy[512];
        snprintf(policy, sizeof policy, "return function() return %s end", c->value);
        vmu_policy *rt = runtime_loaded(policy);
        const char *doc = NULL;
        vmu_policy_status status = evaluate(rt, "{}", &doc);
        if (status != VMU_POLICY_OK || strcmp(doc, c->json) != 0) {
            fail_msg("%s: got %s", c->name, status == VMU_POLICY_OK ? doc : vmu_policy_error(rt));
        }
        vmu_policy_free(rt);
    }
}

/* Objects on either side of the size past which values are looked up again
 * rather than held on the Lua stack: the same sorted output. */
static void test_json_large_objects(void **state)
{
    (void)state;
    static const int sizes[] = {17, 4096, 4097, 10000};
    vmu_policy *rt = runtime_loaded(
        "return function(r) local n = tonumber(r.annotations.n) local t = {} "
        "for i = 1, n do t[string.format('k%05d', i)] = i; t[-i] = { i } end return t end");
    for (size_t k = 0; k < ARRAY_LEN(sizes); k++) {
        int n = sizes[k];
        char request[64];
        snprintf(request, sizeof request, "{\"annotations\":{\"n\":\"%d\"}}", n);
        const char *doc = NULL;
        assert_int_equal(evaluate(rt, request, &doc), VMU_POLICY_OK);
        /* Integer keys as strings sort bytewise: "-1" < "-10" < ... < "k00001". */
        vmu_buf want;
        vmu_buf_init(&want);
        char **negatives = calloc((size_t)n, sizeof *negatives);
        assert_non_null(negatives);
        for (int i = 1; i <= n; i++) {
            negatives[i - 1] = malloc(24);
            snprintf(negatives[i - 1], 24, "%d", -i);
        }
        qsort(negatives, (size_t)n, sizeof *negatives, compare_strings);
        vmu_buf_putc(&want, '{');
        for (int i = 0; i < n; i++) {
            vmu_buf_printf(&want, "\"%s\":[%d],", negatives[i], -atoi(negatives[i]));
            free(negatives[i]);
        }
        free(negatives);
        for (int i = 1; i <= n; i++)
            vmu_buf_printf(&want, "\"k%05d\":%d%s", i, i, i < n ? "," : "}");
        vmu_buf_putc(&want, '\0');
        assert_string_equal(doc, want.data);
        vmu_buf_free(&want);
    }
    vmu_policy_free(rt);
}

static void test_json_indent(void **state)
{
    (void)state;
    vmu_policy_config config;
    vmu_policy_config_init(&config);
    config.json_indent = 2;
    vmu_policy *rt = vmu_policy_new(&config, NULL);
    assert_non_null(rt);
    const char *policy = "return function() return { b = { 1, { c = true } }, a = {}, d = 'x' } end";
    assert_int_equal(vmu_policy_load(rt, policy, strlen(policy), "=p"), VMU_POLICY_OK);
    const char *doc = NULL;
    assert_int_equal(evaluate(rt, "{}", &doc), VMU_POLICY_OK);
    assert_string_equal(doc, "{\n"
                             "  \"a\": {},\n"
                             "  \"b\": [\n"
                             "    1,\n"
                             "    {\n"
                             "      \"c\": true\n"
                             "    }\n"
                             "  ],\n"
                             "  \"d\": \"x\"\n"
                             "}");
    vmu_policy_free(rt);
}

/* ---- the sandbox ---- */

typedef struct sandbox_case {
    const char *name;
    const char *body; /* the body of build(r); returns the document */
    const char *json; /* the document, or NULL when it must fail */
    const char *message_part;
} sandbox_case;

static const sandbox_case sandbox_cases[] = {
    {"no os.execute", "return { x = type(os.execute) }", "{\"x\":\"nil\"}", NULL},
    {"no io.popen", "return { x = type(io.popen) }", "{\"x\":\"nil\"}", NULL},
    {"no os.remove, os.exit", "return { type(os.remove), type(os.exit), type(os.rename) }",
     "[\"nil\",\"nil\",\"nil\"]", NULL},
    {"no io.write, io.output", "return { type(io.write), type(io.output), type(io.stdout) }",
     "[\"nil\",\"nil\",\"nil\"]", NULL},
    {"no debug, package, dofile, loadfile, collectgarbage",
     "return { type(debug), type(package), type(dofile), type(loadfile), type(collectgarbage) }",
     "[\"nil\",\"nil\",\"nil\",\"nil\",\"nil\"]", NULL},
    {"no string.dump", "return { x = type(string.dump) }", "{\"x\":\"nil\"}", NULL},
    {"the allowed libraries",
     "return { type(string.format), type(table.concat), type(math.floor), type(utf8.char), "
     "type(vmutils.normalize_memory_size), type(json.encode), type(os.time), type(io.open), "
     "type(log.warning), type(pcall), type(setmetatable) }",
     "[\"function\",\"function\",\"function\",\"function\",\"function\",\"function\",\"function\","
     "\"function\",\"function\",\"function\",\"function\"]",
     NULL},
    {"no log setters in vmutils", "return { type(vmutils.set_log_level), type(vmutils.set_log_handler) }",
     "[\"nil\",\"nil\"]", NULL},
    {"no cjson setters, encoder or decoder",
     "return { type(cjson.encode_max_depth), type(cjson.encode), type(cjson.decode) }",
     "[\"nil\",\"nil\",\"nil\"]", NULL},
    {"file writes refused", "return { io.open('/tmp/vmutils-sandbox-test', 'w') }", NULL,
     "policies may open files for reading only"},
    {"append refused", "return { io.open('/tmp/vmutils-sandbox-test', 'a+') }", NULL,
     "policies may open files for reading only"},
    {"io.lines needs a file name", "for l in io.lines() do end return {}", NULL,
     "bad argument #1 to 'lines' (string expected, got no value)"},
    {"io.lines of a file", "local n = 0 for l in io.lines('/proc/self/status') do n = n + 1 end "
     "return { n > 0 }", "[true]", NULL},
    {"reading allowed", "local f = io.open('/dev/null') local ok = f ~= nil f:close() return { ok }",
     "[true]", NULL},
    {"other C modules refused", "return require 'lfs'", NULL, "module 'lfs' is not available to policies"},
    {"require of the allowed modules",
     "return { require('vmutils') == vmutils, require('cjson') == cjson, require('string') == string }",
     "[true,true,true]", NULL},
    {"globals read-only", "x = 1 return {}", NULL, "attempt to set global 'x'"},
    {"_G is the environment", "return { _G.string == string, _G == _ENV }", "[true,true]", NULL},
    {"libraries read-only", "string.upper = nil return {}", NULL, "attempt to modify a read-only table"},
    {"vmutils read-only", "vmutils.MAX_VPMEM_COUNT = 1 return {}", NULL,
     "attempt to modify a read-only table"},
    {"rawset refused on libraries", "rawset(math, 'pi', 3) return {}", NULL, "table is read-only"},
    {"rawset refused on the environment", "rawset(_ENV, 'x', 3) return {}", NULL, "table is read-only"},
    {"rawset on own tables", "local t = {} rawset(t, 'k', 1) return t", "{\"k\":1}", NULL},
    {"string metatable hidden", "return { x = getmetatable('') == nil }", "{\"x\":true}", NULL},
    {"library metatables hidden", "return { getmetatable(string) }", "[false]", NULL},
    {"setmetatable on libraries refused", "setmetatable(string, {}) return {}", NULL,
     "cannot change a protected metatable"},
    {"no finalizers: they would run outside the budget",
     "setmetatable({}, { __gc = function() while true do end end }) return {}", NULL,
     "policies may not set __gc finalizers"},
    {"__gc added later is inert", "local mt = {} local t = setmetatable({}, mt) "
     "mt.__gc = function() while true do end end return { type(t) }", "[\"table\"]", NULL},
    {"own metatables work", "local t = setmetatable({}, { __index = { k = 5 } }) return { t.k }",
     "[5]", NULL},
    {"pairs over a library", "local n = 0 for k in pairs(math) do n = n + 1 end return { n > 20 }",
     "[true]", NULL},
    {"load is text only", "local f, e = load(string.char(27) .. 'Lua') return { f == nil, e }",
     "[true,\"attempt to load a binary chunk (mode is 't')\"]", NULL},
    {"load keeps the sandbox", "return { type(load('return os.execute')()), load('return debug')() }",
     "[\"nil\"]", NULL},
    {"load with an explicit environment", "return { load('return x', 'c', 'b', { x = 7 })() }", "[7]",
     NULL},
    {"print goes to stderr", "print('sandbox print test') return {}", "{}", NULL},
    {"strings methods still work", "return { ('abc'):upper(), ('%d'):format(3) }", "[\"ABC\",\"3\"]",
     NULL},
};

static void test_sandbox(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(sandbox_cases); i++) {
        const sandbox_case *c = &sandbox_cases[i];
        char policy[1024];
        snprintf(policy, sizeof policy, "return function(r) %s end", c->body);
        vmu_policy *rt = runtime_loaded(policy);
        const char *doc = NULL;
        vmu_policy_status status = evaluate(rt, "{}", &doc);
        if (c->json) {
            if (status != VMU_POLICY_OK || strcmp(doc, c->json) != 0)
                fail_msg("%s: got %s", c->name, status == VMU_POLICY_OK ? doc : vmu_policy_error(rt));
        } else if (status != VMU_POLICY_ERROR || !strstr(vmu_policy_error(rt), c->message_part)) {
            fail_msg("%s: status %d, '%s'", c->name, status,
                     status == VMU_POLICY_OK ? doc : vmu_policy_error(rt));
        }
        vmu_policy_free(rt);
    }
    assert_int_equal(access("/tmp/vmutils-sandbox-test", F_OK), -1);
}

static void test_state_does_not_leak_between_evaluations(void **state)
{
    (void)state;
    /* Whatever a policy tries to leave in shared tables is refused, so the
     * second evaluation sees what the first saw. */
    vmu_policy *rt = runtime_loaded(
        "return function(r) pcall(function() string.leak = 1 end) "
        "pcall(rawset, table, 'leak', 1) pcall(function() leak = 1 end) "
        "return { string.leak == nil, table.leak == nil, leak == nil } end");
    const char *doc = NULL;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(evaluate(rt, "{}", &doc), VMU_POLICY_OK);
        assert_string_equal(doc, "[true,true,true]");
    }
    vmu_policy_free(rt);
    /* The default options are copied for each request, nested tables too. */
    rt = runtime_loaded(
        "return function(r) local o = r.options "
        "local seen = { o.vm_processor_count, o.default_container_annotations.k or 'none' } "
        "o.vm_processor_count = 9 o.default_container_annotations.k = 'set' return seen end");
    for (int i = 0; i < 2; i++) {
        assert_int_equal(evaluate(rt, "{}", &doc), VMU_POLICY_OK);
        assert_string_equal(doc, "[0,\"none\"]");
        assert_int_equal(evaluate(rt, "{\"options\":{\"debug\":true}}", &doc), VMU_POLICY_OK);
        assert_string_equal(doc, "[0,\"none\"]");
    }
    vmu_policy_free(rt);
}

/* ---- limits ---- */

static void test_instruction_budget(void **state)
{
    (void)state;
    const char *policy = "return function(r) local n = tonumber(r.annotations.n) "
                         "local s = 0 for i = 1, n do s = s + i end return { s = s } end";
    vmu_policy *rt = runtime_with(policy, 1000000, 0);
    const char *doc = NULL;
    /* About four instructions an iteration: 100 thousand fit, a million do not. */
    assert_int_equal(evaluate(rt, "{\"annotations\":{\"n\":\"100000\"}}", &doc), VMU_POLICY_OK);
    assert_string_equal(doc, "{\"s\":5000050000}");
    assert_int_equal(evaluate(rt, "{\"annotations\":{\"n\":\"1000000\"}}", &doc), VMU_POLICY_ERROR);
    assert_string_equal(vmu_policy_error(rt), "policy exceeded its instruction budget");
    /* The budget is per evaluation, and the runtime is still usable. */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(evaluate(rt, "{\"annotations\":{\"n\":\"100000\"}}", &doc), VMU_POLICY_OK);
        assert_string_equal(doc, "{\"s\":5000050000}");
    }
    vmu_policy_free(rt);
}

static void test_endless_loop_with_default_budget(void **state)
{
    (void)state;
    vmu_policy *rt = runtime_loaded("return function(r) if r.annotations.loop then "
                                     "while true do end end return { ok = true } end");
    const char *doc = NULL;
    assert_int_equal(evaluate(rt, "{\"annotations\":{\"loop\":\"1\"}}", &doc), VMU_POLICY_ERROR);
    assert_string_equal(vmu_policy_error(rt), VMU_POLICY_ERR_INSTRUCTION_BUDGET);
    assert_int_equal(evaluate(rt, "{}", &doc), VMU_POLICY_OK);
    assert_string_equal(doc, "{\"ok\":true}");
    vmu_policy_free(rt);
}

static void test_budget_cannot_be_caught(void **state)
{
    (void)state;
    vmu_policy *rt = runtime_with("return function() "
                                   "for i = 1, 1000 do pcall(function() while true do end end) end "
                                   "return { escaped = true } end",
                                   100000, 0);
    const char *doc = NULL;
    assert_int_equal(evaluate(rt, "{}", &doc), VMU_POLICY_ERROR);
    assert_string_equal(vmu_policy_error(rt), "policy exceeded its instruction budget");
    vmu_policy_free(rt);
}

static void test_no_budget(void **state)
{
    (void)state;
    vmu_policy *rt = runtime_with("return function() local s = 0 for i = 1, 2000000 do s = s + 1 end "
                                   "return { s } end",
                                   UINT64_MAX, 0);
    const char *doc = NULL;
    assert_int_equal(evaluate(rt, "{}", &doc), VMU_POLICY_OK);
    assert_string_equal(doc, "[2000000]");
    vmu_policy_free(rt);
}

static void test_memory_cap(void **state)
{
    (void)state;
    const char *policy = "return function(r) if r.annotations.bomb then local t = {} "
                         "for i = 1, 1e9 do t[i] = string.rep('x', 4096) .. i end end "
                         "return { ok = true } end";
    vmu_policy *rt = runtime_with(policy, UINT64_MAX, 8u * 1024 * 1024);
    const char *doc = NULL;
    size_t before = vmu_policy_memory_in_use(rt);
    assert_true(before > 0 && before < 8u * 1024 * 1024);
    assert_int_equal(evaluate(rt, "{\"annotations\":{\"bomb\":\"1\"}}", &doc), VMU_POLICY_ERROR);
    assert_string_equal(vmu_policy_error(rt), "not enough memory");
    /* The bomb's garbage is collected: the next evaluation has room. */
    assert_true(vmu_policy_memory_in_use(rt) < before + 1024 * 1024);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(evaluate(rt, "{}", &doc), VMU_POLICY_OK);
        assert_string_equal(doc, "{\"ok\":true}");
    }
    vmu_policy_free(rt);
}

static void test_memory_cap_default_and_single_allocation(void **state)
{
    (void)state;
    /* One allocation past 64 MiB ends the call, even under pcall. */
    assert_failure("return function() local ok, err = pcall(string.rep, 'x', 65 * 1024 * 1024) "
                   "return { ok = ok, err = err } end",
                   VMU_POLICY_ERROR, VMU_POLICY_ERR_MEMORY);
    /* A request larger than the cap cannot be decoded. */
    vmu_policy *rt = runtime_with("return function() return {} end", 0, 2u * 1024 * 1024);
    size_t big = 4u * 1024 * 1024;
    char *request = malloc(big + 32);
    assert_non_null(request);
    strcpy(request, "{\"annotations\":{\"a\":\"");
    size_t n = strlen(request);
    memset(request + n, 'y', big);
    strcpy(request + n + big, "\"}}");
    const char *doc = NULL;
    assert_int_equal(vmu_policy_evaluate(rt, request, strlen(request), &doc, NULL), VMU_POLICY_ERROR);
    assert_string_equal(vmu_policy_error(rt), "not enough memory");
    assert_int_equal(evaluate(rt, "{}", &doc), VMU_POLICY_OK);
    free(request);
    vmu_policy_free(rt);
}

/* A document that names one table twice at each of 60 levels would be 2^60
 * values long: its JSON stops at the memory cap, promptly, instead of
 * growing outside both limits; a document that fits is still written. */
static void test_document_bounded_by_memory_cap(void **state)
{
    (void)state;
    vmu_policy *rt = runtime_with(
        "return function(r) local t = { 1 } "
        "for i = 1, tonumber(r.annotations.levels) do t = { a = t, b = t } end return t end",
        0, 8u * 1024 * 1024);
    const char *doc = NULL;
    assert_int_equal(evaluate(rt, "{\"annotations\":{\"levels\":\"60\"}}", &doc),
                     VMU_POLICY_ERROR);
    assert_string_equal(vmu_policy_error(rt), "not enough memory");
    /* 2^16 leaves: 917,493 bytes, well under 8 MiB. */
    assert_int_equal(evaluate(rt, "{\"annotations\":{\"levels\":\"16\"}}", &doc), VMU_POLICY_OK);
    assert_int_equal(strlen(doc), 917493);
    vmu_policy_free(rt);
}

/* vmutils functions copy C buffers into Lua: when the cap refuses the copy,
 * the buffer is still freed (the sanitizers' leak check and valgrind see a
 * leak otherwise), and the runtime goes on. */
static void test_memory_cap_while_copying_results(void **state)
{
    (void)state;
    vmu_policy *rt = runtime_with(
        "return function() local a = {} "
        "for i = 1, 7 do a['k' .. i] = string.rep('x', 1024 * 1024) .. i end "
        "local ok, err = pcall(vmutils.marshal_runtime_options, "
        "  { default_container_annotations = a }) "
        "return { ok = ok, err = err } end",
        UINT64_MAX, 12u * 1024 * 1024);
    /* Running out of memory ends the call, pcall or not, like the other
     * limits; the runtime stays usable. */
    const char *doc = NULL;
    assert_int_equal(evaluate(rt, "{}", &doc), VMU_POLICY_ERROR);
    assert_string_equal(vmu_policy_error(rt), VMU_POLICY_ERR_MEMORY);
    static const char small[] = "return function() return { 1 } end";
    assert_int_equal(vmu_policy_load(rt, small, sizeof small - 1, "=small"), VMU_POLICY_OK);
    assert_int_equal(evaluate(rt, "{}", &doc), VMU_POLICY_OK);
    assert_string_equal(doc, "[1]");
    vmu_policy_free(rt);
}

/* ---- logging ---- */

typedef struct captured {
    int count;
    vmu_log_level level;
    char msg[128];
    char fields[256];
} captured;

static void capture_sink(void *user, const vmu_log_record *record)
{
    captured *c = user;
    c->count++;
    c->level = record->level;
    snprintf(c->msg, sizeof c->msg, "%.*s", (int)record->msg_len, record->msg);
    c->fields[0] = '\0';
    for (size_t i = 0; i < record->field_count; i++) {
        const vmu_field *f = &record->fields[i];
        size_t used = strlen(c->fields);
        char *at = c->fields + used;
        size_t room = sizeof c->fields - used;
        switch (f->value.kind) {
        case VMU_VALUE_STRING:
            snprintf(at, room, "%.*s=%.*s;", (int)f->key_len, f->key, (int)f->value.as.str.len,
                     f->value.as.str.ptr);
            break;
        case VMU_VALUE_INT:
            snprintf(at, room, "%.*s=%lld;", (int)f->key_len, f->key, (long long)f->value.as.i);
            break;
        case VMU_VALUE_BOOL:
            snprintf(at, room, "%.*s=%s;", (int)f->key_len, f->key, f->value.as.b ? "true" : "false");
            break;
        case VMU_VALUE_FLOAT:
            snprintf(at, room, "%.*s=%g;", (int)f->key_len, f->key, f->value.as.f);
            break;
        case VMU_VALUE_NULL:
            snprintf(at, room, "%.*s=null;", (int)f->key_len, f->key);
            break;
        default:
            snprintf(at, room, "%.*s=?;", (int)f->key_len, f->key);
        }
    }
}

static void test_policy_logging(void **state)
{
    (void)state;
    vmu_policy *rt = runtime_loaded(
        "return function(r) log[r.annotations.level](r.annotations.msg, { n = 3 }) "
        "log.warning('fields', { s = 'x' }) return {} end");
    captured c = {0};
    vmu_logger *logger = vmu_policy_logger(rt);
    assert_non_null(logger);
    vmu_logger_set_sink(logger, capture_sink, &c);
    const char *doc = NULL;
    assert_int_equal(evaluate(rt, "{\"annotations\":{\"level\":\"info\",\"msg\":\"hello\"}}", &doc),
                     VMU_POLICY_OK);
    assert_int_equal(c.count, 2);
    assert_int_equal(c.level, VMU_LEVEL_WARN);
    assert_string_equal(c.msg, "fields");
    assert_string_equal(c.fields, "s=x;");
    /* Records below the logger's level are dropped. */
    c.count = 0;
    assert_int_equal(evaluate(rt, "{\"annotations\":{\"level\":\"debug\",\"msg\":\"quiet\"}}", &doc),
                     VMU_POLICY_OK);
    assert_int_equal(c.count, 1);
    vmu_logger_set_level(logger, VMU_LEVEL_DEBUG);
    c.count = 0;
    assert_int_equal(evaluate(rt, "{\"annotations\":{\"level\":\"debug\",\"msg\":\"loud\"}}", &doc),
                     VMU_POLICY_OK);
    assert_int_equal(c.count, 2);
    vmu_policy_free(rt);

    rt = runtime_loaded("return function() log.error('kinds', { b = true, f = 1.5, z = cjson.null, "
                        "t = {} }) return {} end");
    c.count = 0;
    vmu_logger_set_sink(vmu_policy_logger(rt), capture_sink, &c);
    assert_int_equal(evaluate(rt, "{}", &doc), VMU_POLICY_OK);
    assert_int_equal(c.count, 1);
    assert_int_equal(c.level, VMU_LEVEL_ERROR);
    assert_non_null(strstr(c.fields, "b=true;"));
    assert_non_null(strstr(c.fields, "f=1.5;"));
    assert_non_null(strstr(c.fields, "z=null;"));
    assert_non_null(strstr(c.fields, "t=table: "));
    vmu_policy_free(rt);

    assert_failure("return function() log.info('x', { [1] = 2 }) end", VMU_POLICY_ERROR,
                   "field names must be strings");
    assert_failure("return function() log.info() end", VMU_POLICY_ERROR, "bad argument #1 to 'info'");
}

/* Counts a record's fields whose key and value read as the policy below
 * wrote them. */
static void check_keys_sink(void *user, const vmu_log_record *record)
{
    int *intact = user;
    for (size_t i = 0; i < record->field_count; i++) {
        const vmu_field *f = &record->fields[i];
        if (f->key_len > 40 && memcmp(f->key, "field-", 6) == 0 &&
            f->value.kind == VMU_VALUE_STRING && f->value.as.str.len == 5 &&
            memcmp(f->value.as.str.ptr, "value", 5) == 0)
            (*intact)++;
    }
}

/* A field value's __tostring that empties the fields table and makes
 * garbage must not free the keys already gathered (they are read after it
 * runs). Under the sanitizers and valgrind a freed key is an error. */
static void test_policy_logging_keys_outlive_tostring(void **state)
{
    (void)state;
    vmu_policy *rt = runtime_loaded(
        "return function() local fields, calls = {}, 0 "
        "local mt = { __tostring = function() calls = calls + 1 "
        "  if calls == 30 then for k in next, fields do fields[k] = nil end "
        "    for i = 1, 100000 do local g = { i, tostring(i) .. 'garbage' } end end "
        "  return 'value' end } "
        "for i = 1, 60 do fields['field-' .. i .. string.rep('k', 40)] = setmetatable({}, mt) end "
        "log.warning('many', fields) return { calls = calls } end");
    int intact = 0;
    vmu_logger_set_sink(vmu_policy_logger(rt), check_keys_sink, &intact);
    const char *doc = NULL;
    assert_int_equal(evaluate(rt, "{}", &doc), VMU_POLICY_OK);
    assert_string_equal(doc, "{\"calls\":30}");
    assert_int_equal(intact, 30); /* the fields gathered before the table emptied */
    vmu_policy_free(rt);
}

/* ---- threads ---- */

typedef struct worker {
    int id;
    int ok;
} worker;

static void *evaluate_many(void *arg)
{
    worker *w = arg;
    vmu_policy *rt = vmu_policy_new(NULL, NULL);
    if (!rt)
        return NULL;
    const char *policy = "return function(r) local s = 0 for i = 1, tonumber(r.annotations.n) do "
                         "s = s + i end return { id = r.annotations.id, s = s } end";
    if (vmu_policy_load(rt, policy, strlen(policy), "=worker") != VMU_POLICY_OK) {
        vmu_policy_free(rt);
        return NULL;
    }
    char request[128], expected[128];
    snprintf(request, sizeof request, "{\"annotations\":{\"id\":\"w%d\",\"n\":\"%d\"}}", w->id,
             100 * w->id);
    long n = 100 * w->id;
    snprintf(expected, sizeof expected, "{\"id\":\"w%d\",\"s\":%ld}", w->id, n * (n + 1) / 2);
    w->ok = 1;
    for (int i = 0; i < 200; i++) {
        const char *doc = NULL;
        if (vmu_policy_evaluate(rt, request, strlen(request), &doc, NULL) != VMU_POLICY_OK ||
            strcmp(doc, expected) != 0)
            w->ok = 0;
    }
    vmu_policy_free(rt);
    return NULL;
}

static void test_one_runtime_per_thread(void **state)
{
    (void)state;
    pthread_t threads[4];
    worker workers[4];
    for (int i = 0; i < 4; i++) {
        workers[i].id = i + 1;
        workers[i].ok = 0;
        assert_int_equal(pthread_create(&threads[i], NULL, evaluate_many, &workers[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        assert_true(workers[i].ok);
    }
}

/* ---- input and output caps, strict requests ---- */

static vmu_policy *runtime_configured(const vmu_policy_config *config, const char *policy)
{
    vmu_err err = {{0}};
    vmu_policy *rt = vmu_policy_new(config, &err);
    if (!rt)
        fail_msg("vmu_policy_new: %s", err.msg);
    if (policy && vmu_policy_load(rt, policy, strlen(policy), "=test") != VMU_POLICY_OK)
        fail_msg("load: %s", vmu_policy_error(rt));
    return rt;
}

static void test_io_config_defaults(void **state)
{
    (void)state;
    vmu_policy_config config;
    memset(&config, 0xff, sizeof config);
    vmu_policy_config_init(&config);
    assert_int_equal(config.max_document_bytes, 16u * 1024 * 1024);
    assert_int_equal(config.max_request_bytes, 16u * 1024 * 1024);
    assert_int_equal(config.max_policy_bytes, 4u * 1024 * 1024);
}

/* An emptied table keeps its slots: each scan of it costs 131,072 slots and
 * writes "{}". Referenced 200,000 times it used to be scanned 200,000 times
 * (hours of work inside one C call, beyond the instruction budget); the
 * encoder now scans it once and copies its text. */
static void test_document_shared_table_scanned_once(void **state)
{
    (void)state;
    vmu_policy *rt = runtime_with(
        "return function() local t = {} "
        "for i = 1, 100000 do t['k' .. i] = true end "
        "for i = 1, 100000 do t['k' .. i] = nil end "
        "local doc = {} for i = 1, 200000 do doc[i] = t end return { a = doc, b = { t } } end",
        UINT64_MAX, 0);
    const char *doc = NULL;
    assert_int_equal(evaluate(rt, "{}", &doc), VMU_POLICY_OK);
    size_t len = strlen(doc);
    assert_int_equal(len, strlen("{\"a\":[],\"b\":[{}]}") + 200000 * 3 - 1);
    assert_memory_equal(doc, "{\"a\":[{},{},", 12);
    const char *tail = "{},{}],\"b\":[{}]}";
    assert_string_equal(doc + len - strlen(tail), tail);
    vmu_policy_free(rt);
}

/* The same table at different depths, indented: each copy has the
 * indentation of its own depth. */
static void test_document_shared_table_indented(void **state)
{
    (void)state;
    vmu_policy_config config;
    vmu_policy_config_init(&config);
    config.json_indent = 1;
    vmu_policy *rt = runtime_configured(
        &config, "return function() local t = { x = { 1 } } return { t, t, { t } } end");
    const char *doc = NULL;
    assert_int_equal(evaluate(rt, "{}", &doc), VMU_POLICY_OK);
    assert_string_equal(doc, "[\n"
                             " {\n  \"x\": [\n   1\n  ]\n },\n"
                             " {\n  \"x\": [\n   1\n  ]\n },\n"
                             " [\n  {\n   \"x\": [\n    1\n   ]\n  }\n ]\n"
                             "]");
    vmu_policy_free(rt);
}

/* The documented limits, 127 levels of 4000 keys each, encode (they used
 * to overflow the Lua stack: every level held its values there). */
static void test_document_depth_and_width_limits(void **state)
{
    (void)state;
    vmu_policy *rt = runtime_with(
        "return function() local top = {} local t = top "
        "for level = 1, 127 do "
        "  for k = 1, 3999 do t[string.format('k%04d', k)] = k end "
        "  if level < 127 then local n = {} t.z = n t = n else t.z = 'end' end "
        "end return top end",
        UINT64_MAX, 0);
    const char *doc = NULL;
    assert_int_equal(evaluate(rt, "{}", &doc), VMU_POLICY_OK);
    size_t len = strlen(doc);
    /* per level: the keys "k0001":1 ... "k3999":3999 and "z": */
    size_t keys = 0;
    for (int k = 1; k <= 3999; k++)
        keys += (size_t)snprintf(NULL, 0, "\"k%04d\":%d,", k, k);
    assert_int_equal(len, 127 * (keys + strlen("{\"z\":}")) + strlen("\"end\""));
    assert_memory_equal(doc, "{\"k0001\":1,\"k0002\":2,", 20);
    const char *last = "\"k3999\":3999,\"z\":\"end\"";
    assert_memory_equal(doc + len - 127 - strlen(last), last, strlen(last));
    for (size_t i = len - 127; i < len; i++)
        assert_int_equal(doc[i], '}');
    vmu_policy_free(rt);

    /* One level more is refused, with the depth named. */
    assert_failure("return function() local t = {} for i = 1, 128 do t = { t } end return t end",
                   VMU_POLICY_ERROR, "nested more than 128 levels");
}

/* The output cap: 16 MiB by default, settable, a message that names it. */
static void test_document_byte_cap(void **state)
{
    (void)state;
    const char *policy = "return function(r) return { string.rep('x', tonumber(r.annotations.n)) } end";
    vmu_policy *rt = runtime_loaded(policy);
    const char *doc = NULL;
    assert_int_equal(evaluate(rt, "{\"annotations\":{\"n\":\"16777212\"}}", &doc), VMU_POLICY_OK);
    assert_int_equal(strlen(doc), 16u * 1024 * 1024);
    assert_int_equal(evaluate(rt, "{\"annotations\":{\"n\":\"16777213\"}}", &doc), VMU_POLICY_ERROR);
    assert_string_equal(vmu_policy_error(rt), "document exceeds 16777216 bytes");
    vmu_policy_free(rt);

    vmu_policy_config config;
    vmu_policy_config_init(&config);
    config.max_document_bytes = 100;
    rt = runtime_configured(&config, policy);
    assert_int_equal(evaluate(rt, "{\"annotations\":{\"n\":\"96\"}}", &doc), VMU_POLICY_OK);
    assert_int_equal(evaluate(rt, "{\"annotations\":{\"n\":\"97\"}}", &doc), VMU_POLICY_ERROR);
    assert_string_equal(vmu_policy_error(rt), "document exceeds 100 bytes");
    vmu_policy_free(rt);

    /* Past the memory cap first: the memory message. */
    config.max_document_bytes = SIZE_MAX;
    config.memory_limit = 4u * 1024 * 1024;
    rt = runtime_configured(&config, policy);
    assert_int_equal(evaluate(rt, "{\"annotations\":{\"n\":\"3000000\"}}", &doc), VMU_POLICY_ERROR);
    assert_string_equal(vmu_policy_error(rt), "not enough memory");
    vmu_policy_free(rt);
}

static void test_request_and_policy_caps(void **state)
{
    (void)state;
    vmu_policy_config config;
    vmu_policy_config_init(&config);
    config.max_request_bytes = 10;
    config.max_policy_bytes = 40;
    vmu_policy *rt = runtime_configured(&config, "return function() return {} end");
    const char *doc = NULL;
    assert_int_equal(evaluate(rt, "{ \"a\": 1 }", &doc), VMU_POLICY_OK);
    assert_int_equal(evaluate(rt, "{ \"a\": 12 }", &doc), VMU_POLICY_ERROR);
    assert_string_equal(vmu_policy_error(rt), "request: larger than 10 bytes");

    const char *big = "return function() return { a = 1 } end -- 41";
    assert_int_equal(vmu_policy_load(rt, big, strlen(big), "=big"), VMU_POLICY_ERROR);
    assert_string_equal(vmu_policy_error(rt), "policy larger than 40 bytes");
    /* A file is read no further than the cap: /dev/zero ends. */
    assert_int_equal(vmu_policy_load_file(rt, "/dev/zero"), VMU_POLICY_ERROR);
    assert_string_equal(vmu_policy_error(rt), "policy larger than 40 bytes");
    assert_int_equal(vmu_policy_load_file(rt, "/"), VMU_POLICY_ERROR);
    assert_string_equal(vmu_policy_error(rt), "cannot read /: Is a directory");
    vmu_policy_free(rt);

    /* The default policy cap holds for /dev/zero too. */
    rt = runtime_loaded(NULL);
    assert_int_equal(vmu_policy_load_file(rt, "/dev/zero"), VMU_POLICY_ERROR);
    assert_string_equal(vmu_policy_error(rt), "policy larger than 4194304 bytes");
    vmu_policy_free(rt);
}

/* lua-cjson decodes what RFC 8259 does not allow, and an empty array where
 * an object belongs; none of it reaches the policy. */
static const request_case strict_requests[] = {
    {"hexadecimal", "{\"a\":0x10}", "request: invalid JSON: lexical error: invalid char in json text at byte offset 6"},
    {"nan", "{\"a\":-nan}", "request: invalid JSON: lexical error: malformed number, a digit is required after the minus sign at byte offset 5"},
    {"inf", "{\"a\":inf}", "request: invalid JSON: lexical error: invalid char in json text at byte offset 5"},
    {"trailing text", "{\"a\":1} x", "request: invalid JSON: parse error: trailing garbage at byte offset 8"},
    {"comment", "{/* c */}", "request: invalid JSON: "},
    {"single quotes", "{'a':1}", "request: invalid JSON: "},
    {"invalid UTF-8", "{\"a\":\"\xff\"}", "request: invalid JSON: "},
    {"two values", "{} {}", "request: invalid JSON: parse error: trailing garbage at byte offset 3"},
    {"empty", "", "request: invalid JSON: parse error: premature EOF at byte offset 0"},
    {"top-level array", " []", "request: must be a JSON object, got an array at byte offset 1"},
    {"top-level number", "1", "request: must be a JSON object, got number at byte offset 0"},
    {"host an array", "{\"host\": []}", "request: host must be an object, got an array at byte offset 9"},
    {"annotations an empty array", "{\"annotations\":[]}",
     "request: annotations must be an object of strings, not an array at byte offset 15"},
    {"options an array", "{\"options\":[]}",
     "request: options must be a base64 string or an object, got an array at byte offset 11"},
};

static void test_strict_requests(void **state)
{
    (void)state;
    vmu_policy *rt = runtime_loaded("return function(r) return {} end");
    for (size_t i = 0; i < ARRAY_LEN(strict_requests); i++) {
        const request_case *c = &strict_requests[i];
        const char *doc = NULL;
        vmu_policy_status status = evaluate(rt, c->request, &doc);
        if (status != VMU_POLICY_ERROR || strncmp(vmu_policy_error(rt), c->message, strlen(c->message)))
            fail_msg("%s: status %d, '%s'", c->name, status, vmu_policy_error(rt));
    }
    /* Arrays deeper down and other members are the policy's business. */
    const char *doc = NULL;
    assert_int_equal(evaluate(rt, "{\"x\":{\"host\":[]},\"host\":{\"y\":[]},\"z\":[]}", &doc),
                     VMU_POLICY_OK);
    vmu_policy_free(rt);
}

/* Runtime options decoded inside a policy count against its memory cap: a
 * million annotation entries (9 MB of protobuf, one annotation in the end)
 * took some 230 MB of C memory with a 24 MiB cap; the decoder's budget is
 * now what the cap leaves. Without a cap the 256 MiB budget holds. */
static void test_options_decoding_counts_against_cap(void **state)
{
    (void)state;
    const char *policy =
        "return function(r) "
        "local value = string.rep('\\146\\1\\6\\10\\1a\\18\\1b', 1000000) "
        "local o, err = vmutils.unmarshal_runtime_options({ "
        "  type_url = 'containerd.runhcs.v1.Options', value = value }) "
        "if not o then return nil, err end "
        "return { a = o.default_container_annotations.a } end";
    vmu_policy *rt = runtime_with(policy, 0, 24u * 1024 * 1024);
    const char *doc = NULL;
    assert_int_equal(evaluate(rt, "{}", &doc), VMU_POLICY_REJECTED);
    const char *want = "failed to unmarshal options: decoding needs more than the ";
    assert_memory_equal(vmu_policy_error(rt), want, strlen(want));
    vmu_policy_free(rt);

    rt = runtime_with(policy, 0, SIZE_MAX);
    assert_int_equal(evaluate(rt, "{}", &doc), VMU_POLICY_OK);
    assert_string_equal(doc, "{\"a\":\"b\"}");
    vmu_policy_free(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test(test_null_arguments),
        cmocka_unit_test(test_new_fails_cleanly_without_memory),
        cmocka_unit_test(test_load_policy_file),
        cmocka_unit_test(test_load_failures),
        cmocka_unit_test(test_binary_chunks_are_refused),
        cmocka_unit_test(test_reload_replaces_the_policy),
        cmocka_unit_test(test_rejection_and_errors),
        cmocka_unit_test(test_error_is_cleared_by_success),
        cmocka_unit_test(test_request_host_defaults),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_request_options),
        cmocka_unit_test(test_json_encoding),
        cmocka_unit_test(test_json_large_objects),
        cmocka_unit_test(test_json_indent),
        cmocka_unit_test(test_sandbox),
        cmocka_unit_test(test_state_does_not_leak_between_evaluations),
        cmocka_unit_test(test_instruction_budget),
        cmocka_unit_test(test_endless_loop_with_default_budget),
        cmocka_unit_test(test_budget_cannot_be_caught),
        cmocka_unit_test(test_no_budget),
        cmocka_unit_test(test_memory_cap),
        cmocka_unit_test(test_memory_cap_default_and_single_allocation),
        cmocka_unit_test(test_document_bounded_by_memory_cap),
        cmocka_unit_test(test_memory_cap_while_copying_results),
        cmocka_unit_test(test_policy_logging),
        cmocka_unit_test(test_policy_logging_keys_outlive_tostring),
        cmocka_unit_test(test_one_runtime_per_thread),
        cmocka_unit_test(test_io_config_defaults),
        cmocka_unit_test(test_document_shared_table_scanned_once),
        cmocka_unit_test(test_document_shared_table_indented),
        cmocka_unit_test(test_document_depth_and_width_limits),
        cmocka_unit_test(test_document_byte_cap),
        cmocka_unit_test(test_request_and_policy_caps),
        cmocka_unit_test(test_strict_requests),
        cmocka_unit_test(test_options_decoding_counts_against_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
