/* Internal header of the policy runtime: the pieces of policy.c (state,
 * limits, calls), policy_sandbox.c (the policy environment),
 * policy_request.c (request preparation) and policy_json.c (the document
 * encoder) share these. */
#ifndef VMUTILS_POLICY_INTERNAL_H
#define VMUTILS_POLICY_INTERNAL_H

#include <lauxlib.h>
#include <lua.h>

#include "vmutils.h"
#include "vmutils_policy.h"

/* Registry keys (their addresses) of what the runtime keeps in its state. */
extern const char vmu_policy_key_cjson;       /* the real cjson module table */
extern const char vmu_policy_key_vmutils;     /* the real vmutils module table */
extern const char vmu_policy_key_libraries;   /* name -> read-only library proxy */

/* Builds the read-only library proxies once per state (after vmutils and
 * cjson are loaded); raises on failure. */
void vmu_sandbox_init(lua_State *L);
/* Pushes a fresh policy environment: its own read-only globals table whose
 * `load` and `require` stay inside the sandbox. */
void vmu_sandbox_push_env(lua_State *L);

/* Raises a "request: ..." Lua error unless `json` is one strict RFC 8259
 * JSON text whose top level is an object and whose members `host` and
 * `annotations` are objects (or null) and `options` not an array: what
 * lua-cjson accepts beyond that (hexadecimal numbers, nan, inf, an array
 * where an object belongs, which it decodes to the same empty table) never
 * reaches a policy. The message names the byte offset. */
void vmu_request_check_json(lua_State *L, const char *json, size_t len);

/* Replaces the decoded request table at `idx` by the prepared request the
 * policy receives: annotations checked, host facts filled in, options decoded.
 * Raises a Lua error with a "request: ..." message when it is malformed. */
void vmu_request_prepare(lua_State *L, int idx);

/* The policy document encoder, for the evaluated document, the sandbox's
 * json.encode and vmutils.policy: appends the value at `idx` as JSON with
 * sorted object keys (Go's encoding/json string escaping and float format),
 * `indent` spaces per level (0: compact). A table with keys exactly 1..n is an array, any other an
 * object (integer keys written as strings). Raises a Lua error for what JSON
 * cannot hold: functions, userdata, non-finite numbers, float or boolean
 * keys, nesting past 128 levels (where cycles end); `too_long` when `out`
 * would grow past `max_len` bytes, and "not enough memory" when it cannot
 * grow. A table met again at the same depth is copied from its first text,
 * so the work is bounded by the tables plus the output. */
void vmu_policy_encode_document(lua_State *L, int idx, unsigned indent, size_t max_len,
                                const char *too_long, vmu_buf *out);

/* The call's limits, for the sandbox's own C functions (policy.c).
 * vmu_policy_charge counts `work` units of C work against the instruction
 * budget and checks the deadline, raising the limit's error when either is
 * reached. vmu_policy_scratch is an empty buffer outside the state that the
 * runtime frees when the call ends; vmu_policy_memory_room the bytes the state
 * may still allocate under its cap. */
void vmu_policy_charge(lua_State *L, uint64_t work);
/* The deadline alone, for C work after the policy returned (encoding the
 * document); nothing outside a runtime. */
void vmu_policy_check_deadline(lua_State *L);
/* luaL_checkstack, but a larger stack that the memory cap refuses is
 * VMU_POLICY_ERR_MEMORY, as any other allocation past the cap, and only a
 * stack past Lua's limit is "stack overflow (what)". */
void vmu_policy_check_stack(lua_State *L, int n, const char *what);
/* Memory ran out even after a full collection: in a call, the memory limit
 * is reached and the call ends (VMU_POLICY_ERR_MEMORY); outside one, that
 * error is raised. */
void vmu_policy_out_of_memory(lua_State *L);
size_t vmu_policy_max_open_files(lua_State *L);
size_t vmu_policy_memory_room(lua_State *L);
vmu_buf *vmu_policy_scratch(lua_State *L);
vmu_buf *vmu_policy_scratch_text(lua_State *L); /* as it is, not emptied */

/* Per call into the policy (policy_sandbox.c): begin restarts
 * the random generator (protected mode); end closes the files the policy
 * left open (allocates nothing). */
void vmu_sandbox_begin_call(lua_State *L);
void vmu_sandbox_end_call(lua_State *L);

/* The bounded replacements of string.rep, table.move, table.insert and
 * table.remove (policy_bounded.c), set into the library copy at
 * `lib`. */
void vmu_bounded_string(lua_State *L, int lib);
void vmu_bounded_table(lua_State *L, int lib);
/* string.find, match, gmatch and gsub with a matcher that counts its steps
 * (policy_patterns.c), set into the library copy at `lib`. */
void vmu_bounded_patterns(lua_State *L, int lib);

/* Functions whose result is built where no collection runs first
 * (policy_memory_retry.c): a "not enough memory" collects the garbage and
 * runs them once more. vmu_memory_retry wraps the pure functions named in
 * `pure` (NULL-terminated) in the library at `lib`; vmu_memory_retry_gsub
 * wraps gsub, which does not run twice when its replacement is the
 * policy's function or table. Set after the bounded replacements. */
void vmu_memory_retry(lua_State *L, int lib, const char *const *pure);
void vmu_memory_retry_gsub(lua_State *L, int lib);

/* The policy's io table, open, lines and type (policy_files.c),
 * pushed; and closing every file policies left open. */
void vmu_files_push_io(lua_State *L);
void vmu_files_close_all(lua_State *L);

#endif
