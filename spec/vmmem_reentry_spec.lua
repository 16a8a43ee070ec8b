-- process_entries' iterator stepped again while a step is running (from an
-- api method, in a coroutine that is then collected): the inner step is
-- refused, and the outer step goes on with its own thread and stack.
local vmutils = require "vmutils"

describe("process_entries re-entered from an api method", function()
  local function reentering_api(on_snapshot)
    local api = { closed = 0 }
    local entered = false
    function api:create_toolhelp32_snapshot()
      -- once: without the guard the inner step would call this again
      if not entered then
        entered = true
        on_snapshot()
      end
      return "snap"
    end
    function api:process32_first() return { process_id = 7, exe_file = "a.exe" } end
    function api:process32_next() return nil, "no more" end
    function api:close_handle() self.closed = self.closed + 1 end
    return api
  end

  it("refuses a step from a collected coroutine and finishes the outer loop", function()
    local step, iter
    local inner_ok, inner_err
    local api = reentering_api(function()
      local co = coroutine.create(function() return step(iter) end)
      inner_ok, inner_err = coroutine.resume(co)
      co = nil -- luacheck: ignore
      collectgarbage()
      collectgarbage()
    end)
    step, iter = vmutils.process_entries(api)
    local seen = {}
    for entry in step, iter, nil, iter do
      seen[#seen + 1] = entry.exe_file .. ":" .. entry.process_id
    end
    assert.same({ "a.exe:7" }, seen)
    assert.is_false(inner_ok)
    assert.matches("already running", inner_err)
    assert.equal(1, api.closed)
  end)

  it("refuses close from inside a step", function()
    local step, iter
    local close_ok, close_err
    local api = reentering_api(function() close_ok, close_err = pcall(iter.close, iter) end)
    step, iter = vmutils.process_entries(api)
    local seen = 0
    for _ in step, iter, nil, iter do seen = seen + 1 end
    assert.equal(1, seen)
    assert.is_false(close_ok)
    assert.matches("already running", close_err)
    assert.equal(1, api.closed)
  end)

  it("steps from a coroutine once the outer step has returned", function()
    local step, iter = vmutils.process_entries(reentering_api(function() end))
    local co = coroutine.wrap(function() return step(iter) end)
    assert.equal("a.exe", co().exe_file)
    co = nil -- luacheck: ignore
    collectgarbage()
    assert.is_nil(step(iter))
  end)
end)
