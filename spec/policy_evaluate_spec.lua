-- vmutils.json_encode and vmutils.policy.evaluate from plain Lua: the
-- runtime's encoder (sorted keys, exact integers) and a policy evaluated as
-- `vmutils policy` evaluates it, byte for byte on every example request.
local vmutils = require "vmutils"
local cjson = require "cjson"
local capture = require("log_capture").capture
local support = require "support"
local sh, slurp, quote = support.run, support.slurp, support.quote

local BUILD = os.getenv("VMUTILS_BUILD") or "build"
local VMUTILS = BUILD .. "/vmutils"
local LCOW = "scripts/policies/lcow.lua"

describe("vmutils.json_encode", function()
  it("sorts keys at every level and writes arrays for sequences", function()
    -- <, > and & escaped as Go's encoding/json escapes them
    assert.equal('{"a":[1,{"x":true,"y":false}],"b":{},"c":null,"d":"\\u003c\\u0026\\u003e"}',
      vmutils.json_encode({ d = "<&>", c = vmutils.null, b = {}, a = { 1, { y = false, x = true } } }))
  end)

  it("writes integers exactly up to 2^63-1, where lua-cjson rounds from 1e14", function()
    local values = { math.maxinteger, math.mininteger, 123456789012345, 100000000000001 }
    assert.equal("[9223372036854775807,-9223372036854775808,123456789012345,100000000000001]",
      vmutils.json_encode(values))
    -- lua-cjson 2.1 prints them with %.14g: the digits past the 14th are lost
    assert.equal("[9.2233720368548e+18,-9.2233720368548e+18,1.2345678901234e+14,1e+14]",
      cjson.encode(values))
  end)

  it("writes floats as Go does", function()
    assert.equal("[0.5,1e+21,1e-7,100000000000000]", vmutils.json_encode({ 0.5, 1e21, 1e-7, 1e14 }))
  end)

  it("raises for what JSON cannot hold", function()
    support.raises("bad argument #1 to 'json_encode' (cannot encode a function value as JSON)",
      "json_encode", { print })
    support.raises("json: unsupported value: NaN", "json_encode", { 0 / 0 })
    support.raises("cannot encode a table key of type boolean as JSON", "json_encode", { [true] = 1 })
    local t = {}
    t.self = t
    support.raises("nested more than 128 levels", "json_encode", t)
  end)

  it("writes a table referenced many times once per reference, quickly", function()
    local shared = { 1, 2 }
    local list = {}
    for i = 1, 100000 do list[i] = shared end
    local json = vmutils.json_encode(list)
    assert.equal(2 + 100000 * 6 - 1, #json)
  end)
end)

describe("vmutils.policy.evaluate", function()
  local function examples()
    local list = {}
    local pipe = assert(io.popen("ls examples/*.json"))
    for line in pipe:lines() do list[#list + 1] = line end
    pipe:close()
    return list
  end

  for _, request in ipairs(examples()) do
    it("gives the bytes `vmutils policy` prints for " .. request, function()
      local text = slurp(request)
      local status, compact, err = sh(VMUTILS .. " policy --compact " .. quote(LCOW) .. " " .. quote(request))
      local _, indented = sh(VMUTILS .. " policy " .. quote(LCOW) .. " " .. quote(request))
      local results
      local records = capture(function() results = table.pack(vmutils.policy.evaluate(LCOW, text)) end)
      -- the policy's warnings reach this state's logger, one record for each line the command prints
      local _, warnings = err:gsub("level=warning", "")
      assert.equal(warnings, #records)
      if status == 0 then
        assert.equal(compact, results[2] .. "\n")
        assert.same(cjson.decode(compact), cjson.decode(results[2]))
        assert.is_table(results[1])
        assert.equal(vmutils.json_encode(results[1]), results[2])
        local again
        capture(function() again = table.pack(vmutils.policy.evaluate(LCOW, text, { indent = 2 })) end)
        assert.equal(indented, again[2] .. "\n")
      else
        assert.equal(1, status)
        assert.is_nil(results[1])
        assert.equal(err, "vmutils policy: " .. results[2] .. "\n")
        assert.equal("rejected", results[3])
      end
    end)
  end

  it("takes the policy as source and the request as a table or nil", function()
    local doc, json = vmutils.policy.evaluate(
      "return function(r) return { n = #r.annotations.x, host = r.host.os_build } end",
      { annotations = { x = "abc" }, host = { os_build = 17763 } })
    assert.same({ n = 3, host = 17763 }, doc)
    assert.equal('{"host":17763,"n":3}', json)
    doc, json = vmutils.policy.evaluate("return function(r) return { k = next(r.annotations) } end")
    assert.equal("{}", json)
  end)

  it("keeps integers exact in the document table", function()
    local doc = vmutils.policy.evaluate("return function() return { big = math.maxinteger, x = vmutils.null } end")
    assert.equal(math.maxinteger, doc.big)
    assert.equal(vmutils.null, doc.x)
  end)

  it("applies the command's limits", function()
    local cases = {
      { "return function() while true do end end", {}, "policy exceeded its instruction budget",
        { instructions = 100000 } },
      { "return function() local t = {} for i = 1, 1e7 do t[i] = i end return t end", {},
        "not enough memory", { memory = 8 * 1024 * 1024 } },
      { "return function() return { string.rep('x', 100) } end", {}, "document exceeds 50 bytes",
        { max_document_bytes = 50 } },
      { "return function() return {} end", { annotations = { a = string.rep("x", 100) } },
        "request: larger than 20 bytes", { max_request_bytes = 20 } },
      { "return function() return {} end -- padding", nil, "policy larger than 10 bytes",
        { max_policy_bytes = 10 } },
      { "return function() return {} end", "[]", "request: must be a JSON object, got an array at byte offset 0", nil },
    }
    for _, c in ipairs(cases) do
      local doc, err, kind = vmutils.policy.evaluate(c[1], c[2], c[4])
      assert.is_nil(doc)
      assert.equal(c[3], err)
      assert.equal("failed", kind)
    end
  end)

  it("reports a policy that does not load, and a missing file", function()
    local doc, err = vmutils.policy.evaluate("return function(")
    assert.is_nil(doc)
    assert.matches("^policy:1:", err)
    doc, err = vmutils.policy.evaluate("/nonexistent/policy.lua")
    assert.is_nil(doc)
    assert.equal("cannot open /nonexistent/policy.lua: No such file or directory", err)
  end)

  it("raises for bad arguments", function()
    support.raises("bad argument #3 to 'evaluate' (unknown key 'memory_limit')",
      "policy.evaluate", "return function() return {} end", nil, { memory_limit = 1 })
    support.raises("bad argument #3 to 'evaluate' (instructions: value -1 out of range",
      "policy.evaluate", "return function() return {} end", nil, { instructions = -1 })
    support.raises("bad argument #2 to 'evaluate' (JSON string, table or nil expected, got number)",
      "policy.evaluate", "return function() return {} end", 5)
    support.raises("bad argument #1 to 'evaluate' (string expected, got no value)", "policy.evaluate")
  end)

  it("is not reachable from a policy, whose json_encode stays under its cap", function()
    local doc = vmutils.policy.evaluate([[return function()
      local t = {} for i = 1, 100 do t[i] = string.rep("x", 1000) end
      local big = {} for i = 1, 1000 do big[i] = t end
      local s, err = vmutils.json_encode(big)
      return { policy = type(vmutils.policy), small = vmutils.json_encode({ 1 }), err = err }
    end]], nil, { memory = 32 * 1024 * 1024 })
    assert.same({ policy = "nil", small = "[1]", err = "not enough memory" }, doc)
  end)
end)
