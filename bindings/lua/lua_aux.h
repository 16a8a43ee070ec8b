/* The Lua binding's auxiliary helpers (lua_aux.c). */
#ifndef VMUTILS_LUA_AUX_H
#define VMUTILS_LUA_AUX_H

#include <lua.h>
#include <stdint.h>

#include "vmutils.h"

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
