/* Internal header of the Lua binding: each concern's file registers its
 * functions into the module table; the shared argument checkers are in
 * lua_aux.h, so that every function rejects bad arguments the same way. */
#ifndef VMUTILS_LUA_H
#define VMUTILS_LUA_H

#include <lauxlib.h>
#include <lua.h>
#include <stdint.h>

#include "lua_aux.h"
#include "vmutils.h"
#include "vmutils_policy.h"

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

#endif
