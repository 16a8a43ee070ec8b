/* Lua surface of the log concern (its issue fills this in). */
#include "lua_vmutils.h"

void vmu_lua_register_log(lua_State *L) { (void)L; }
