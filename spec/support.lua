-- Spec support shared by the specs (not a spec itself: busted only runs
-- *_spec.lua): argument-error checks, shell commands and temporary files,
-- and a base64 encoder written independently of the code under test.
local assert = require "luassert"
local vmutils = require "vmutils"

local support = {}

-- Calls vmutils.<name>(...) as a script would (so the message names the
-- function as the contract spells it) and checks the error it raises.
function support.raises(pattern, name, ...)
  local call = load("local vmutils = ...; return function(...) return vmutils." .. name
    .. "(...) end")(vmutils)
  local ok, err = pcall(call, ...)
  assert.is_false(ok, "expected an error matching " .. pattern)
  assert.is_truthy(tostring(err):find(pattern, 1, true),
    "error '" .. tostring(err) .. "' does not contain '" .. pattern .. "'")
end

-- A bad-argument row is { name, message, arguments... }: the arguments run
-- to the last non-nil one, so "no value" and "nil" rows stay distinct.
function support.row_arguments(row)
  local last = 2
  for i = 3, 8 do
    if row[i] ~= nil then last = i end
  end
  return table.unpack(row, 3, last)
end

-- The single-quoted shell word for s.
function support.quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- Runs a shell command; returns its output (stdout and stderr together)
-- and its exit status.
function support.shell(command)
  local pipe = assert(io.popen(command .. " 2>&1"))
  local output = pipe:read("a")
  local ok, _, code = pipe:close()
  return output, ok and 0 or code
end

-- The whole content of a file, or "" when it cannot be read.
function support.slurp(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

function support.write_file(path, data)
  local f = assert(io.open(path, "wb"))
  assert(f:write(data))
  assert(f:close())
end

-- Writes `text` to a new temporary .lua file and returns its path.
function support.temp_lua(text)
  local path = os.tmpname() .. ".lua"
  support.write_file(path, text)
  return path
end

-- Runs a command line (already quoted) with `input` on stdin (nothing when
-- nil); returns its exit status, stdout and stderr apart.
function support.run(cmdline, input)
  local base = os.tmpname()
  local out, err, inp = base .. ".out", base .. ".err", base .. ".in"
  local redirect = " </dev/null"
  if input then
    support.write_file(inp, input)
    redirect = " <" .. inp
  end
  local ok, _, code = os.execute(cmdline .. redirect .. " >" .. out .. " 2>" .. err)
  local stdout, stderr = support.slurp(out), support.slurp(err)
  os.remove(out); os.remove(err); os.remove(inp); os.remove(base)
  return ok and 0 or code, stdout, stderr
end

-- Standard base64 (RFC 4648 alphabet, '=' padding).
function support.base64(data)
  local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  local out = {}
  for i = 1, #data, 3 do
    local a, b, c = data:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local chars = {}
    for k = 3, 0, -1 do
      local index = (n >> (6 * k)) & 63
      chars[#chars + 1] = alphabet:sub(index + 1, index + 1)
    end
    if not b then chars[3], chars[4] = "=", "="
    elseif not c then chars[4] = "=" end
    out[#out + 1] = table.concat(chars)
  end
  return table.concat(out)
end

return support
