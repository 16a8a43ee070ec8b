/* The Lua binding's auxiliary helpers (lua_aux.c). */
#ifndef VMUTILS_LUA_AUX_H
#define VMUTILS_LUA_AUX_H

#include <lauxlib.h>
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

/* Releases what a guard's data holds; called once, on the data. */
typedef void (*vmu_lua_release)(void *data);

/* Pushes a guard: a userdata of `size` zeroed bytes whose __gc and __close
 * call `release` on them, so that C memory held there while a result is
 * pushed is freed when pushing raises (out of memory under a capped
 * allocator), as lauxlib boxes a luaL_Buffer. A caller that frees the
 * resource itself first leaves the data empty (a NULL pointer), which
 * `release` must accept. Returns the data. */
void *vmu_lua_push_guard(lua_State *L, size_t size, vmu_lua_release release);

/* Creates the metatable `name` of an object type once per state: `close`
 * runs as __gc and __close (it must be safe to call twice), `tostring` as
 * __tostring, and `methods` is the __index table. */
void vmu_lua_register_class(lua_State *L, const char *name, lua_CFunction close,
                            lua_CFunction tostring, const luaL_Reg *methods);

/* Pushes a guard holding an empty vmu_buf: C text built in it is not lost
 * when pushing it to Lua raises. Free it early with vmu_buf_free once the
 * text is copied. */
vmu_buf *vmu_lua_push_buf_box(lua_State *L);

/* A configuration table names only the keys in `known` (NULL-terminated):
 * any other key of the table at `idx` (a typo such as LogicalProcessors)
 * is an argument error on `arg`, "unknown key 'LogicalProcessors'", with
 * `what` ahead of it when given. */
void vmu_lua_check_known_keys(lua_State *L, int idx, int arg, const char *const *known,
                              const char *what);

/* Pushes nil and the message: the `nil, err` failure convention. */
int vmu_lua_fail(lua_State *L, const char *msg);

/* Whether a failed protected call (its status, the error on the stack top)
 * ran out of memory: LUA_ERRMEM, or the error "not enough memory" that
 * lauxlib's buffers and the binding's own builders raise as a plain error. */
int vmu_lua_is_memory_error(lua_State *L, int status);

#endif
