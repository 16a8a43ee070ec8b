/* Lua surface of the gcs concern (its issue fills this in). */
#include "lua_vmutils.h"

void vmu_lua_register_gcs(lua_State *L) { (void)L; }
