-- unmarshal_runtime_options / marshal_runtime_options: the three shapes of
-- the Any, type URLs, Go's error texts, proto3 defaults and presence, enums,
-- negative int32s, the round trip, argument errors, hostile bytes and the
-- debug record.
local vmutils = require "vmutils"
local log_capture = require "log_capture"

local OPTIONS_URL = "containerd.runhcs.v1.Options"
local WIRE_ERROR = "failed to unmarshal options: proto: cannot parse invalid wire-format data"

-- Protobuf encoding helpers for building test input (not the code under test:
-- the decoder is protobuf-c).
local function varint(n)
  local out = {}
  repeat
    local byte = n & 0x7f
    n = n >> 7 -- logical shift: negative numbers take 10 bytes
    if n ~= 0 then byte = byte | 0x80 end
    out[#out + 1] = string.char(byte)
  until n == 0
  return table.concat(out)
end
local function tag(field, wire) return varint(field << 3 | wire) end
local function vfield(field, n) return tag(field, 0) .. varint(n) end
local function bfield(field, s) return tag(field, 2) .. varint(#s) .. s end
local function any_bytes(url, value) return bfield(1, url) .. bfield(2, value) end
-- Lua names the function as it finds it ("vmutils.x" once the module is in
-- package.loaded); the contract's form is the bare name.
local function bare(err) return (tostring(err):gsub("'vmutils%.", "'")) end
local function hex(s) return (s:gsub("%s", ""):gsub("..", function(h) return string.char(tonumber(h, 16)) end)) end

local DEFAULTS = {
  debug = false,
  debug_type = "NPIPE",
  registry_root = "",
  sandbox_image = "",
  sandbox_platform = "",
  sandbox_isolation = "PROCESS",
  boot_files_root_path = "",
  vm_processor_count = 0,
  vm_memory_size_in_mb = 0,
  GPUVHDPath = "",
  scale_cpu_limits_to_sandbox = false,
  default_container_scratch_size_in_gb = 0,
  default_vm_scratch_size_in_gb = 0,
  share_scratch = false,
  NCProxyAddr = "",
  log_level = "",
  io_retry_timeout_in_sec = 0,
  default_container_annotations = {},
  no_inherit_host_timezone = false,
  -- scrub_logs: absent
}

local function with_defaults(t)
  local out = {}
  for k, v in pairs(DEFAULTS) do out[k] = v end
  for k, v in pairs(t) do out[k] = v end
  return out
end

local function assert_integers(t)
  for _, k in ipairs { "vm_processor_count", "vm_memory_size_in_mb", "io_retry_timeout_in_sec",
    "default_container_scratch_size_in_gb", "default_vm_scratch_size_in_gb" } do
    assert.are.equal("integer", math.type(t[k]), k)
  end
end

describe("unmarshal_runtime_options", function()
  it("nil gives every proto3 default and no scrub_logs", function()
    local o = assert(vmutils.unmarshal_runtime_options(nil))
    assert.are.same(DEFAULTS, o)
    assert.is_nil(o.scrub_logs)
    assert_integers(o)
  end)

  it("no argument is nil", function()
    assert.are.same(DEFAULTS, vmutils.unmarshal_runtime_options())
  end)

  local shapes = {
    { "a { type_url, value } table", function(url, value) return { type_url = url, value = value } end },
    { "the bytes of a serialized Any", any_bytes },
  }
  local urls = {
    { OPTIONS_URL, true },
    { "type.googleapis.com/" .. OPTIONS_URL, true },
    { "example.com/a/b/" .. OPTIONS_URL, true },
    { "/" .. OPTIONS_URL, true },
    { "", false },
    { "containerd.runhcs.v1.OptionsX", false },
    { OPTIONS_URL .. "/", false },
    { "Options", false },
    { "google.protobuf.Any", false },
  }
  for _, shape in ipairs(shapes) do
    for _, u in ipairs(urls) do
      it(("%s, type URL %q"):format(shape[1], u[1]), function()
        local o, err = vmutils.unmarshal_runtime_options(shape[2](u[1], vfield(1, 1)))
        if u[2] then
          assert.is_nil(err)
          assert.are.same(with_defaults { debug = true }, o)
        else
          assert.is_nil(o)
          assert.are.equal("failed to unmarshal options: type with url " .. u[1] .. ": not found", err)
        end
      end)
    end
  end

  it("the package's other message is decoded, then refused as Go does", function()
    local o, err = vmutils.unmarshal_runtime_options {
      type_url = "containerd.runhcs.v1.ProcessDetails", value = bfield(1, "img") .. vfield(7, 42) }
    assert.is_nil(o)
    assert.are.equal("failed to unmarshal runtime options: expected *runhcsoptions.Options, "
      .. "got *options.ProcessDetails", err)
  end)

  it("a table without value is an empty message", function()
    assert.are.same(DEFAULTS, vmutils.unmarshal_runtime_options { type_url = OPTIONS_URL })
  end)

  local decodes = {
    { "enums by name", vfield(2, 1) .. vfield(6, 1), { debug_type = "FILE", sandbox_isolation = "HYPERVISOR" } },
    { "ETW", vfield(2, 2), { debug_type = "ETW" } },
    { "unknown enum numbers as numbers", vfield(2, 9) .. vfield(6, -3), { debug_type = 9, sandbox_isolation = -3 } },
    { "negative int32 from 10-byte varints", vfield(8, -2) .. vfield(9, -2147483648) .. vfield(17, -1),
      { vm_processor_count = -2, vm_memory_size_in_mb = -2147483648, io_retry_timeout_in_sec = -1 } },
    { "int32 keeps the low 32 bits", vfield(8, 0x1ffffffff), { vm_processor_count = -1 } },
    { "scrub_logs false is present", vfield(20, 0), { scrub_logs = false } },
    { "scrub_logs true", vfield(20, 1), { scrub_logs = true } },
    { "every string, NULs kept", bfield(3, "HKLM\\x") .. bfield(4, "img") .. bfield(5, "linux/amd64")
      .. bfield(7, "C:\\boot") .. bfield(10, "g\0p") .. bfield(15, "addr") .. bfield(16, "debug"),
      { registry_root = "HKLM\\x", sandbox_image = "img", sandbox_platform = "linux/amd64",
        boot_files_root_path = "C:\\boot", GPUVHDPath = "g\0p", NCProxyAddr = "addr", log_level = "debug" } },
    { "bools", vfield(1, 1) .. vfield(11, 1) .. vfield(14, 1) .. vfield(19, 1),
      { debug = true, scale_cpu_limits_to_sandbox = true, share_scratch = true, no_inherit_host_timezone = true } },
    { "scratch sizes", vfield(12, 20) .. vfield(13, 10),
      { default_container_scratch_size_in_gb = 20, default_vm_scratch_size_in_gb = 10 } },
    { "annotations, last duplicate wins",
      bfield(18, bfield(1, "a") .. bfield(2, "1")) .. bfield(18, bfield(1, "b") .. bfield(2, "2"))
      .. bfield(18, bfield(1, "a") .. bfield(2, "3")) .. bfield(18, ""),
      { default_container_annotations = { a = "3", b = "2", [""] = "" } } },
    { "the last value of a field wins", vfield(2, 1) .. vfield(2, 2) .. bfield(3, "x") .. bfield(3, "y"),
      { debug_type = "ETW", registry_root = "y" } },
    { "unknown fields skipped", vfield(99, 5) .. bfield(100, "junk") .. tag(101, 5) .. "abcd"
      .. tag(102, 1) .. "abcdefgh" .. vfield(1, 1), { debug = true } },
    { "a known field with another wire type is skipped", bfield(1, "\1") .. vfield(3, 7) .. tag(8, 5) .. "\1\0\0\0",
      {} },
  }
  for _, c in ipairs(decodes) do
    it("decodes " .. c[1], function()
      local o, err = vmutils.unmarshal_runtime_options { type_url = OPTIONS_URL, value = c[2] }
      assert.is_nil(err)
      assert.are.same(with_defaults(c[3]), o)
      assert_integers(o)
    end)
  end

  local failures = {
    { "truncated bytes", vfield(1, 1):sub(1, 1), WIRE_ERROR },
    { "a string longer than the input", tag(3, 2) .. varint(10) .. "abc", WIRE_ERROR },
    { "a huge length prefix", tag(3, 2) .. varint(0xffffffff) .. "a", WIRE_ERROR },
    { "a varint of 11 bytes", tag(8, 0) .. ("\xff"):rep(10) .. "\1", WIRE_ERROR },
    { "a varint past 64 bits", tag(8, 0) .. ("\xff"):rep(9) .. "\2", WIRE_ERROR },
    { "field number 0", "\0\1", WIRE_ERROR },
    { "wire type 7", "\x0f", WIRE_ERROR },
    { "a group", tag(50, 3) .. tag(50, 4), WIRE_ERROR },
    { "deeply nested groups", tag(50, 3):rep(100000) .. tag(50, 4):rep(100000), WIRE_ERROR },
    { "invalid UTF-8 in a string", bfield(16, "\xc3\x28"),
      "failed to unmarshal options: string field contains invalid UTF-8" },
    { "invalid UTF-8 in an annotation", bfield(18, bfield(1, "k") .. bfield(2, "\xff")),
      "failed to unmarshal options: string field contains invalid UTF-8" },
  }
  for _, c in ipairs(failures) do
    it("fails cleanly on " .. c[1], function()
      local o, err = vmutils.unmarshal_runtime_options { type_url = OPTIONS_URL, value = c[2] }
      assert.is_nil(o)
      assert.are.equal(c[3], err)
    end)
  end

  local bad_any = {
    { "truncated Any bytes", any_bytes(OPTIONS_URL, ""):sub(1, 5), WIRE_ERROR },
    { "random bytes", "\xff\xff\xff\xff\xff\xff", WIRE_ERROR },
    { "an Any with invalid UTF-8 in its type URL", bfield(1, "\xff"),
      "failed to unmarshal options: string field contains invalid UTF-8" },
    { "an empty string (an Any without type URL)", "", "failed to unmarshal options: type with url : not found" },
  }
  for _, c in ipairs(bad_any) do
    it("fails cleanly on " .. c[1], function()
      local o, err = vmutils.unmarshal_runtime_options(c[2])
      assert.is_nil(o)
      assert.are.equal(c[3], err)
    end)
  end

  it("prints an unknown type URL of more than 400 characters whole, as Go does", function()
    for _, n in ipairs({ 401, 450 }) do
      local url = "example.com/" .. ("x"):rep(n - 12)
      local o, err = vmutils.unmarshal_runtime_options({ type_url = url, value = vfield(1, 1) })
      assert.is_nil(o)
      assert.are.equal("failed to unmarshal options: type with url " .. url .. ": not found", err)
    end
  end)

  it("shortens a type URL too long for an error message with \"...\", keeping the reason", function()
    local url = "example.com/" .. ("x"):rep(5000)
    local o, err = vmutils.unmarshal_runtime_options({ type_url = url, value = vfield(1, 1) })
    assert.is_nil(o)
    assert.is_truthy(err:find("^failed to unmarshal options: type with url example%.com/x+%.%.%.: not found$"))
  end)

  it("takes a 100 MB annotation map of large values", function()
    local value = ("v"):rep(10 * 1024 * 1024)
    local entries = {}
    for i = 1, 10 do entries[i] = bfield(18, bfield(1, "key" .. i) .. bfield(2, value)) end
    local bytes = table.concat(entries)
    entries = nil
    assert.is_true(#bytes > 100 * 1000 * 1000)
    local o = assert(vmutils.unmarshal_runtime_options { type_url = OPTIONS_URL, value = bytes })
    local n = 0
    for k, v in pairs(o.default_container_annotations) do
      n = n + 1
      assert.are.equal(#value, #v)
      assert.is_truthy(k:match("^key%d+$"))
    end
    assert.are.equal(10, n)
  end)

  it("refuses a 100 MB map of empty entries within its memory budget", function()
    local bytes = bfield(18, ""):rep(35 * 1000 * 1000)
    assert.is_true(#bytes > 100 * 1000 * 1000)
    local o, err = vmutils.unmarshal_runtime_options(any_bytes(OPTIONS_URL, bytes))
    assert.is_nil(o)
    assert.are.equal("failed to unmarshal options: decoding needs more than the 268435456 bytes "
      .. "of memory allowed", err)
  end)

  it("logs Go's debug record with the options as protojson", function()
    local value = vfield(1, 1) .. vfield(2, 7) .. bfield(3, "<a&b>") .. vfield(8, -1)
      .. bfield(18, bfield(1, "z") .. bfield(2, "1")) .. bfield(18, bfield(1, "a") .. bfield(2, "\n"))
      .. vfield(20, 0)
    local records, results = log_capture.capture(function()
      return vmutils.unmarshal_runtime_options { type_url = OPTIONS_URL, value = value }
    end, "debug")
    assert.is_table(results[1])
    assert.are.equal(1, #records)
    assert.are.equal("debug", records[1].level)
    assert.are.equal("parsed runtime options", records[1].msg)
    assert.are.same({ options = '{"debug":true,"debug_type":7,"registry_root":"<a&b>",'
      .. '"vm_processor_count":-1,"default_container_annotations":{"a":"\\n","z":"1"},'
      .. '"scrub_logs":false}' }, records[1].fields)
  end)

  it("logs nothing at info level, nor for nil", function()
    local records = log_capture.capture(function()
      vmutils.unmarshal_runtime_options { type_url = OPTIONS_URL, value = vfield(1, 1) }
    end, "info")
    assert.are.equal(0, #records)
    records = log_capture.capture(function() vmutils.unmarshal_runtime_options(nil) end, "debug")
    assert.are.equal(0, #records)
  end)

  local bad_args = {
    { "a number", { 5 }, "bad argument #1 to 'unmarshal_runtime_options' (nil, table or string expected, got number)" },
    { "a boolean", { true }, "bad argument #1 to 'unmarshal_runtime_options' (nil, table or string expected, got boolean)" },
    { "a table without type_url", { {} },
      "bad argument #1 to 'unmarshal_runtime_options' (field 'type_url': string expected, got nil)" },
    { "a numeric type_url", { { type_url = 1 } },
      "bad argument #1 to 'unmarshal_runtime_options' (field 'type_url': string expected, got number)" },
    { "a table value", { { type_url = OPTIONS_URL, value = {} } },
      "bad argument #1 to 'unmarshal_runtime_options' (field 'value': string expected, got table)" },
  }
  for _, c in ipairs(bad_args) do
    it("raises an argument error for " .. c[1], function()
      local ok, err = pcall(vmutils.unmarshal_runtime_options, table.unpack(c[2]))
      assert.is_false(ok)
      assert.are.equal(c[3], bare(err))
    end)
  end
end)

describe("marshal_runtime_options", function()
  local full = {
    debug = true,
    debug_type = "ETW",
    registry_root = "HKLM\\SOFTWARE",
    sandbox_image = "mcr.microsoft.com/oss/kubernetes/pause:3.9",
    sandbox_platform = "linux/amd64",
    sandbox_isolation = "HYPERVISOR",
    boot_files_root_path = "C:\\ContainerPlat\\LinuxBootFiles",
    vm_processor_count = -2147483648,
    vm_memory_size_in_mb = 2147483647,
    GPUVHDPath = "C:\\gpu\0.vhd",
    scale_cpu_limits_to_sandbox = true,
    default_container_scratch_size_in_gb = 20,
    default_vm_scratch_size_in_gb = -7,
    share_scratch = true,
    NCProxyAddr = "\u{20ac}",
    log_level = "trace",
    io_retry_timeout_in_sec = 30,
    default_container_annotations = { ["io.microsoft.virtualmachine.computetopology.processor.count"] = "4",
      [""] = "empty key", z = "" },
    no_inherit_host_timezone = true,
    scrub_logs = false,
  }

  local round_trips = {
    { "every field set", full },
    { "nothing set", {} },
    { "unknown enum numbers", { debug_type = 12, sandbox_isolation = -1 } },
    { "enum numbers that have names come back as names", { debug_type = 1 }, { debug_type = "FILE" } },
    { "scrub_logs true", { scrub_logs = true } },
    { "defaults spelled out", DEFAULTS, {} },
  }
  for _, c in ipairs(round_trips) do
    it("round-trips " .. c[1], function()
      local bytes = assert(vmutils.marshal_runtime_options(c[2]))
      assert.are.equal("string", type(bytes))
      local back = assert(vmutils.unmarshal_runtime_options(bytes))
      assert.are.same(with_defaults(c[3] or c[2]), back)
      -- and through the table form with the Any's parts
      local url_len = bytes:byte(2)
      assert.are.equal(OPTIONS_URL, bytes:sub(3, 2 + url_len))
    end)
  end

  it("writes deterministic bytes, annotations by key", function()
    local bytes = vmutils.marshal_runtime_options {
      debug = true, debug_type = "ETW", registry_root = "x\0y", vm_processor_count = -5,
      default_container_annotations = { b = "2", a = "1" }, scrub_logs = false }
    assert.are.equal(hex [[
      0a1c636f6e7461696e6572642e72756e6863732e76312e4f7074696f6e73
      1229 0801 1002 1a03780079 40fbffffffffffffffff01
      9201060a0161120131 9201060a0162120132 a00100]], bytes)
  end)

  it("writes an empty value for all defaults", function()
    assert.are.equal(any_bytes(OPTIONS_URL, ""):sub(1, 30), vmutils.marshal_runtime_options {})
  end)

  it("refuses invalid UTF-8 with Go's message", function()
    local bytes, err = vmutils.marshal_runtime_options { log_level = "\xff" }
    assert.is_nil(bytes)
    assert.are.equal("string field contains invalid UTF-8", err)
    bytes, err = vmutils.marshal_runtime_options { default_container_annotations = { ["\xc0\x80"] = "v" } }
    assert.is_nil(bytes)
    assert.are.equal("string field contains invalid UTF-8", err)
  end)

  local bad_args = {
    { "nil", nil, "table expected, got nil" },
    { "a string", "x", "table expected, got string" },
    { "an unknown option", { debugg = true }, "unknown option 'debugg'" },
    { "a non-string key", { [1] = true }, "option names must be strings, got number" },
    { "a number for a bool", { debug = 1 }, "field 'debug': boolean expected, got number" },
    { "a string for scrub_logs", { scrub_logs = "no" }, "field 'scrub_logs': boolean or nil expected, got string" },
    { "an int32 past its range", { vm_processor_count = 2147483648 },
      "field 'vm_processor_count': value 2147483648 out of range [-2147483648, 2147483647]" },
    { "a float for an int32", { vm_memory_size_in_mb = 1.5 },
      "field 'vm_memory_size_in_mb': number has no integer representation" },
    { "a non-numeric string for an int32", { io_retry_timeout_in_sec = "soon" },
      "field 'io_retry_timeout_in_sec': integer expected, got string" },
    { "an unknown enum name", { debug_type = "etw" }, "field 'debug_type': unknown value 'etw'" },
    { "another enum's name", { sandbox_isolation = "ETW" }, "field 'sandbox_isolation': unknown value 'ETW'" },
    { "an enum number past int32", { debug_type = 2 ^ 31 | 0 },
      "field 'debug_type': value 2147483648 out of range [-2147483648, 2147483647]" },
    { "a boolean enum", { debug_type = true }, "field 'debug_type': enum name or integer expected, got boolean" },
    { "a number for a string", { log_level = 5 }, "field 'log_level': string expected, got number" },
    { "annotations not a table", { default_container_annotations = "a=b" },
      "field 'default_container_annotations': table expected, got string" },
    { "an annotation with a number value", { default_container_annotations = { a = 1 } },
      "field 'default_container_annotations': string keys and string values expected, got a string key and a number value" },
    { "an annotation with a number key", { default_container_annotations = { "x" } },
      "field 'default_container_annotations': string keys and string values expected, got a number key and a string value" },
  }
  for _, c in ipairs(bad_args) do
    it("raises an argument error for " .. c[1], function()
      local ok, err = pcall(vmutils.marshal_runtime_options, c[2])
      assert.is_false(ok)
      assert.are.equal("bad argument #1 to 'marshal_runtime_options' (" .. c[3] .. ")", bare(err))
    end)
  end
end)
