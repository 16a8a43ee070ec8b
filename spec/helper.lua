-- Loaded by busted before the specs: makes `require "vmutils"` find the
-- module of the build tree under test (VMUTILS_BUILD, default "build").
local build = os.getenv("VMUTILS_BUILD") or "build"
package.cpath = build .. "/?.so;" .. package.cpath
package.path = "scripts/?.lua;spec/?.lua;" .. package.path
