-- LuaRocks package of the vmutils Lua module (build/vmutils.so).
--
--   luarocks --lua-version=5.4 make --tree <dir> --deps-mode=none
--
-- builds it with the project's Makefile (its own build directory, so a
-- normal build is left alone) and installs the module into <dir>.
-- --deps-mode=none because Debian's Lua is not in LuaRocks' manifest.
rockspec_format = "3.0"
package = "vmutils"
version = "0.1.0-1"
source = {
   -- `luarocks make` builds the working tree; this is where a release
   -- tarball of it would be unpacked from.
   url = "file://vmutils-0.1.0.tar.gz",
   dir = "vmutils-0.1.0",
}
description = {
   summary = "hcsshim's VM utilities (sizing, vNUMA, runtime options, GCS logs) for Lua 5.4",
   detailed = [[
A C11 port of the semantics of hcsshim's internal/vm/vmutils, with a Lua 5.4
binding: processor and memory normalization, vNUMA topologies, runhcs runtime
options, the GCS log pipeline and a logrus-compatible log system.]],
   -- The project has no LICENSE file yet; MIT as hcsshim and Lua are.
   license = "MIT",
}
dependencies = {
   "lua >= 5.4, < 5.5",
}
external_dependencies = {
   YAJL = { header = "yajl/yajl_parse.h", library = "yajl" },
   PROTOBUF_C = { header = "protobuf-c/protobuf-c.h", library = "protobuf-c" },
   HWLOC = { header = "hwloc.h", library = "hwloc" },
}
build = {
   type = "make",
   build_target = "build/rock/vmutils.so",
   build_variables = {
      BUILD = "build/rock",
      CC = "$(CC)",
      CFLAGS = "$(CFLAGS)",
      LUA_CFLAGS = "-I$(LUA_INCDIR)",
   },
   install_pass = false,
   install = {
      lib = { vmutils = "build/rock/vmutils.so" },
   },
}
