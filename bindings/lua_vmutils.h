/* Internal header of the Lua binding: each concern's file registers its
 * functions into the module table, and shares the argument checkers here so
 * that every function rejects bad arguments the same way. */
#ifndef VMUTILS_LUA_H
#define VMUTILS_LUA_H

#include <lauxlib.h>
#include <lua.h>
#include <stdint.h>

#include "vmutils.h"
#include "vmutils_runtime.h"

/* Each adds its functions (and values) to the module table on the stack top. */
void vmu_lua_register_constants(lua_State *L);
void vmu_lua_register_log(lua_State *L);
void vmu_lua_register_sizing(lua_State *L);
void vmu_lua_register_numa(lua_State *L);
void vmu_lua_register_refinfo(lua_State *L);
void vmu_lua_register_gcs(lua_State *L);
void vmu_lua_register_gcs_server(lua_State *L);
void vmu_lua_register_options(lua_State *L);
void vmu_lua_register_vmmem(lua_State *L);
void vmu_lua_register_topology(lua_State *L);
void vmu_lua_register_policy(lua_State *L);
void vmu_lua_register_go(lua_State *L);

/* A host that caps its Lua state's memory (the policy runtime) tells the
 * module how many bytes the state may still allocate: what the module
 * allocates outside Lua for the state (decoded runtime options, encoded
 * JSON) then stays within that room. SIZE_MAX when no host set a hook. */
typedef size_t (*vmu_lua_headroom_fn)(void *ud);
void vmu_lua_set_headroom(lua_State *L, vmu_lua_headroom_fn fn, void *ud);
size_t vmu_lua_headroom(lua_State *L);

/* The logger of this Lua state (created by luaopen_vmutils): two states never
 * share a level, format, output or handler. */
vmu_logger *vmu_lua_logger(lua_State *L);

/* Log records and field values as Lua values (lua_log.c): a record is
 * { time = RFC 3339 host time, level = "warning", msg = "...", fields = {...} };
 * null is vmutils.null, a time an RFC3339Nano string, an array a sequence, an
 * object a table (a repeated key keeps its last value), a uint64 past 2^63-1
 * the nearest float. Both raise a Lua error on OOM or past VMU_LOG_MAX_DEPTH
 * levels of nesting. */
void vmu_lua_push_value(lua_State *L, const vmu_value *v);
void vmu_lua_push_record(lua_State *L, const vmu_log_record *r);

/* Integer arguments in the range of a Go type; a float with an integral
 * value is accepted (as luaL_checkinteger does), anything else is a
 * luaL_argerror. */
int32_t vmu_lua_check_int32(lua_State *L, int arg);
uint32_t vmu_lua_check_uint32(lua_State *L, int arg);
/* A Go uint64 as a Lua integer can hold it: 0 to 2^63-1. */
uint64_t vmu_lua_check_nonnegative_int64(lua_State *L, int arg);
/* The same for a value already on the stack at `idx` that belongs to argument
 * `arg` (a table field or array item); `what` names it in the message. */
int64_t vmu_lua_check_integer_range(lua_State *L, int idx, int arg, const char *what,
                                    int64_t min, int64_t max);

/* Pushes a userdata holding an empty vmu_buf, freed when the userdata is
 * collected: C text built in it is not lost when pushing it to Lua raises
 * (out of memory under a capped allocator). Free it early with
 * vmu_buf_free once the text is copied. */
vmu_buf *vmu_lua_push_buf_box(lua_State *L);

/* A configuration table names only the keys in `known` (NULL-terminated):
 * any other key of the table at `idx` (a typo such as LogicalProcessors)
 * is an argument error on `arg`, "unknown key 'LogicalProcessors'", with
 * `what` ahead of it when given. */
void vmu_lua_check_known_keys(lua_State *L, int idx, int arg, const char *const *known,
                              const char *what);

/* Pushes nil and the message: the `nil, err` failure convention. */
int vmu_lua_fail(lua_State *L, const char *msg);

#endif
