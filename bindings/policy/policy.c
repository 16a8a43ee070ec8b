/* The embedding runtime: one Lua state per runtime with the memory cap in
 * its allocator, the instruction budget and the deadline in a count hook
 * (and in the sandbox's bounded C functions), a loaded policy, and
 * evaluate(request JSON) -> document JSON. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lualib.h>

#include "lua_vmutils.h"
#include "policy_internal.h"
#include "policy_read.h"

/* The hook runs every HOOK_STEP instructions: often enough that a budget is
 * honoured to within that many instructions, rarely enough to cost nothing. */
#define HOOK_STEP 10000
/* The allocator checks the deadline every time this many bytes were
 * allocated: one instruction (s .. s, s:upper(), string.rep) can do work in
 * proportion to the memory cap, and the hook sees only instruction counts.
 * A check (a system call) per 256 KiB costs nothing next to the work of
 * filling them. */
#define ALLOC_CHECK_BYTES (256u * 1024u)

const char vmu_policy_key_cjson = 'c';
const char vmu_policy_key_vmutils = 'v';
const char vmu_policy_key_libraries = 'l';
static const char key_runtime = 'r';

/* Which limit ended the call: the message every later error of the call
 * is replaced by, since a policy may catch the first with pcall. */
typedef enum limit_reached { LIMIT_NONE, LIMIT_BUDGET, LIMIT_TIME, LIMIT_MEMORY } limit_reached;

struct vmu_policy {
    lua_State *L;
    size_t memory_in_use;
    size_t memory_limit;
    bool refusal_pending; /* an allocation was refused, and nothing has grown since */
    bool metered; /* in a call: allocations check the limits */
    size_t allocated_unchecked; /* bytes allocated since the last check */
    uint64_t instruction_budget;
    uint64_t instructions_left;
    unsigned hook_count; /* the count the hook is set to fire at */
    limit_reached limit;
    uint64_t time_limit_ns; /* UINT64_MAX: none */
    uint64_t deadline_ns;   /* on the thread's CPU clock */
    size_t max_open_files;
    vmu_buf scratch; /* json.encode's text, freed when the call ends */
    int policy_ref;
    int cjson_decode_ref;
    unsigned json_indent;
    size_t max_document_bytes;
    size_t max_request_bytes;
    size_t max_policy_bytes;
    vmu_buf document;
    vmu_buf error;
    bool error_lost; /* no memory to hold the message: it reads as ERR_MEMORY */
};

void vmu_policy_config_init(vmu_policy_config *config)
{
    config->instruction_budget = VMU_POLICY_DEFAULT_INSTRUCTION_BUDGET;
    config->memory_limit = VMU_POLICY_DEFAULT_MEMORY_LIMIT;
    config->json_indent = 0;
    config->time_limit_ms = VMU_POLICY_DEFAULT_TIME_LIMIT_MS;
    config->max_open_files = VMU_POLICY_DEFAULT_MAX_OPEN_FILES;
    config->max_document_bytes = VMU_POLICY_DEFAULT_MAX_DOCUMENT_BYTES;
    config->max_request_bytes = VMU_POLICY_DEFAULT_MAX_REQUEST_BYTES;
    config->max_policy_bytes = VMU_POLICY_DEFAULT_MAX_POLICY_BYTES;
}

static int past_deadline(const vmu_policy *rt);

/* Within a call, once the deadline has passed or another limit was reached,
 * every allocation is refused: the work that needs memory stops at once, and
 * the error it raises reads as the limit (take_error), even where a policy
 * catches it with pcall. The hook ends the rest at its next count. */
static bool allocation_in_time(vmu_policy *rt, size_t growth)
{
    rt->allocated_unchecked += growth;
    if (rt->allocated_unchecked >= ALLOC_CHECK_BYTES) {
        rt->allocated_unchecked = 0;
        if (rt->limit == LIMIT_NONE && past_deadline(rt))
            rt->limit = LIMIT_TIME;
    }
    return rt->limit == LIMIT_NONE;
}

