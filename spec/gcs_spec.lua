-- The GCS log pipeline from Lua: hcsshim's gcs_logs_test.go cases,
-- decode_gcs_log_entry's results and errors, parse_gcs_logrus over strings,
-- files and chunk functions (including failing ones), gcs_log_decoder in
-- any chunking, resync, levels, and bad arguments.
local vmutils = require "vmutils"
local capture = require("log_capture").capture

local T = '"time":"2024-01-15T10:30:00Z"'

-- Records of a handler run over `source`, with its { entries, bytes }.
local function run(source, opts, vm_id, level)
  local handler = vmutils.parse_gcs_logrus(vm_id or "test-vm", opts)
  local records, results = capture(function() return handler(source) end, level or "trace")
  return records, results[1]
end

local function msgs(records)
  local out = {}
  for i, r in ipairs(records) do out[i] = r.msg end
  return out
end

-- A record without its host time, which differs from run to run.
local function strip(record)
  return { level = record.level, msg = record.msg, fields = record.fields }
end

local function strip_all(records)
  local out = {}
  for i, r in ipairs(records) do out[i] = strip(r) end
  return out
end

local function tmpfile_with(text)
  local f = assert(io.tmpfile())
  f:write(text)
  f:seek("set", 0)
  return f
end

describe("decode_gcs_log_entry", function()
  -- hcsshim's TestGCSLogEntry_UnmarshalJSON
  local cases = {
    { name = "basic log entry", input = '{' .. T .. ',"level":"info","msg":"test message"}',
      level = "info", msg = "test message" },
    { name = "debug level stays debug", input = '{' .. T .. ',"level":"debug","msg":"debug message"}',
      level = "debug", msg = "debug message" },
    { name = "error level stays error", input = '{' .. T .. ',"level":"error","msg":"error message"}',
      level = "error", msg = "error message" },
    { name = "fatal level clamped to error", input = '{' .. T .. ',"level":"fatal","msg":"fatal message"}',
      level = "error", msg = "fatal message" },
    { name = "panic level clamped to error", input = '{' .. T .. ',"level":"panic","msg":"panic message"}',
      level = "error", msg = "panic message" },
    { name = "missing level defaults to info", input = '{' .. T .. ',"msg":"message without level"}',
      level = "info", msg = "message without level" },
    { name = "ETW source with message field",
      input = '{' .. T .. ',"level":"info","msg":"","Source":"ETW","message":"etw message"}',
      level = "info", msg = "etw message", fields = { Source = "ETW" } },
    { name = "ETW source with Message field (capitalized)",
      input = '{' .. T .. ',"level":"info","msg":"","Source":"ETW","Message":"ETW capitalized message"}',
      level = "info", msg = "ETW capitalized message", fields = { Source = "ETW" } },
    { name = "custom fields preserved",
      input = '{' .. T .. ',"level":"info","msg":"test","customField":"customValue","numericField":42}',
      level = "info", msg = "test", fields = { customField = "customValue", numericField = 42 } },
    { name = "floating point whole number normalized to int64",
      input = '{' .. T .. ',"level":"info","msg":"test","count":100.0}',
      level = "info", msg = "test", fields = { count = 100 }, integers = { "count" } },
    { name = "floating point with decimal preserved",
      input = '{' .. T .. ',"level":"info","msg":"test","ratio":3.14}',
      level = "info", msg = "test", fields = { ratio = 3.14 } },
    { name = "invalid json", input = '{invalid json',
      err = "invalid character 'i' looking for beginning of object key string" },
  }
  for _, c in ipairs(cases) do
    it(c.name, function()
      local entry, err = vmutils.decode_gcs_log_entry(c.input)
      if c.err then
        assert.is_nil(entry)
        assert.are.equal(c.err, err)
        return
      end
      assert.is_nil(err)
      assert.are.equal(c.level, entry.level)
      assert.are.equal(c.msg, entry.msg)
      assert.are.equal("2024-01-15T10:30:00Z", entry.time)
      assert.are.same(c.fields or {}, entry.fields)
      for _, key in ipairs(c.integers or {}) do
        assert.are.equal("integer", math.type(entry.fields[key]))
      end
    end)
  end

  it("reads the time (TestGCSLogEntry_UnmarshalJSON_Time)", function()
    local entry = vmutils.decode_gcs_log_entry('{"time":"2024-01-15T10:30:00.25+01:00","msg":"t"}')
    assert.are.equal("2024-01-15T10:30:00.25+01:00", entry.time)
    assert.are.equal("0001-01-01T00:00:00Z", vmutils.decode_gcs_log_entry('{"msg":"no time"}').time)
  end)

  it("reads a warning level (TestGCSLogEntryStandard)", function()
    local entry = vmutils.decode_gcs_log_entry('{' .. T .. ',"level":"warning","msg":"warning message"}')
    assert.are.equal("warning", entry.level)
    assert.are.equal("warning message", entry.msg)
  end)

  local shapes = {
    { "null is an empty entry", "null", { level = "info", msg = "", fields = {} } },
    { "keys match in any case, the last wins", '{"MSG":"a","Msg":"b","LEVEL":"WARN"}',
      { level = "warning", msg = "b", fields = { MSG = "a", Msg = "b", LEVEL = "WARN" } } },
    { "repeated keys keep the last value", '{"a":1,"a":"two"}', { level = "info", msg = "", fields = { a = "two" } } },
    { "nested values", '{"o":{"x":[1,2.5,true,null],"y":{}}}',
      { level = "info", msg = "", fields = { o = { x = { 1, 2.5, true, vmutils.null }, y = {} } } } },
    { "lone surrogates and bad bytes become U+FFFD", '{"s":"\\ud800x\255"}',
      { level = "info", msg = "", fields = { s = "\u{FFFD}x\u{FFFD}" } } },
  }
  for _, s in ipairs(shapes) do
    it(s[1], function()
      local entry = assert(vmutils.decode_gcs_log_entry(s[2]))
      assert.are.same(s[3], { level = entry.level, msg = entry.msg, fields = entry.fields })
    end)
  end

  it("keeps whole floats at the top level as integers only", function()
    local entry = vmutils.decode_gcs_log_entry('{"a":2.0,"b":{"c":2.0},"d":1e19,"e":9007199254740993}')
    assert.are.equal("integer", math.type(entry.fields.a))
    assert.are.equal("float", math.type(entry.fields.b.c))
    assert.are.equal("float", math.type(entry.fields.d))
    assert.are.equal(9007199254740992, entry.fields.e)
  end)

  local errors = {
    { "", "unexpected end of JSON input" },
    { '{"a":1} x', "invalid character 'x' after top-level value" },
    { "123", "json: cannot unmarshal number into Go value of type main.standard" },
    { "[1]", "json: cannot unmarshal array into Go value of type main.standard" },
    { '{"level":"loud"}', 'not a valid logrus Level: "loud"' },
    { '{"msg":5}', "json: cannot unmarshal number into Go struct field standard.msg of type string" },
    { '{"x":1e400}', "json: cannot unmarshal number 1e400 into Go value of type float64" },
    { '{"time":"2024-13-01T00:00:00Z"}', 'parsing time "\\"2024-13-01T00:00:00Z\\"": month out of range' },
  }
  for _, e in ipairs(errors) do
    it("fails on " .. e[1], function()
      local entry, err = vmutils.decode_gcs_log_entry(e[1])
      assert.is_nil(entry)
      assert.are.equal(e[2], err)
    end)
  end

  it("rejects a missing argument", function()
    assert.has_error(function() vmutils.decode_gcs_log_entry() end,
      "bad argument #1 to 'decode_gcs_log_entry' (string expected, got no value)")
    assert.has_error(function() vmutils.decode_gcs_log_entry({}) end,
      "bad argument #1 to 'decode_gcs_log_entry' (string expected, got table)")
  end)
end)

