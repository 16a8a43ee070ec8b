-- LuaRocks package of vmutils: the Lua module (vmutils.so), the `vmutils`
-- program, and the shipped policies as the Lua files vmutils.policies.*
-- (share/lua/5.4/vmutils/policies/*.lua in the tree).
--
--   luarocks --lua-version=5.4 make --tree <dir> --deps-mode=none
--
-- builds them with the project's Makefile (its own build directory, so a
-- normal build is left alone) and installs them into <dir>.
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
options, the GCS log pipeline and a logrus-compatible log system; the
`vmutils` program evaluates VM-creation policies, forwards GCS logs and runs
Lua scripts. README.md in the source is the starting point.]],
   -- Placeholder address until the project is published; the manual is
   -- README.md and docs/ in the source.
   homepage = "https://github.com/vmutils/vmutils#readme",
   license = "MIT",
}
dependencies = {
   "lua >= 5.4, < 5.5",
}
external_dependencies = {
   YAJL = { header = "yajl/yajl_parse.h", library = "yajl" },
   PROTOBUF_C = { header = "protobuf-c/protobuf-c.h", library = "protobuf-c" },
   HWLOC = { header = "hwloc.h", library = "hwloc" },
   -- Shortest float digits (core/log/shortest_digits.cc, compiled as C++).
   DOUBLE_CONVERSION = { header = "double-conversion/double-to-string.h", library = "double-conversion" },
   -- The program's line editor (the REPL).
   LIBEDIT = { header = "editline/readline.h", library = "edit" },
}
build = {
   type = "make",
   build_target = "build/rock/vmutils.so build/rock/vmutils",
   build_variables = {
      BUILD = "build/rock",
      CC = "$(CC)",
      CFLAGS = "$(CFLAGS)",
      LUA_CFLAGS = "-I$(LUA_INCDIR)",
   },
   install_pass = false,
   install = {
      lib = { vmutils = "build/rock/vmutils.so" },
      bin = { vmutils = "build/rock/vmutils" },
      lua = {
         ["vmutils.policies.lcow"] = "scripts/policies/lcow.lua",
         ["vmutils.policies.numa-fit"] = "scripts/policies/numa-fit.lua",
      },
   },
}