/* Lua answers a refused allocation by collecting all garbage and asking
 * again; nothing grows in between. (The functions of policy_memory_retry.c,
 * whose retry runs code that grows, say so through vmu_policy_out_of_memory
 * instead.) A second refusal in a row means the memory is not there: in a
 * call, that ends it like the other limits, since what a policy could still
 * do after catching the error would depend on the few bytes of room left,
 * which the state's history decides. */
static void refuse_past_cap(vmu_policy *rt)
{
    if (rt->metered && rt->refusal_pending && rt->limit == LIMIT_NONE)
        rt->limit = LIMIT_MEMORY;
    rt->refusal_pending = true;
}

static const char *limit_message(limit_reached limit)
{
    switch (limit) {
    case LIMIT_BUDGET: return VMU_POLICY_ERR_INSTRUCTION_BUDGET;
    case LIMIT_TIME: return VMU_POLICY_ERR_TIME_LIMIT;
    default: return VMU_POLICY_ERR_MEMORY;
    }
}

/* lua_Alloc with a cap: refusing an allocation makes Lua collect garbage and
 * retry, then raise "not enough memory", and the state stays consistent. */
static void *capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    vmu_policy *rt = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        rt->memory_in_use -= old;
        return NULL;
    }
    if (nsize > old && nsize - old > rt->memory_limit - rt->memory_in_use) {
        refuse_past_cap(rt);
        return NULL;
    }
    if (rt->metered && !allocation_in_time(rt, nsize > old ? nsize - old : 0))
        return NULL;
    void *grown = realloc(ptr, nsize);
    if (!grown) {
        refuse_past_cap(rt);
        return NULL;
    }
    if (nsize > old)
        rt->refusal_pending = false;
    rt->memory_in_use = rt->memory_in_use - old + nsize;
    return grown;
}

/* An empty message ("" after a success) needs no memory; a message that
 * finds none reads as VMU_POLICY_ERR_MEMORY, never as "". */
static void set_error(vmu_policy *rt, const char *msg, size_t len)
{
    vmu_buf_reset(&rt->error);
    rt->error_lost = false;
    if (len && (vmu_buf_append(&rt->error, msg, len) < 0 || vmu_buf_putc(&rt->error, '\0') < 0)) {
        vmu_buf_reset(&rt->error);
        rt->error_lost = true;
    }
}

static void set_error_str(vmu_policy *rt, const char *msg) { set_error(rt, msg, strlen(msg)); }

/* Takes the error object on the stack top as the runtime's message. */
static void take_error(vmu_policy *rt, int status)
{
    lua_State *L = rt->L;
    size_t len = 0;
    const char *msg = NULL;
    if (status == LUA_ERRMEM) {
        msg = VMU_POLICY_ERR_MEMORY;
        len = strlen(msg);
    } else if (lua_type(L, -1) == LUA_TSTRING) {
        msg = lua_tolstring(L, -1, &len);
    } else {
        /* No __tostring: outside the policy call there is neither a budget
         * nor protection to run the policy's code under. */
        msg = "(error object is not a string)";
        len = strlen(msg);
    }
    if (rt->limit != LIMIT_NONE) {
        /* A policy may catch the limit's error with pcall and fail
         * differently later; the limit is still the cause. */
        msg = limit_message(rt->limit);
        len = strlen(msg);
    }
    set_error(rt, msg, len);
    lua_pop(L, 1);
}

static vmu_policy *runtime_of(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &key_runtime);
    vmu_policy *rt = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return rt;
}

/* CPU time of the calling thread: what the policy's work costs, whatever
 * else the machine runs. */
static uint64_t cpu_now_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void budget_hook(lua_State *L, lua_Debug *ar);

/* Ends the call: from now on the hook fires at every instruction, so that a
 * policy that catches the error cannot run on. */
