-- Spec support: runs a function with a vmutils log handler installed and
-- returns the records it received plus the function's results, so specs can
-- check a warning's message and fields exactly. (Not a spec itself: busted
-- only runs *_spec.lua.)
local vmutils = require "vmutils"

local log_capture = {}

-- capture(fn [, level]) -> records, results (a table.pack of fn's results).
-- The handler and the level are restored even when fn raises.
function log_capture.capture(fn, level)
  local records = {}
  local saved_level = vmutils.get_log_level()
  if level then vmutils.set_log_level(level) end
  vmutils.set_log_handler(function(record) records[#records + 1] = record end)
  local results = table.pack(pcall(fn))
  vmutils.set_log_handler(nil)
  vmutils.set_log_level(saved_level)
  if not results[1] then error(results[2], 0) end
  return records, table.pack(table.unpack(results, 2, results.n))
end

return log_capture
