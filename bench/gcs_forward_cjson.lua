-- A GCS log forwarder in plain Lua 5.4 on lua-cjson, as a Lua user would
-- write one without vmutils: bench/gcs_logs.sh times it beside
-- `vmutils gcs-logs`. It applies the host's rules (info by default, fatal
-- and panic capped at error, ETW text moved to msg, whole floats printed
-- as integers) but is no reference for the bytes: it takes one entry per
-- line and prints the keys in cjson's order.
--
-- Use: lua5.4 gcs_forward_cjson.lua VM_ID < stream > records
local cjson = require "cjson"

local vm_id = assert(arg[1], "usage: lua5.4 gcs_forward_cjson.lua VM_ID < stream")
local capped = { fatal = "error", panic = "error" }
local stdout = io.stdout
stdout:setvbuf("full", 65536)

local function host_time()
  return os.date("!%Y-%m-%dT%H:%M:%SZ")
end

-- The text of an ETW entry is under "message", else "Message".
local function etw_text(entry)
  if entry.Source ~= "ETW" then return nil end
  for _, key in ipairs { "message", "Message" } do
    if type(entry[key]) == "string" then
      local text = entry[key]
      entry[key] = nil
      return text
    end
  end
end

-- One decoded line to one record; false when the line is not an entry.
local function forward(line)
  local ok, entry = pcall(cjson.decode, line)
  if not ok or type(entry) ~= "table" then return false end
  local guest_time, level, msg = entry.time, entry.level or "info", entry.msg or ""
  entry.time, entry.level, entry.msg = nil, nil, nil
  msg = etw_text(entry) or msg
  for key, value in pairs(entry) do
    if math.type(value) == "float" then
      local n = math.tointeger(value)
      if n then entry[key] = n end
    end
  end
  entry.level = capped[level] or level
  entry.msg = msg
  entry.time = host_time()
  entry["uvm-id"] = vm_id
  entry["vm.time"] = guest_time
  stdout:write(cjson.encode(entry), "\n")
  return true
end

-- Everything from the first line that is not an entry is the guest's last
-- words (a panic dump, say): one "gcs terminated" record.
local tail
for line in io.lines() do
  if tail then
    tail[#tail + 1] = line
  elseif not forward(line) then
    tail = { line }
  end
end
local rest = tail and table.concat(tail, "\n"):match("^%s*(.-)%s*$") or ""
if rest ~= "" then
  stdout:write(cjson.encode {
    level = "error", msg = "gcs terminated", stderr = rest, time = host_time(), ["uvm-id"] = vm_id,
  }, "\n")
end
stdout:flush()