static int reach_limit(lua_State *L, vmu_policy *rt, limit_reached which)
{
    if (rt->limit == LIMIT_NONE)
        rt->limit = which;
    rt->instructions_left = 0;
    if (rt->hook_count != 1) {
        rt->hook_count = 1;
        lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
    }
    lua_pushstring(L, limit_message(rt->limit));
    return lua_error(L);
}

static int past_deadline(const vmu_policy *rt)
{
    return rt->time_limit_ns != UINT64_MAX && cpu_now_ns() >= rt->deadline_ns;
}

static void budget_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    vmu_policy *rt = runtime_of(L);
    if (rt->limit != LIMIT_NONE)
        reach_limit(L, rt, rt->limit);
    if (past_deadline(rt))
        reach_limit(L, rt, LIMIT_TIME);
    if (rt->instruction_budget == UINT64_MAX)
        return;
    if (rt->instructions_left > rt->hook_count) {
        rt->instructions_left -= rt->hook_count;
        unsigned next = rt->instructions_left < HOOK_STEP ? (unsigned)rt->instructions_left : HOOK_STEP;
        if (next != rt->hook_count) {
            rt->hook_count = next;
            lua_sethook(L, budget_hook, LUA_MASKCOUNT, (int)next);
        }
        return;
    }
    reach_limit(L, rt, LIMIT_BUDGET);
}

void vmu_policy_charge(lua_State *L, uint64_t work)
{
    vmu_policy *rt = runtime_of(L);
    if (!rt)
        return;
    if (rt->limit != LIMIT_NONE)
        reach_limit(L, rt, rt->limit);
    if (rt->instruction_budget != UINT64_MAX) {
        if (rt->instructions_left <= work)
            reach_limit(L, rt, LIMIT_BUDGET);
        rt->instructions_left -= work;
    }
    if (past_deadline(rt))
        reach_limit(L, rt, LIMIT_TIME);
}

void vmu_policy_check_deadline(lua_State *L)
{
    vmu_policy *rt = runtime_of(L);
    if (rt && past_deadline(rt))
        reach_limit(L, rt, LIMIT_TIME);
}

void vmu_policy_check_stack(lua_State *L, int n, const char *what)
{
    if (lua_checkstack(L, n))
        return;
    /* lua_checkstack answers 0 both past Lua's stack limit and when the
     * cap refuses the larger stack. Reported as a stack overflow, the
     * second would name a different error depending on whether the stack
     * or a table was the first allocation past the cap. The runtime is the
     * allocator's: the stack may have no slot left for a registry lookup. */
    void *ud = NULL;
    vmu_policy *rt = lua_getallocf(L, &ud) == capped_alloc ? ud : NULL;
    if (rt && rt->refusal_pending)
        luaL_error(L, VMU_POLICY_ERR_MEMORY);
    luaL_error(L, "stack overflow (%s)", what);
}

void vmu_policy_out_of_memory(lua_State *L)
{
    vmu_policy *rt = runtime_of(L);
    if (rt && rt->metered)
        reach_limit(L, rt, LIMIT_MEMORY);
    luaL_error(L, VMU_POLICY_ERR_MEMORY);
}

size_t vmu_policy_max_open_files(lua_State *L)
{
    vmu_policy *rt = runtime_of(L);
    return rt ? rt->max_open_files : 0;
}

size_t vmu_policy_memory_room(lua_State *L)
{
    vmu_policy *rt = runtime_of(L);
    return rt && rt->memory_limit > rt->memory_in_use ? rt->memory_limit - rt->memory_in_use : 0;
}

vmu_buf *vmu_policy_scratch(lua_State *L)
{
    vmu_policy *rt = runtime_of(L);
    vmu_buf_free(&rt->scratch);
    vmu_buf_init(&rt->scratch);
    return &rt->scratch;
}