describe("parse_gcs_logrus", function()
  -- hcsshim's TestParseGCSLogrus
  local cases = {
    { name = "single log entry", vm = "test-vm-1",
      input = '{' .. T .. ',"level":"info","msg":"test message"}\n', count = 1,
      check = function(r)
        assert.are.equal("test message", r[1].msg)
        assert.are.equal("test-vm-1", r[1].fields["uvm-id"])
      end },
    { name = "multiple log entries", vm = "test-vm-2",
      input = '{' .. T .. ',"level":"info","msg":"first"}\n{"time":"2024-01-15T10:30:01Z","level":"warning","msg":"second"}\n',
      count = 2, check = function(r) assert.are.same({ "first", "second" }, msgs(r)) end },
    { name = "empty input", vm = "test-vm-3", input = "", count = 0 },
    { name = "entry with custom fields", vm = "test-vm-4",
      input = '{' .. T .. ',"level":"info","msg":"test","customKey":"customValue"}\n', count = 1,
      check = function(r) assert.are.equal("customValue", r[1].fields.customKey) end },
  }
  for _, c in ipairs(cases) do
    it(c.name, function()
      local records, stats = run(c.input, nil, c.vm)
      assert.are.equal(c.count, #records)
      assert.are.same({ entries = c.count, bytes = #c.input }, stats)
      if c.check then c.check(records) end
    end)
  end

  it("survives invalid JSON (TestParseGCSLogrus_InvalidJSON)", function()
    local records = run('{"invalid json')
    assert.are.same({ "gcs log read", "gcs terminated" }, msgs(records))
    assert.are.equal("unexpected EOF", records[1].fields.error)
    assert.are.equal('{"invalid json', records[2].fields.stderr)
  end)

  it("logs what follows the last entry (TestParseGCSLogrus_TrailingContent)", function()
    local records = run('{' .. T .. ',"level":"info","msg":"last message"}\n'
      .. "panic: something went wrong\ngoroutine 1 [running]:\nmain.main()\n\t/app/main.go:10 +0x45")
    assert.are.same({ "last message", "gcs terminated" }, msgs(records))
    assert.are.equal("error", records[2].level)
    assert.are.equal("test-vm", records[2].fields["uvm-id"])
    assert.truthy(records[2].fields.stderr:find("panic: something went wrong", 1, true))
  end)

  it("adds vm.time (TestParseGCSLogrus_VMTimeField)", function()
    local records = run('{' .. T .. ',"level":"info","msg":"test"}\n')
    assert.are.equal(1, #records)
    assert.are.equal("2024-01-15T10:30:00Z", records[1].fields["vm.time"])
  end)

  it("returns a handler (TestOutputHandlerCreator_Interface)", function()
    assert.are.equal("function", type(vmutils.parse_gcs_logrus("test-vm")))
  end)

  it("reads a file, a string and a chunk function alike", function()
    local text = '{"msg":"a"}\n{"msg":"b","n":2.0}\n{"msg":"c",'
    local from_string = strip_all((run(text)))
    local f = tmpfile_with(text)
    local from_file, file_stats = run(f)
    f:close()
    local pos = 0
    local from_chunks = run(function()
      if pos >= #text then return nil end
      pos = pos + 3
      return text:sub(pos - 2, pos)
    end)
    assert.are.same(from_string, strip_all(from_file))
    assert.are.same(from_string, strip_all(from_chunks))
    assert.are.same({ entries = 2, bytes = #text }, file_stats)
    assert.are.same({ "a", "b", "gcs log read", "gcs terminated" }, msgs(from_chunks))
  end)

  it("logs a failing chunk function as a read error", function()
    local calls = 0
    local records, stats = run(function()
      calls = calls + 1
      if calls == 1 then return '{"msg":"a"}\n{"msg":"cut' end
      return nil, "read vsock: connection timed out"
    end)
    assert.are.equal(2, calls) -- not called again after the error
    assert.are.same({ "a", "gcs log read", "gcs terminated" }, msgs(records))
    assert.are.equal("read vsock: connection timed out", records[2].fields.error)
    assert.are.equal('{"msg":"cut', records[3].fields.stderr)
    assert.are.same({ entries = 1, bytes = #'{"msg":"a"}\n{"msg":"cut' }, stats)
  end)

  it("passes errors raised by the source on", function()
    local handler = vmutils.parse_gcs_logrus("vm")
    assert.has_error(function() handler(function() error("source broke", 0) end) end, "source broke")
    assert.has_error(function() handler(function() return 42 end) end,
      "the source function returned a number (a string or nil expected)")
  end)

  it("stops at a bad entry, as Go does", function()
    local records = run('{"msg":"a"}\n{"level":"loud"}\n{"msg":"b"}\n')
    assert.are.same({ "a", "gcs log read", "gcs terminated" }, msgs(records))
    assert.are.equal('not a valid logrus Level: "loud"', records[2].fields.error)
    assert.are.equal('{"msg":"b"}', records[3].fields.stderr)
  end)

  it("goes on after a bad entry with resync", function()
    local records = run('{"msg":"a"}\n{"level":"loud"}\nnot json\n{"msg":"b"}\n', { resync = true })
    assert.are.same({ "a", "gcs log read", "gcs output", "b" }, msgs(records))
    assert.are.equal('{"level":"loud"}', records[2].fields.entry)
    assert.are.equal("not json", records[3].fields.stderr)
  end)

  it("reports an entry over max_entry_bytes", function()
    local big = '{"msg":"' .. string.rep("x", 200) .. '"}'
    local records = run(big .. '\n{"msg":"small"}\n', { max_entry_bytes = 100 })
    assert.are.same({ "gcs log read", "small" }, msgs(records))
    assert.are.equal(#big, records[1].fields.size)
    assert.are.equal(big, records[1].fields.entry)
  end)

  it("filters by the host level", function()
    local records, stats = run('{"msg":"i","level":"debug"}{"msg":"w","level":"warn"}', nil, nil, "warning")
    assert.are.same({ "w" }, msgs(records))
    assert.are.equal(2, stats.entries)
  end)

  it("writes to the log output in the chosen format", function()
    local out = assert(io.tmpfile())
    vmutils.set_log_output(out)
    vmutils.set_log_format("json")
    vmutils.parse_gcs_logrus("vm-out")('{"msg":"to file","level":"error"}')
    vmutils.set_log_output(io.stderr)
    vmutils.set_log_format("text")
    out:seek("set", 0)
    local line = out:read("a")
    out:close()
    assert.truthy(line:match('^{"level":"error","msg":"to file","time":"[^"]+","uvm%-id":"vm%-out","vm%.time":"0001%-01%-01T00:00:00Z"}\n$'))
  end)

  local bad = {
    { function() vmutils.parse_gcs_logrus() end, "bad argument #1 to 'parse_gcs_logrus' (string expected, got no value)" },
    { function() vmutils.parse_gcs_logrus("vm", 5) end, "bad argument #2 to 'parse_gcs_logrus' (table expected, got number)" },
    { function() vmutils.parse_gcs_logrus("vm", { resync = "yes" }) end,
      "bad argument #2 to 'parse_gcs_logrus' (resync: boolean expected, got string)" },
    { function() vmutils.parse_gcs_logrus("vm", { max_entry_bytes = 1.5 }) end,
      "bad argument #2 to 'parse_gcs_logrus' (max_entry_bytes: number has no integer representation)" },
    { function() vmutils.parse_gcs_logrus("vm", { max_entry_bytes = -1 }) end,
      "bad argument #2 to 'parse_gcs_logrus' (max_entry_bytes: value -1 out of range [1, 1073741824])" },
  }
  for i, b in ipairs(bad) do
    it("rejects bad arguments " .. i, function() assert.has_error(b[1], b[2]) end)
  end

  it("rejects a source of the wrong type or a closed file", function()
    local handler = vmutils.parse_gcs_logrus("vm")
    local ok, err = pcall(handler, 42)
    assert.is_false(ok)
    assert.truthy(err:find("file, string or function expected, got number", 1, true))
    local f = io.tmpfile()
    f:close()
    ok, err = pcall(handler, f)
    assert.is_false(ok)
    assert.truthy(err:find("attempt to use a closed file", 1, true))
  end)
end)

describe("gcs_log_decoder", function()
  local stream = '{"msg":"a","level":"warn"}\n{"msg":"b","t":[1,{"x":null}]}  {"level":"bogus"}\n'
    .. 'panic: x\n{"msg":"c"}\n{"msg":"cut'

  -- Feeds text in pieces of `size` (0: whole) and returns all the records.
  local function decode(text, size, opts)
    local d = vmutils.gcs_log_decoder("test-vm", opts)
    local out = {}
    local function add(records) for _, r in ipairs(records) do out[#out + 1] = strip(r) end end
    local step = size == 0 and #text or size
    for i = 1, #text, step do add(d:feed(text:sub(i, i + step - 1))) end
    add(d:finish())
    return out
  end

  it("returns the records the handler would log", function()
    local saved = vmutils.get_log_level()
    vmutils.set_log_level("trace")
    for _, resync in ipairs({ false, true }) do
      local handler_records = strip_all((run(stream, { resync = resync })))
      assert.are.same(handler_records, decode(stream, 0, { resync = resync }))
    end
    vmutils.set_log_level(saved)
  end)

  it("gives the same records in any chunking", function()
    local saved = vmutils.get_log_level()
    vmutils.set_log_level("trace")
    for _, resync in ipairs({ false, true }) do
      local whole = decode(stream, 0, { resync = resync })
      assert.is_true(#whole >= 4)
      for _, size in ipairs({ 1, 2, 5, 17 }) do
        assert.are.same(whole, decode(stream, size, { resync = resync }))
      end
    end
    vmutils.set_log_level(saved)
  end)

  it("decodes entries far longer than a read with max_entry_bytes = 2^30, in any chunking", function()
    local saved = vmutils.get_log_level()
    vmutils.set_log_level("trace")
    local long = ("ab\\u00e9"):rep(100000) -- 800 KB of escaped text
    local text = '{"msg":"' .. long .. '","n":0.' .. ("0"):rep(200000) .. '1,"a":[' .. ("0,"):rep(100000)
      .. '0]}\n{"msg":"next"}\n'
    local opts = { max_entry_bytes = 2 ^ 30 // 1 }
    local whole = decode(text, 0, opts)
    assert.are.equal(2, #whole)
    assert.are.equal(("ab\u{e9}"):rep(100000), whole[1].msg)
    assert.are.equal(0, whole[1].fields.n)
    assert.are.equal(100001, #whole[1].fields.a)
    assert.are.equal("next", whole[2].msg)
    for _, size in ipairs({ 65536 + 1, 300007 }) do
      assert.are.same(whole, decode(text, size, opts))
    end
    vmutils.set_log_level(saved)
  end)

  it("applies the state's level", function()
    local saved = vmutils.get_log_level()
    vmutils.set_log_level("error")
    local records = decode('{"msg":"i"}{"msg":"e","level":"error"}', 0)
    vmutils.set_log_level(saved)
    assert.are.same({ "e" }, msgs(records))
  end)

  it("is done after finish", function()
    local d = vmutils.gcs_log_decoder("vm")
    assert.are.same({}, d:feed(""))
    assert.are.same({}, d:finish())
    assert.has_error(function() d:feed("{}") end, "calling 'feed' on bad self (the decoder is finished)")
    assert.has_error(function() d:finish() end, "calling 'finish' on bad self (the decoder is finished)")
    assert.truthy(tostring(d):find("finished", 1, true))
  end)

  it("rejects bad arguments", function()
    local d = vmutils.gcs_log_decoder("vm")
    assert.has_error(function() d:feed() end, "bad argument #1 to 'feed' (string expected, got no value)")
    assert.has_error(function() d.feed({}, "x") end, "bad argument #1 to 'feed' (vmutils.gcs_decoder expected, got table)")
    assert.has_error(function() vmutils.gcs_log_decoder("vm", { max_entry_bytes = 0 }) end,
      "bad argument #2 to 'gcs_log_decoder' (max_entry_bytes: value 0 out of range [1, 1073741824])")
  end)
end)
