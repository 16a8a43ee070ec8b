-- The log system's Lua surface: set_log_level, get_log_level,
-- set_log_format, set_log_output, set_log_handler. The records come from
-- normalize_memory_size's warning (fields uvm-id, requested, assigned);
-- the byte-level formatting itself is checked against Go in tests/test_log.c.
local vmutils = require "vmutils"

local MSG = "Changing user requested MemorySizeInMB to align to 2MB"
local RFC3339 = "^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d[Z+-][%d:]*$"

local function warn_once(uvm_id)
  return vmutils.normalize_memory_size(uvm_id or "uvm1", 1025)
end

-- Runs fn with the output sent to a temporary file; returns what it holds.
local function output_of(fn)
  local f = assert(io.tmpfile())
  vmutils.set_log_output(f)
  fn()
  vmutils.set_log_output(io.stderr)
  f:seek("set")
  local text = f:read("a")
  f:close()
  return text
end

-- The host time is the only varying part: check the shape of each value
-- that follows `prefix` (plain text) up to the next quote, then mask it.
local function mask_time(text, prefix)
  local escaped = prefix:gsub("%p", "%%%0")
  return (text:gsub(escaped .. '([^"]*)', function(t)
    assert.matches(RFC3339, t)
    return prefix .. "<T>"
  end))
end

-- Runs a Lua chunk in a fresh interpreter with the module of this build and
-- returns its stdout and stderr.
local function run_fresh(chunk)
  local build = os.getenv("VMUTILS_BUILD") or "build"
  local script = os.tmpname()
  local err = os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write(("package.cpath = %q .. package.cpath\n"):format(build .. "/?.so;"), chunk)
  f:close()
  local p = assert(io.popen(("lua5.4 %s 2>%s"):format(script, err)))
  local out = p:read("a")
  p:close()
  local e = assert(io.open(err))
  local errtext = e:read("a")
  e:close()
  os.remove(script)
  os.remove(err)
  return out, errtext
end

local function restore_defaults()
  vmutils.set_log_handler(nil)
  vmutils.set_log_level("info")
  vmutils.set_log_format("text")
  vmutils.set_log_output(io.stderr)
end