vmu_buf *vmu_policy_scratch_text(lua_State *L) { return &runtime_of(L)->scratch; }

/* Starts a call into the policy (in protected mode): the budget, the
 * deadline, and the sandbox's per-call state. */
static void call_start(vmu_policy *rt)
{
    rt->limit = LIMIT_NONE;
    rt->allocated_unchecked = 0;
    rt->refusal_pending = false;
    rt->metered = true;
    vmu_sandbox_begin_call(rt->L);
    rt->deadline_ns = rt->time_limit_ns == UINT64_MAX ? UINT64_MAX : cpu_now_ns() + rt->time_limit_ns;
    if (rt->instruction_budget == UINT64_MAX && rt->time_limit_ns == UINT64_MAX) {
        lua_sethook(rt->L, NULL, 0, 0);
        return;
    }
    rt->instructions_left = rt->instruction_budget;
    rt->hook_count = rt->instructions_left < HOOK_STEP ? (unsigned)rt->instructions_left : HOOK_STEP;
    if (rt->hook_count == 0)
        rt->hook_count = 1;
    lua_sethook(rt->L, budget_hook, LUA_MASKCOUNT, (int)rt->hook_count);
}

static void budget_stop(vmu_policy *rt) { lua_sethook(rt->L, NULL, 0, 0); }

/* Ends a call (outside protected mode: allocates nothing): the hook off,
 * the files the policy left open closed, the scratch text freed. */
static void call_end(vmu_policy *rt)
{
    rt->metered = false;
    budget_stop(rt);
    vmu_sandbox_end_call(rt->L);
    vmu_buf_free(&rt->scratch);
    vmu_buf_init(&rt->scratch);
}

static size_t runtime_headroom(void *ud)
{
    const vmu_policy *rt = ud;
    if (rt->memory_limit == SIZE_MAX)
        return SIZE_MAX;
    return rt->memory_in_use < rt->memory_limit ? rt->memory_limit - rt->memory_in_use : 0;
}

/* Runs in protected mode: loads the libraries, vmutils and cjson. */
static int setup_state(lua_State *L)
{
    vmu_policy *rt = lua_touserdata(L, 1);
    lua_pushlightuserdata(L, rt);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key_runtime);
    vmu_lua_set_headroom(L, runtime_headroom, rt);
    luaL_openlibs(L);

    luaL_requiref(L, "vmutils", luaopen_vmutils, 0);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &vmu_policy_key_vmutils);

    lua_getglobal(L, "require");
    lua_pushliteral(L, "cjson");
    if (lua_pcall(L, 1, 1, 0) != LUA_OK)
        return luaL_error(L, "lua-cjson is required: %s", lua_tostring(L, -1));
    lua_getfield(L, -1, "decode");
    if (!lua_isfunction(L, -1))
        return luaL_error(L, "lua-cjson is required: the loaded cjson has no decode");
    rt->cjson_decode_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &vmu_policy_key_cjson);

    vmu_sandbox_init(L);
    /* Evaluations make short-lived garbage next to a large, long-lived heap
     * (the libraries): generational collection leaves the old part alone. */
    lua_gc(L, LUA_GCGEN, 0, 0);
    return 0;
}

