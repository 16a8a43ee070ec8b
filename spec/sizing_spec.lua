-- Sizing rules and LCOW defaults: hcsshim's normalize_test.go and
-- lcow_test.go cases, the warnings they log, and bad arguments.
local vmutils = require "vmutils"
local capture = require("log_capture").capture
local support = require "support"
local raises, row_arguments = support.raises, support.row_arguments
local sh, quote = support.shell, support.quote

local function absolute_build_dir()
  local build = os.getenv("VMUTILS_BUILD") or "build"
  if build:sub(1, 1) == "/" then return build end
  return (sh("pwd"):gsub("\n$", "")) .. "/" .. build
end

-- Runs `interpreter` (from `cwd`, with `env` prefixed) printing the boot
-- files path as the module in the build tree computes it.
local function boot_files_path_of(interpreter, cwd, env)
  local code = "package.cpath=" .. string.format("%q", absolute_build_dir() .. "/?.so;")
    .. "..package.cpath; io.write(require('vmutils').default_lcow_os_boot_files_path())"
  local output, status = sh("cd " .. quote(cwd) .. " && " .. (env or "") .. " "
    .. interpreter .. " -e " .. quote(code))
  assert.are.equal(0, status, output)
  return output
end

describe("normalize_memory_size", function()
  local cases = {
    -- hcsshim's cases (its max uint64 - 1 case is past the Lua range: the C tests have it)
    { "zero memory", 0, 0 },
    { "already aligned to 2", 2, 2 },
    { "odd number rounds up", 1, 2 },
    { "even number stays same", 4, 4 },
    { "large odd number rounds up", 1023, 1024 },
    { "large even number stays same", 1024, 1024 },
    { "very large odd number", 65535, 65536 },
    { "very large even number", 65536, 65536 },
    -- beyond
    { "largest even Lua integer stays", math.maxinteger - 1, math.maxinteger - 1 },
    { "largest odd value below it rounds up", math.maxinteger - 2, math.maxinteger - 1 },
    { "an integral float is accepted", 3.0, 4 },
  }
  for _, c in ipairs(cases) do
    it(c[1], function()
      local records, results = capture(function()
        return vmutils.normalize_memory_size("test-uvm-id", c[2])
      end)
      assert.are.equal(1, results.n)
      assert.are.equal(c[3], results[1])
      assert.are.equal("integer", math.type(results[1]))
      if c[2] == c[3] then
        assert.are.equal(0, #records)
      else
        assert.are.equal(1, #records)
        assert.are.equal("warning", records[1].level)
        assert.are.equal("Changing user requested MemorySizeInMB to align to 2MB", records[1].msg)
        assert.are.same({ ["uvm-id"] = "test-uvm-id", requested = math.tointeger(c[2]),
          assigned = c[3] }, records[1].fields)
      end
    end)
  end

  it("is silent below the warning level", function()
    local records, results = capture(function()
      return vmutils.normalize_memory_size("x", 7)
    end, "error")
    assert.are.equal(8, results[1])
    assert.are.equal(0, #records)
  end)

  it("keeps every byte of the uvm id", function()
    local records = capture(function() return vmutils.normalize_memory_size("a\0b", 1) end)
    assert.are.equal("a\0b", records[1].fields["uvm-id"])
  end)

  local bad = {
    { "a missing uvm id", "bad argument #1 to 'normalize_memory_size' (string expected, got no value)" },
    { "a table uvm id", "bad argument #1 to 'normalize_memory_size' (string expected, got table)", {}, 1 },
    { "a missing size", "bad argument #2 to 'normalize_memory_size'", "id" },
    { "a string size", "bad argument #2 to 'normalize_memory_size' (integer expected, got string)", "id", "x" },
    { "a fractional size", "bad argument #2 to 'normalize_memory_size' (number has no integer representation)", "id", 1.5 },
    { "a negative size", "bad argument #2 to 'normalize_memory_size' (value -1 out of range [0, 9223372036854775807])", "id", -1 },
    { "the smallest integer", "bad argument #2 to 'normalize_memory_size' (value " .. math.mininteger .. " out of range", "id", math.mininteger },
    { "2^63 as a float", "bad argument #2 to 'normalize_memory_size' (number has no integer representation)", "id", 2.0 ^ 63 },
    { "infinity", "bad argument #2 to 'normalize_memory_size' (number has no integer representation)", "id", math.huge },
    { "NaN", "bad argument #2 to 'normalize_memory_size' (number has no integer representation)", "id", 0 / 0 },
    { "2^63-1, whose even successor is no Lua integer", "bad argument #2 to 'normalize_memory_size' (value 9223372036854775807 rounds up past the integer range)", "id", math.maxinteger },
  }
  for _, c in ipairs(bad) do
    it("rejects " .. c[1], function()
      local records = capture(function()
        raises(c[2], "normalize_memory_size", row_arguments(c))
      end)
      assert.are.equal(0, #records)
    end)
  end
end)

describe("normalize_processor_count", function()
  local cases = {
    -- hcsshim's cases
    { "zero requested", 0, 8, 0 },
    { "requested less than host count", 4, 8, 4 },
    { "requested equals host count", 8, 8, 8 },
    { "requested exceeds host count", 16, 8, 8 },
    { "requested is 1 with single processor host", 1, 1, 1 },
    { "requested is 2 with single processor host", 2, 1, 1 },
    { "large requested exceeds large host count", 256, 128, 128 },
    { "negative requested returns negative", -1, 8, -1 },
    -- beyond: Go reads the uint32 host count as an int32
    { "host count 2^32-1 becomes -1", 4, 4294967295, -1 },
    { "host count 2^31 becomes the smallest int32", 0, 2147483648, -2147483648 },
    { "smallest int32 request stays", -2147483648, 0, -2147483648 },
    { "largest int32 request on a huge host stays", 2147483647, 2147483647, 2147483647 },
  }
  for _, c in ipairs(cases) do
    it(c[1], function()
      local records, results = capture(function()
        return vmutils.normalize_processor_count("test-uvm-id", c[2], { LogicalProcessorCount = c[3] })
      end)
      assert.are.equal(1, results.n)
      assert.are.equal(c[4], results[1])
      assert.are.equal("integer", math.type(results[1]))
      if c[2] == c[4] then
        assert.are.equal(0, #records)
      else
        assert.are.equal(1, #records)
        assert.are.equal("warning", records[1].level)
        assert.are.equal("Changing user requested CPUCount to current number of processors",
          records[1].msg)
        assert.are.same({ ["uvm-id"] = "test-uvm-id", requested = c[2], assigned = c[4] },
          records[1].fields)
      end
    end)
  end

  it("takes a missing LogicalProcessorCount as Go's zero", function()
    local records, results = capture(function()
      return vmutils.normalize_processor_count("u", 2, {})
    end)
    assert.are.equal(0, results[1])
    assert.are.same({ ["uvm-id"] = "u", requested = 2, assigned = 0 }, records[1].fields)
  end)

  local bad = {
    { "a missing uvm id", "bad argument #1 to 'normalize_processor_count' (string expected, got no value)" },
    { "a missing count", "bad argument #2 to 'normalize_processor_count'", "id" },
    { "a fractional count", "bad argument #2 to 'normalize_processor_count' (number has no integer representation)", "id", 0.5, {} },
    { "a count past int32", "bad argument #2 to 'normalize_processor_count' (value 2147483648 out of range [-2147483648, 2147483647])", "id", 2147483648, {} },
    { "a count below int32", "bad argument #2 to 'normalize_processor_count' (value -2147483649 out of range", "id", -2147483649, {} },
    { "a missing topology", "bad argument #3 to 'normalize_processor_count' (table expected, got no value)", "id", 1 },
    { "a number as topology", "bad argument #3 to 'normalize_processor_count' (table expected, got number)", "id", 1, 8 },
    { "a negative host count", "bad argument #3 to 'normalize_processor_count' (LogicalProcessorCount: value -1 out of range [0, 4294967295])", "id", 1, { LogicalProcessorCount = -1 } },
    { "a host count past uint32", "bad argument #3 to 'normalize_processor_count' (LogicalProcessorCount: value 4294967296 out of range [0, 4294967295])", "id", 1, { LogicalProcessorCount = 4294967296 } },
    { "a fractional host count", "bad argument #3 to 'normalize_processor_count' (LogicalProcessorCount: number has no integer representation)", "id", 1, { LogicalProcessorCount = 2.5 } },
    { "a string host count", "bad argument #3 to 'normalize_processor_count' (LogicalProcessorCount: integer expected, got string)", "id", 1, { LogicalProcessorCount = "eight" } },
  }
  for _, c in ipairs(bad) do
    it("rejects " .. c[1], function()
      local records = capture(function()
        raises(c[2], "normalize_processor_count", row_arguments(c))
      end)
      assert.are.equal(0, #records)
    end)
  end
end)

describe("default_processor_count_for_uvm", function()
  it("is 1 for one allowed processor, else 2", function()
    -- nproc counts the CPUs this process may run on, as sched_getaffinity does
    local allowed = math.tointeger(tonumber((sh("nproc"))))
    assert.is_not_nil(allowed)
    assert.are.equal(allowed == 1 and 1 or 2, vmutils.default_processor_count_for_uvm())
  end)

  it("ignores arguments", function()
    local n = vmutils.default_processor_count_for_uvm()
    assert.are.equal(n, vmutils.default_processor_count_for_uvm("extra"))
  end)
end)

describe("linux_log_forwarder_command", function()
  local cases = {
    { "default mode omits the reconnect flag", false, "/bin/vsockexec -e 109" },
    { "reconnect mode adds the -r flag", true, "/bin/vsockexec -r -e 109" },
    { "nil means no reconnect", nil, "/bin/vsockexec -e 109" },
  }
  for _, c in ipairs(cases) do
    it(c[1], function()
      assert.are.equal(c[3], vmutils.linux_log_forwarder_command(c[2]))
    end)
  end
  it("works without an argument", function()
    assert.are.equal("/bin/vsockexec -e 109", vmutils.linux_log_forwarder_command())
  end)
  for _, v in ipairs({ 1, "true", {} }) do
    it("rejects a " .. type(v) .. " flag", function()
      raises("bad argument #1 to 'linux_log_forwarder_command' (boolean expected, got " .. type(v),
        "linux_log_forwarder_command", v)
    end)
  end
end)

describe("default_lcow_os_boot_files_path", function()
  -- A private copy of the Lua interpreter, so that the directory beside
  -- "the running executable" is one the spec controls.
  local tmp, bin, boot_files, interpreter

  setup(function()
    tmp = (sh("realpath \"$(mktemp -d)\""):gsub("\n$", ""))
    bin = tmp .. "/bin"
    boot_files = bin .. "/LinuxBootFiles"
    interpreter = bin .. "/lua5.4"
    local output, status = sh("mkdir -p " .. quote(bin) .. " " .. quote(tmp .. "/elsewhere")
      .. " && cp \"$(command -v lua5.4)\" " .. quote(interpreter)
      .. " && ln -s " .. quote(interpreter) .. " " .. quote(tmp .. "/elsewhere/lua"))
    assert.are.equal(0, status, output)
  end)

  teardown(function()
    if tmp then sh("rm -rf " .. quote(tmp)) end
  end)

  local function with_boot_files(kind, fn)
    local make = kind == "file" and "touch " or "mkdir "
    assert.are.equal(0, select(2, sh(make .. quote(boot_files))))
    local ok, err = pcall(fn)
    sh("rm -rf " .. quote(boot_files))
    if not ok then error(err, 0) end
  end

  it("returns LinuxBootFiles beside the executable when it exists", function()
    with_boot_files("dir", function()
      assert.are.equal(boot_files, boot_files_path_of(quote(interpreter), "/", "ProgramFiles=/pf"))
    end)
  end)

  it("finds the executable through the OS, not a relative argv[0]", function()
    with_boot_files("dir", function()
      assert.are.equal(boot_files, boot_files_path_of("./bin/lua5.4", tmp))
      assert.are.equal(boot_files, boot_files_path_of("../bin/lua5.4", tmp .. "/elsewhere"))
    end)
  end)

  it("follows a symbolic link to the executable's real directory", function()
    with_boot_files("dir", function()
      assert.are.equal(boot_files, boot_files_path_of(quote(tmp .. "/elsewhere/lua"), "/"))
    end)
  end)

  it("accepts any file named LinuxBootFiles, as Go's os.Stat does", function()
    with_boot_files("file", function()
      assert.are.equal(boot_files, boot_files_path_of(quote(interpreter), "/"))
    end)
  end)

  local fallbacks = {
    { "returns ProgramFiles Linux Containers when LinuxBootFiles does not exist",
      "ProgramFiles=/pf", "/pf/Linux Containers" },
    { "joins and cleans ProgramFiles as filepath.Join", "ProgramFiles='/x/../pf/'",
      "/pf/Linux Containers" },
    { "uses the documented directory when ProgramFiles is unset", "env -u ProgramFiles",
      "/opt/Linux Containers" },
    { "uses the documented directory when ProgramFiles is empty", "ProgramFiles=",
      "/opt/Linux Containers" },
  }
  for _, c in ipairs(fallbacks) do
    it(c[1], function()
      assert.are.equal(c[3], boot_files_path_of(quote(interpreter), "/", c[2]))
    end)
  end

  it("is absolute and ends in LinuxBootFiles or Linux Containers", function()
    local path = boot_files_path_of("lua5.4", "/", "env -u ProgramFiles")
    assert.are.equal("/", path:sub(1, 1))
    local base = path:match("[^/]+$")
    assert.is_true(base == "LinuxBootFiles" or base == "Linux Containers")
    path = vmutils.default_lcow_os_boot_files_path()
    assert.are.equal("string", type(path))
    base = path:match("[^/]+$")
    assert.is_true(base == "LinuxBootFiles" or base == "Linux Containers")
  end)
end)
