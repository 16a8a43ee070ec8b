/* The module's constants, osversion table, _VERSION and the null sentinel. */
#include "lua_vmutils.h"

static void set_integer(lua_State *L, const char *name, lua_Integer value)
{
    lua_pushinteger(L, value);
    lua_setfield(L, -2, name);
}

static void set_string(lua_State *L, const char *name, const char *value)
{
    lua_pushstring(L, value);
    lua_setfield(L, -2, name);
}

/* cjson.null is lightuserdata(NULL); using the same value makes the two
 * sentinels compare equal without loading cjson. */
static void set_null(lua_State *L)
{
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
}

void vmu_lua_register_constants(lua_State *L)
{
    set_string(L, "_VERSION", "vmutils " VMU_VERSION_STRING);
    set_null(L);
    set_integer(L, "MAX_VPMEM_COUNT", VMU_MAX_VPMEM_COUNT);
    set_integer(L, "DEFAULT_VPMEM_COUNT", VMU_DEFAULT_VPMEM_COUNT);
    set_integer(L, "DEFAULT_VPMEM_SIZE_BYTES", (lua_Integer)VMU_DEFAULT_VPMEM_SIZE_BYTES);
    set_string(L, "DEFAULT_DM_VERITY_ROOTFS_VHD", VMU_DEFAULT_DM_VERITY_ROOTFS_VHD);
    set_string(L, "DEFAULT_GUEST_STATE_FILE", VMU_DEFAULT_GUEST_STATE_FILE);
    set_string(L, "DEFAULT_UVM_REFERENCE_INFO_FILE", VMU_DEFAULT_UVM_REFERENCE_INFO_FILE);
    set_string(L, "DEFAULT_UVM_HASH_ENVELOPE_REFERENCE_INFO_FILE",
               VMU_DEFAULT_UVM_HASH_ENVELOPE_REFERENCE_INFO_FILE);
    set_string(L, "INITRD_FILE", VMU_INITRD_FILE);
    set_string(L, "VHD_FILE", VMU_VHD_FILE);
    set_string(L, "KERNEL_FILE", VMU_KERNEL_FILE);
    set_string(L, "UNCOMPRESSED_KERNEL_FILE", VMU_UNCOMPRESSED_KERNEL_FILE);
    set_integer(L, "LINUX_ENTROPY_VSOCK_PORT", VMU_LINUX_ENTROPY_VSOCK_PORT);
    set_integer(L, "LINUX_LOG_VSOCK_PORT", VMU_LINUX_LOG_VSOCK_PORT);
    set_integer(L, "LINUX_ENTROPY_BYTES", VMU_LINUX_ENTROPY_BYTES);
    set_integer(L, "PLAN9_PORT", VMU_PLAN9_PORT);
    set_string(L, "ERR_CPU_GROUP_CREATE_NOT_SUPPORTED", VMU_ERR_CPU_GROUP_CREATE_NOT_SUPPORTED);

    lua_createtable(L, 0, 5);
    set_integer(L, "RS5", VMU_OSVERSION_RS5);
    set_integer(L, "V19H1", VMU_OSVERSION_V19H1);
    set_integer(L, "V21H1", VMU_OSVERSION_V21H1);
    set_integer(L, "V21H2_SERVER", VMU_OSVERSION_V21H2_SERVER);
    set_integer(L, "V25H1_SERVER", VMU_OSVERSION_V25H1_SERVER);
    lua_setfield(L, -2, "osversion");
}