vmu_policy *vmu_policy_new(const vmu_policy_config *config, vmu_err *err)
{
    vmu_policy_config defaults;
    vmu_policy_config_init(&defaults);
    if (!config)
        config = &defaults;
    vmu_policy *rt = vmu_calloc(1, sizeof *rt);
    if (!rt) {
        vmu_err_set(err, VMU_POLICY_ERR_MEMORY);
        return NULL;
    }
    rt->memory_limit = config->memory_limit ? config->memory_limit : defaults.memory_limit;
    rt->instruction_budget =
        config->instruction_budget ? config->instruction_budget : defaults.instruction_budget;
    rt->json_indent = config->json_indent;
    uint64_t time_limit_ms = config->time_limit_ms ? config->time_limit_ms : defaults.time_limit_ms;
    rt->time_limit_ns = time_limit_ms >= UINT64_MAX / 1000000u ? UINT64_MAX : time_limit_ms * 1000000u;
    rt->max_open_files = config->max_open_files ? config->max_open_files : defaults.max_open_files;
    vmu_buf_init(&rt->scratch);
    rt->max_document_bytes = config->max_document_bytes ? config->max_document_bytes
                                                        : defaults.max_document_bytes;
    rt->max_request_bytes =
        config->max_request_bytes ? config->max_request_bytes : defaults.max_request_bytes;
    rt->max_policy_bytes =
        config->max_policy_bytes ? config->max_policy_bytes : defaults.max_policy_bytes;
    rt->policy_ref = LUA_NOREF;
    rt->cjson_decode_ref = LUA_NOREF;
    vmu_buf_init(&rt->document);
    vmu_buf_init(&rt->error);

    rt->L = lua_newstate(capped_alloc, rt);
    if (!rt->L) {
        vmu_err_set(err, VMU_POLICY_ERR_MEMORY);
        vmu_free(rt);
        return NULL;
    }
    lua_State *L = rt->L;
    lua_pushcfunction(L, setup_state);
    lua_pushlightuserdata(L, rt);
    int status = lua_pcall(L, 1, 0, 0);
    if (status != LUA_OK) {
        vmu_err_set(err, "%s",
                    status == LUA_ERRMEM ? VMU_POLICY_ERR_MEMORY
                                         : (lua_tostring(L, -1) ? lua_tostring(L, -1) : "setup failed"));
        vmu_policy_free(rt);
        return NULL;
    }
    set_error_str(rt, "");
    return rt;
}

void vmu_policy_free(vmu_policy *rt)
{
    if (!rt)
        return;
    if (rt->L)
        lua_close(rt->L);
    vmu_buf_free(&rt->document);
    vmu_buf_free(&rt->error);
    vmu_buf_free(&rt->scratch);
    vmu_free(rt);
}

const char *vmu_policy_error(const vmu_policy *rt)
{
    if (!rt)
        return "no runtime";
    if (rt->error_lost)
        return VMU_POLICY_ERR_MEMORY;
    return rt->error.len ? rt->error.data : "";
}

vmu_logger *vmu_policy_logger(vmu_policy *rt)
{
    if (!rt)
        return NULL;
    /* vmu_lua_logger raises only when the module's logger is gone, which
     * cannot happen while the state lives. */
    return vmu_lua_logger(rt->L);
}

size_t vmu_policy_memory_in_use(const vmu_policy *rt) { return rt ? rt->memory_in_use : 0; }

void *vmu_policy_lua(vmu_policy *rt) { return rt ? rt->L : NULL; }

static void set_policy_too_large(vmu_policy *rt)
{
    char msg[80];
    snprintf(msg, sizeof msg, "policy larger than %zu bytes", rt->max_policy_bytes);
    set_error_str(rt, msg);
}

/* Protected part of loading: the chunk (already loaded) gets its sandbox
 * environment and runs under the budget; it must return a function. */
static int run_policy_chunk(lua_State *L)
{
    vmu_policy *rt = lua_touserdata(L, 1);
    /* stack: rt, chunk */
    vmu_sandbox_push_env(L);
    if (!lua_setupvalue(L, 2, 1))
        lua_pop(L, 1);
    lua_pushvalue(L, 2);
    call_start(rt);
    lua_call(L, 0, 1);
    budget_stop(rt);
    if (!lua_isfunction(L, -1))
        return luaL_error(L, "policy must return a function build(request), got %s",
                          luaL_typename(L, -1));
    return 1;
}