describe("log system", function()
  before_each(restore_defaults)
  after_each(restore_defaults)

  describe("defaults", function()
    it("starts at info, in text, on stderr", function()
      local out, err = run_fresh([[
        local v = require "vmutils"
        io.write(v.get_log_level(), "\n")
        io.write(v.normalize_memory_size("fresh", 3), "\n")
      ]])
      assert.are.equal("info\n4\n", out)
      assert.are.equal('time="<T>" level=warning msg="' .. MSG .. '" assigned=4 requested=3 uvm-id=fresh\n',
        mask_time(err, 'time="'))
    end)
  end)

  describe("set_log_level / get_log_level", function()
    local names = {
      { "panic", "panic" }, { "fatal", "fatal" }, { "error", "error" }, { "warning", "warning" },
      { "warn", "warning" }, { "WARN", "warning" }, { "Info", "info" }, { "debug", "debug" },
      { "TRACE", "trace" },
    }
    for _, c in ipairs(names) do
      it(("accepts %q as %q"):format(c[1], c[2]), function()
        vmutils.set_log_level(c[1])
        assert.are.equal(c[2], vmutils.get_log_level())
      end)
    end

    local filtering = {
      { level = "panic", delivered = false }, { level = "error", delivered = false },
      { level = "warning", delivered = true }, { level = "info", delivered = true },
      { level = "trace", delivered = true },
    }
    for _, c in ipairs(filtering) do
      it(("%s a warning at level %s"):format(c.delivered and "delivers" or "drops", c.level), function()
        local records = {}
        vmutils.set_log_level(c.level)
        vmutils.set_log_handler(function(r) records[#records + 1] = r end)
        local text = output_of(function() assert.are.equal(1026, warn_once()) end)
        assert.are.equal(c.delivered and 1 or 0, #records)
        assert.are.equal("", text) -- the handler, not the output, gets records
        vmutils.set_log_handler(nil)
        text = output_of(warn_once)
        assert.are.equal(c.delivered, text ~= "")
      end)
    end

    local bad = {
      { "nil", nil, "string expected, got nil" },
      { "a table", {}, "string expected, got table" },
      { "an unknown name", "verbose", 'not a valid logrus Level: "verbose"' },
      { "an empty name", "", 'not a valid logrus Level: ""' },
      { "a name with a NUL", "info\0", 'not a valid logrus Level: "info\\x00"' },
      { "a number", 4, 'not a valid logrus Level: "4"' },
    }
    for _, c in ipairs(bad) do
      it("rejects " .. c[1], function()
        local ok, err = pcall(vmutils.set_log_level, c[2])
        assert.is_false(ok)
        assert.matches("bad argument #1 to '[%w_.]*set_log_level'", err)
        assert.is_truthy(err:find(c[3], 1, true), err)
        assert.are.equal("info", vmutils.get_log_level())
      end)
    end

    it("rejects a missing argument", function()
      local ok, err = pcall(vmutils.set_log_level)
      assert.is_false(ok)
      assert.matches("bad argument #1 to '[%w_.]*set_log_level' %(string expected, got no value%)", err)
    end)
  end)

  describe("set_log_format", function()
    it("writes logrus text", function()
      local text = output_of(function() warn_once("uvm-a") end)
      assert.are.equal('time="<T>" level=warning msg="' .. MSG .. '" assigned=1026 requested=1025 uvm-id=uvm-a\n',
        mask_time(text, 'time="'))
    end)

    it("writes logrus JSON", function()
      vmutils.set_log_format("json")
      local text = output_of(function() warn_once("uvm-a") end)
      assert.are.equal('{"assigned":1026,"level":"warning","msg":"' .. MSG ..
        '","requested":1025,"time":"<T>","uvm-id":"uvm-a"}\n',
        mask_time(text, '"time":"'))
    end)

    it("quotes and escapes what logrus quotes and escapes", function()
      local id = 'a "b"\n<c>'
      local text = output_of(function() warn_once(id) end)
      assert.matches(' uvm%-id="a \\"b\\"\\n<c>"\n$', text)
      vmutils.set_log_format("json")
      text = output_of(function() warn_once(id) end)
      assert.matches('"uvm%-id":"a \\"b\\"\\n\\u003cc\\u003e"}\n$', text)
    end)

    it("switches back to text", function()
      vmutils.set_log_format("json")
      vmutils.set_log_format("text")
      assert.matches("^time=", output_of(warn_once))
    end)

    local bad = {
      { "an unknown name", "xml", "invalid option 'xml'" },
      { "a capitalised name", "JSON", "invalid option 'JSON'" },
      { "nil", nil, "string expected, got nil" },
      { "a table", {}, "string expected, got table" },
    }
    for _, c in ipairs(bad) do
      it("rejects " .. c[1], function()
        local ok, err = pcall(vmutils.set_log_format, c[2])
        assert.is_false(ok)
        assert.matches("bad argument #1 to '[%w_.]*set_log_format'", err)
        assert.is_truthy(err:find(c[3], 1, true), err)
      end)
    end
  end)

  describe("set_log_output", function()
    it("writes each record once, in order, to the file", function()
      local text = output_of(function()
        warn_once("one")
        vmutils.set_log_format("json")
        warn_once("two")
      end)
      local lines = {}
      for line in text:gmatch("[^\n]*\n") do lines[#lines + 1] = line end
      assert.are.equal(2, #lines)
      assert.matches("uvm%-id=one\n$", lines[1])
      assert.matches('"uvm%-id":"two"}\n$', lines[2])
    end)

    it("keeps the file handle alive without other references", function()
      local path = os.tmpname()
      vmutils.set_log_output(assert(io.open(path, "w")))
      collectgarbage()
      collectgarbage()
      warn_once("kept")
      vmutils.set_log_output(io.stderr) -- the old handle may now be collected
      collectgarbage()
      collectgarbage()
      local f = assert(io.open(path))
      local text = f:read("a")
      f:close()
      os.remove(path)
      assert.matches("uvm%-id=kept\n$", text)
    end)

    it("survives the file being closed behind its back", function()
      local f = assert(io.tmpfile())
      vmutils.set_log_output(f)
      f:close()
      assert.are.equal(1026, warn_once())
    end)

    local bad = {
      { "a path", "/tmp/log.txt", "FILE* expected, got string" },
      { "nil", nil, "FILE* expected, got nil" },
      { "a table", {}, "FILE* expected, got table" },
    }
    for _, c in ipairs(bad) do
      it("rejects " .. c[1], function()
        local ok, err = pcall(vmutils.set_log_output, c[2])
        assert.is_false(ok)
        assert.matches("bad argument #1 to '[%w_.]*set_log_output'", err)
        assert.is_truthy(err:find(c[3], 1, true), err)
      end)
    end

    it("rejects a closed file", function()
      local f = assert(io.tmpfile())
      f:close()
      local ok, err = pcall(vmutils.set_log_output, f)
      assert.is_false(ok)
      assert.matches("bad argument #1 to '[%w_.]*set_log_output' %(attempt to use a closed file%)", err)
    end)

    it("rejects a missing argument", function()
      local ok, err = pcall(vmutils.set_log_output)
      assert.is_false(ok)
      assert.matches("bad argument #1 to '[%w_.]*set_log_output' %(FILE%* expected, got no value%)", err)
    end)
  end)

  describe("set_log_handler", function()
    it("receives the record as a table", function()
      local records = {}
      vmutils.set_log_handler(function(r) records[#records + 1] = r end)
      assert.are.equal(1026, warn_once("uvm-h"))
      assert.are.equal(1, #records)
      local r = records[1]
      assert.matches(RFC3339, r.time)
      assert.are.equal("warning", r.level)
      assert.are.equal(MSG, r.msg)
      assert.are.same({ ["uvm-id"] = "uvm-h", requested = 1025, assigned = 1026 }, r.fields)
      assert.are.equal("integer", math.type(r.fields.requested))
    end)

    it("replaces the formatter output, and nil restores it", function()
      local count = 0
      vmutils.set_log_handler(function() count = count + 1 end)
      assert.are.equal("", output_of(warn_once))
      assert.are.equal(1, count)
      vmutils.set_log_handler(nil)
      assert.matches("uvm%-id=uvm1\n$", output_of(warn_once))
      assert.are.equal(1, count)
    end)

    it("is replaced by the next handler", function()
      local first, second = 0, 0
      vmutils.set_log_handler(function() first = first + 1 end)
      vmutils.set_log_handler(function() second = second + 1 end)
      warn_once()
      assert.are.same({ 0, 1 }, { first, second })
    end)

    it("runs for records logged inside a coroutine", function()
      local seen = {}
      vmutils.set_log_handler(function(r) seen[#seen + 1] = r.fields["uvm-id"] end)
      local co = coroutine.wrap(function()
        warn_once("co-1")
        coroutine.yield()
        warn_once("co-2")
      end)
      co()
      warn_once("main")
      co()
      assert.are.same({ "co-1", "main", "co-2" }, seen)
    end)

    it("may replace itself while running", function()
      local seen = {}
      vmutils.set_log_handler(function(r)
        seen[#seen + 1] = "first"
        vmutils.set_log_handler(function() seen[#seen + 1] = "second" end)
      end)
      warn_once()
      warn_once()
      assert.are.same({ "first", "second" }, seen)
    end)

    it("sends records logged by the handler itself to the output", function()
      local seen = {}
      vmutils.set_log_handler(function(r)
        seen[#seen + 1] = r.fields["uvm-id"]
        if r.fields["uvm-id"] == "outer" then warn_once("inner") end
      end)
      local text = output_of(function() warn_once("outer") end)
      assert.are.same({ "outer" }, seen)
      assert.matches("uvm%-id=inner\n$", text)
    end)

    it("survives a handler that raises: the record goes to the output", function()
      vmutils.set_log_handler(function() error("handler broke") end)
      local result
      local text = output_of(function() result = warn_once("raised") end)
      assert.are.equal(1026, result)
      assert.matches("uvm%-id=raised\n$", text)
      -- the handler stays installed and keeps being called
      local calls = 0
      vmutils.set_log_handler(function() calls = calls + 1; error({}) end)
      text = output_of(function() warn_once("again") end)
      assert.are.equal(1, calls)
      assert.matches("uvm%-id=again\n$", text)
    end)

    it("reports a handler's error on stderr as logrus reports a failing hook", function()
      local out, err = run_fresh([[
        local v = require "vmutils"
        v.set_log_format("json")
        v.set_log_handler(function() error("boom", 0) end)
        io.write(v.normalize_memory_size("x", 1), "\n")
      ]])
      assert.are.equal("2\n", out)
      assert.are.equal('Failed to fire log handler: boom\n{"assigned":2,"level":"warning","msg":"' .. MSG ..
        '","requested":1,"time":"<T>","uvm-id":"x"}\n', mask_time(err, '"time":"'))
    end)

    local bad = {
      { "a string", "print", "function expected, got string" },
      { "a number", 42, "function expected, got number" },
      { "a table", {}, "function expected, got table" },
    }
    for _, c in ipairs(bad) do
      it("rejects " .. c[1], function()
        local ok, err = pcall(vmutils.set_log_handler, c[2])
        assert.is_false(ok)
        assert.matches("bad argument #1 to '[%w_.]*set_log_handler'", err)
        assert.is_truthy(err:find(c[3], 1, true), err)
      end)
    end

    it("rejects a missing argument (nil must be explicit)", function()
      local ok, err = pcall(vmutils.set_log_handler)
      assert.is_false(ok)
      assert.matches("bad argument #1 to '[%w_.]*set_log_handler' %(value expected%)", err)
    end)
  end)
end)