vmu_policy_status vmu_policy_load(vmu_policy *rt, const char *source, size_t len,
                                  const char *chunk_name)
{
    if (!rt)
        return VMU_POLICY_ERROR;
    if (!source) {
        set_error_str(rt, "no policy source");
        return VMU_POLICY_ERROR;
    }
    if (len > rt->max_policy_bytes) {
        set_policy_too_large(rt);
        return VMU_POLICY_ERROR;
    }
    lua_State *L = rt->L;
    int top = lua_gettop(L);
    rt->limit = LIMIT_NONE;
    luaL_unref(L, LUA_REGISTRYINDEX, rt->policy_ref);
    rt->policy_ref = LUA_NOREF;
    lua_pushcfunction(L, run_policy_chunk);
    lua_pushlightuserdata(L, rt);
    int status = luaL_loadbufferx(L, source, len, chunk_name ? chunk_name : "=policy", "t");
    if (status == LUA_OK)
        status = lua_pcall(L, 2, 1, 0);
    call_end(rt);
    if (status != LUA_OK) {
        take_error(rt, status);
        lua_settop(L, top);
        lua_gc(L, LUA_GCCOLLECT);
        return VMU_POLICY_ERROR;
    }
    rt->policy_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_settop(L, top);
    set_error_str(rt, "");
    return VMU_POLICY_OK;
}

vmu_policy_status vmu_policy_load_file(vmu_policy *rt, const char *path)
{
    if (!rt)
        return VMU_POLICY_ERROR;
    if (!path) {
        set_error_str(rt, "no policy path");
        return VMU_POLICY_ERROR;
    }
    vmu_buf source;
    vmu_buf_init(&source);
    int error = 0;
    int read = vmu_read_file_capped(path, rt->max_policy_bytes, &source, &error);
    if (read != VMU_READ_OK) {
        vmu_buf_free(&source);
        if (read == VMU_READ_TOO_LARGE) {
            set_policy_too_large(rt);
        } else {
            /* The path whole, however long: no fixed-size message buffer. */
            vmu_buf_reset(&rt->error);
            rt->error_lost = false;
            vmu_buf_printf(&rt->error, "cannot %s %s: %s",
                           read == VMU_READ_OPEN_FAILED ? "open" : "read", path,
                           read == VMU_READ_NO_MEMORY ? VMU_POLICY_ERR_MEMORY : strerror(error));
            if (rt->error.failed || vmu_buf_putc(&rt->error, '\0') < 0)
                set_error_str(rt, VMU_POLICY_ERR_MEMORY);
        }
        return VMU_POLICY_ERROR;
    }
    /* A #! line is allowed, as lua.c allows it. */
    size_t start = 0;
    if (source.len > 0 && source.data[0] == '#') {
        while (start < source.len && source.data[start] != '\n')
            start++;
    }
    size_t len = source.len - start;
    /* The chunk name goes after the text, in the same buffer. */
    size_t name_offset = source.len;
    if (vmu_buf_putc(&source, '@') < 0 || vmu_buf_append(&source, path, strlen(path) + 1) < 0) {
        vmu_buf_free(&source);
        set_error_str(rt, VMU_POLICY_ERR_MEMORY);
        return VMU_POLICY_ERROR;
    }
    vmu_policy_status status =
        vmu_policy_load(rt, source.data + start, len, source.data + name_offset);
    vmu_buf_free(&source);
    return status;
}

/* Outcome of one protected evaluation, passed back through a light userdata. */
typedef struct evaluation {
    vmu_policy *rt;
    const char *request;
    size_t request_len;
    int rejected;
} evaluation;

static int evaluate_protected(lua_State *L)
{
    evaluation *ev = lua_touserdata(L, 1);
    vmu_policy *rt = ev->rt;

    if (ev->request_len > rt->max_request_bytes)
        return luaL_error(L, "request: larger than %I bytes", (lua_Integer)rt->max_request_bytes);
    vmu_request_check_json(L, ev->request, ev->request_len);
    lua_rawgeti(L, LUA_REGISTRYINDEX, rt->cjson_decode_ref);
    lua_pushlstring(L, ev->request, ev->request_len);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        if (lua_type(L, -1) != LUA_TSTRING)
            lua_error(L);
        return luaL_error(L, "request: invalid JSON: %s", lua_tostring(L, -1));
    }
    int request = lua_gettop(L);
    vmu_request_prepare(L, request);

    lua_rawgeti(L, LUA_REGISTRYINDEX, rt->policy_ref);
    lua_pushvalue(L, request);
    call_start(rt);
    lua_call(L, 1, 2);
    budget_stop(rt);

    if (lua_isnil(L, -2) || (lua_isboolean(L, -2) && !lua_toboolean(L, -2))) {
        ev->rejected = 1;
        if (lua_type(L, -1) != LUA_TSTRING) {
            lua_pushliteral(L, "policy rejected the request");
        }
        return 1;
    }
    lua_pop(L, 1);
    if (!lua_istable(L, -1))
        return luaL_error(L, "policy returned a %s, not a document table", luaL_typename(L, -1));
    vmu_buf_reset(&rt->document);
    /* The document is held outside the Lua state, but counts against the
     * same cap (less one byte for its terminating NUL), and against its own. */
    int document = lua_gettop(L);
    size_t memory_room = rt->memory_limit == SIZE_MAX ? SIZE_MAX - 1 : rt->memory_limit - 1;
    size_t byte_cap = rt->max_document_bytes == SIZE_MAX ? SIZE_MAX - 1 : rt->max_document_bytes;
    const char *too_long = VMU_POLICY_ERR_MEMORY;
    if (byte_cap < memory_room)
        too_long = lua_pushfstring(L, "document exceeds %I bytes", (lua_Integer)byte_cap);
    vmu_policy_encode_document(L, document, rt->json_indent,
                               byte_cap < memory_room ? byte_cap : memory_room, too_long,
                               &rt->document);
    if (vmu_buf_putc(&rt->document, '\0') < 0)
        return luaL_error(L, VMU_POLICY_ERR_MEMORY);
    rt->document.len--;
    return 0;
}

vmu_policy_status vmu_policy_evaluate(vmu_policy *rt, const char *request_json,
                                      size_t request_len, const char **document,
                                      size_t *document_len)
{
    if (document)
        *document = NULL;
    if (document_len)
        *document_len = 0;
    if (!rt)
        return VMU_POLICY_ERROR;
    if (!request_json) {
        set_error_str(rt, "request: no JSON given");
        return VMU_POLICY_ERROR;
    }
    if (rt->policy_ref == LUA_NOREF) {
        set_error_str(rt, "no policy loaded");
        return VMU_POLICY_ERROR;
    }
    lua_State *L = rt->L;
    int top = lua_gettop(L);
    rt->limit = LIMIT_NONE;
    evaluation ev = {rt, request_json, request_len, 0};
    lua_pushcfunction(L, evaluate_protected);
    lua_pushlightuserdata(L, &ev);
    int status = lua_pcall(L, 1, 1, 0);
    call_end(rt);
    vmu_policy_status result;
    if (status != LUA_OK) {
        take_error(rt, status);
        result = VMU_POLICY_ERROR;
    } else if (ev.rejected) {
        size_t len;
        const char *msg = lua_tolstring(L, -1, &len);
        set_error(rt, msg, len);
        result = VMU_POLICY_REJECTED;
    } else {
        set_error_str(rt, "");
        if (document)
            *document = rt->document.data;
        if (document_len)
            *document_len = rt->document.len;
        result = VMU_POLICY_OK;
    }
    lua_settop(L, top);
    /* After a failure the state may hold a memory bomb's garbage: give it
     * back now so that the next call starts with the whole cap. */
    if (result == VMU_POLICY_ERROR)
        lua_gc(L, LUA_GCCOLLECT);
    return result;
}
