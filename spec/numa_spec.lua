-- vNUMA: hcsshim's numa_test.go cases for validate, ValidateNumaForVM and
-- PrepareVNumaTopology, in the Lua shapes of the contract, with the
-- warnings and debug records they log and every kind of bad argument.
local vmutils = require "vmutils"
local cjson = require "cjson"
local capture = require("log_capture").capture
local support = require "support"
local raises, row_arguments = support.raises, support.row_arguments

local WILDCARD = 0xFF

local function setting(v, p, s, cpus, mem)
  return { VirtualNodeNumber = v, PhysicalNodeNumber = p, VirtualSocketNumber = s,
    CountOfProcessors = cpus, CountOfMemoryBlocks = mem, MemoryBackingType = "Physical" }
end

local function expect_failure(expected, ...)
  local results = table.pack(...)
  assert.are.equal(2, results.n)
  assert.is_nil(results[1])
  assert.are.equal(expected, results[2])
end

local function list(n, value)
  local items = {}
  for i = 1, n do items[i] = type(value) == "function" and value(i) or value end
  return items
end

describe("validate_numa", function()
  local cases = {
    -- hcsshim's TestValidate
    { "empty settings is valid", { Settings = {} } },
    { "nil settings is valid", {} },
    { "valid single node topology", { VirtualNodeCount = 1, Settings = { setting(0, 0, 0, 4, 1024) } } },
    { "valid multi-node topology", { VirtualNodeCount = 2,
      Settings = { setting(0, 0, 0, 4, 1024), setting(1, 1, 1, 4, 1024) } } },
    { "valid wildcard physical nodes", { VirtualNodeCount = 2,
      Settings = { setting(0, WILDCARD, 0, 4, 1024), setting(1, WILDCARD, 1, 4, 1024) } } },
    { "virtual node number exceeds max", { Settings = { setting(65, 0, 0, 4, 1024) } },
      "vNUMA virtual node number 65 exceeds maximum allowed value 64" },
    { "physical node number exceeds max (non-wildcard)", { Settings = { setting(0, 64, 0, 4, 1024) } },
      "vNUMA physical node number 64 exceeds maximum allowed value 64" },
    { "mixed wildcard and non-wildcard physical nodes",
      { Settings = { setting(0, WILDCARD, 0, 4, 1024), setting(1, 1, 1, 4, 1024) } },
      "vNUMA has a mix of wildcard (255) and non-wildcard (1) physical node numbers" },
    { "node with zero memory blocks", { Settings = { setting(0, 0, 0, 4, 0) } },
      "vNUMA nodes with no memory are not allowed" },
    { "duplicate virtual node numbers",
      { Settings = { setting(0, 0, 0, 4, 1024), setting(0, 1, 1, 4, 1024) } },
      "vNUMA virtual node number 0 is duplicated" },
    { "partial resource allocation - memory only", { Settings = { setting(0, 0, 0, 0, 1024) } },
      "partial resource allocation is not allowed" },
    { "completely empty topology with wildcard",
      { Settings = { setting(0, WILDCARD, 0, 0, 0), setting(1, WILDCARD, 1, 0, 0) } },
      "vNUMA nodes with no memory are not allowed" },
    { "valid - shared virtual socket number",
      { Settings = { setting(0, 0, 0, 4, 1024), setting(1, 1, 0, 4, 1024) } } },
    { "physical node at boundary (63)", { Settings = { setting(0, 63, 0, 4, 1024) } } },
    { "virtual node at boundary (64)", { Settings = { setting(64, 0, 0, 4, 1024) } } },
    -- beyond
    { "a fixed node before a wildcard one (Go prints 255 twice)",
      { Settings = { setting(0, 1, 0, 4, 1024), setting(1, WILDCARD, 1, 4, 1024) } },
      "vNUMA has a mix of wildcard (255) and non-wildcard (255) physical node numbers" },
    { "processor totals wrap at 2^32 as in Go",
      { Settings = { setting(0, 0, 0, 2147483648, 1), setting(1, 1, 1, 2147483648, 1) } },
      "partial resource allocation is not allowed" },
    { "missing keys are Go's zero values", { Settings = { { CountOfMemoryBlocks = 1 } } },
      "partial resource allocation is not allowed" },
    { "JSON null settings are no settings", { Settings = vmutils.null } },
    { "JSON null keys are zero", { Settings = { { CountOfProcessors = 1, CountOfMemoryBlocks = 1,
      VirtualNodeNumber = cjson.null } } } },
  }
  for _, c in ipairs(cases) do
    it(c[1], function()
      if c[3] then
        expect_failure(c[3], vmutils.validate_numa(c[2]))
      else
        local results = table.pack(vmutils.validate_numa(c[2]))
        assert.are.same({ n = 1, true }, results)
      end
    end)
  end

  it("finds a duplicate among 100000 settings without comparing pairs", function()
    local settings = list(100000, function(i) return setting((i - 1) % 65, 0, 0, 1, 1) end)
    expect_failure("vNUMA virtual node number 0 is duplicated",
      vmutils.validate_numa({ Settings = settings }))
  end)

  local bad = {
    { "a missing table", "bad argument #1 to 'validate_numa' (table expected, got no value)" },
    { "a string", "bad argument #1 to 'validate_numa' (table expected, got string)", "numa" },
    { "non-table settings", "bad argument #1 to 'validate_numa' (Settings: table expected, got number)",
      { Settings = 3 } },
    { "a non-table setting", "bad argument #1 to 'validate_numa' (Settings[2]: table expected, got boolean)",
      { Settings = { {}, true } } },
    { "a negative node number", "bad argument #1 to 'validate_numa' (Settings[1].VirtualNodeNumber: value -1 out of range [0, 4294967295])",
      { Settings = { { VirtualNodeNumber = -1 } } } },
    { "a node number past uint32", "bad argument #1 to 'validate_numa' (Settings[1].PhysicalNodeNumber: value 4294967296 out of range [0, 4294967295])",
      { Settings = { { PhysicalNodeNumber = 4294967296 } } } },
    { "a fractional socket", "bad argument #1 to 'validate_numa' (Settings[1].VirtualSocketNumber: number has no integer representation)",
      { Settings = { { VirtualSocketNumber = 0.5 } } } },
    { "a string processor count", "bad argument #1 to 'validate_numa' (Settings[1].CountOfProcessors: integer expected, got string)",
      { Settings = { { CountOfProcessors = "four" } } } },
    { "negative memory", "bad argument #1 to 'validate_numa' (Settings[1].CountOfMemoryBlocks: value -1 out of range [0, 9223372036854775807])",
      { Settings = { { CountOfMemoryBlocks = -1 } } } },
    { "a bad item deep in a large array", "bad argument #1 to 'validate_numa' (Settings[100000].CountOfProcessors: value -5 out of range",
      { Settings = (function()
        local s = list(100000, function(i) return setting(i % 60, 0, 0, 1, 1) end)
        s[100000].CountOfProcessors = -5
        return s
      end)() } },
  }
  for _, c in ipairs(bad) do
    it("rejects " .. c[1], function()
      raises(c[2], "validate_numa", row_arguments(c))
    end)
  end
end)

describe("validate_numa_for_vm", function()
  local two = { VirtualNodeCount = 2, Settings = { setting(0, 0, 0, 4, 1024), setting(1, 1, 0, 4, 1024) } }
  local cases = {
    -- hcsshim's TestValidateNumaForVM
    { "empty settings always valid", { Settings = {} }, 8, 2048 },
    { "nil settings always valid", {}, 8, 2048 },
    { "matching processor and memory", two, 8, 2048 },
    { "mismatched processor count", two, 16, 2048,
      "vNUMA total processor count 8 does not match UVM processor count 16" },
    { "mismatched memory size", two, 8, 4096, "vNUMA total memory 2048 does not match UVM memory 4096" },
    { "single node matching", { Settings = { setting(0, 0, 0, 16, 8192) } }, 16, 8192 },
    { "zero processor count in NUMA (allowed)", { Settings = { setting(0, 0, 0, 0, 1024) } }, 8, 1024 },
    { "zero memory in NUMA (allowed)", { Settings = { setting(0, 0, 0, 4, 0) } }, 4, 2048 },
    { "uneven distribution across nodes", { Settings = { setting(0, 0, 0, 2, 512),
      setting(1, 1, 0, 4, 1024), setting(2, 2, 0, 2, 512) } }, 8, 2048 },
    { "large values matching", { Settings = list(4, function(i) return setting(i - 1, 0, 0, 64, 65536) end) },
      256, 262144 },
    -- beyond
    { "processor totals wrap at 2^32 and then skip the check",
      { Settings = { setting(0, 0, 0, 4294967295, 1), setting(1, 0, 0, 1, 1) } }, 7, 2 },
    { "memory totals wrap at 2^64", { Settings = { setting(0, 0, 0, 1, math.maxinteger),
      setting(1, 0, 0, 1, math.maxinteger), setting(2, 0, 0, 1, 3) } }, 3, 5,
      "vNUMA total memory 1 does not match UVM memory 5" },
    { "the largest counts are accepted", { Settings = { setting(0, 0, 0, 4294967295, math.maxinteger) } },
      4294967295, math.maxinteger },
  }
  for _, c in ipairs(cases) do
    it(c[1], function()
      if c[5] then
        expect_failure(c[5], vmutils.validate_numa_for_vm(c[2], c[3], c[4]))
      else
        assert.are.same({ n = 1, true }, table.pack(vmutils.validate_numa_for_vm(c[2], c[3], c[4])))
      end
    end)
  end

  it("sums 100000 settings", function()
    local numa = { Settings = list(100000, function(i) return setting(i, 0, 0, 2, 3) end) }
    assert.is_true(vmutils.validate_numa_for_vm(numa, 200000, 300000))
    expect_failure("vNUMA total memory 300000 does not match UVM memory 1",
      vmutils.validate_numa_for_vm(numa, 200000, 1))
  end)

  local bad = {
    { "a missing table", "bad argument #1 to 'validate_numa_for_vm' (table expected, got no value)" },
    { "a missing processor count", "bad argument #2 to 'validate_numa_for_vm'", {} },
    { "a negative processor count", "bad argument #2 to 'validate_numa_for_vm' (value -1 out of range [0, 4294967295])", {}, -1, 1 },
    { "a processor count past uint32", "bad argument #2 to 'validate_numa_for_vm' (value 4294967296 out of range [0, 4294967295])", {}, 4294967296, 1 },
    { "a fractional processor count", "bad argument #2 to 'validate_numa_for_vm' (number has no integer representation)", {}, 1.25, 1 },
    { "a missing memory size", "bad argument #3 to 'validate_numa_for_vm'", {}, 1 },
    { "a negative memory size", "bad argument #3 to 'validate_numa_for_vm' (value -1 out of range [0, 9223372036854775807])", {}, 1, -1 },
    { "a string memory size", "bad argument #3 to 'validate_numa_for_vm' (integer expected, got string)", {}, 1, "lots" },
    { "a bad setting", "bad argument #1 to 'validate_numa_for_vm' (Settings[1].CountOfProcessors: value 4294967296 out of range",
      { Settings = { { CountOfProcessors = 4294967296 } } }, 1, 1 },
  }
  for _, c in ipairs(bad) do
    it("rejects " .. c[1], function()
      raises(c[2], "validate_numa_for_vm", row_arguments(c))
    end)
  end
end)

describe("prepare_vnuma_topology", function()
  local function explicit_setting(i, physical, cpus, mem)
    return { VirtualNodeNumber = i, PhysicalNodeNumber = physical, VirtualSocketNumber = i,
      CountOfProcessors = cpus, CountOfMemoryBlocks = mem, MemoryBackingType = "Physical" }
  end

  -- name, config, host, expected numa, expected numa_processors, expected error
  local cases = {
    -- hcsshim's TestPrepareVNumaTopology
    { "nil MaxProcessorsPerNumaNode and empty NumaMappedPhysicalNodes returns nil", {} },
    { "implicit topology with MaxProcessorsPerNumaNode set",
      { max_processors_per_numa_node = 4, max_memory_size_per_numa_node = 1024,
        preferred_physical_numa_nodes = { 0, 1 } }, nil,
      { MaxSizePerNode = 1024, PreferredPhysicalNodes = { 0, 1 } }, { count_per_node = { max = 4 } } },
    { "implicit topology without max memory size per node errors",
      { max_processors_per_numa_node = 4 }, nil, nil, nil,
      "max size per node must be set when max processors per numa node is set" },
    { "explicit topology with matching slices",
      { numa_mapped_physical_nodes = { 0, 1 }, numa_processor_counts = { 4, 4 },
        numa_memory_blocks_counts = { 1024, 1024 } }, nil,
      { VirtualNodeCount = 2, Settings = { explicit_setting(0, 0, 4, 1024), explicit_setting(1, 1, 4, 1024) } } },
    { "explicit topology with mismatched slice lengths",
      { numa_mapped_physical_nodes = { 0, 1, 2 }, numa_processor_counts = { 4, 4 },
        numa_memory_blocks_counts = { 1024, 1024 } }, nil, nil, nil,
      "mismatch in number of physical numa nodes and the corresponding processor and memory blocks count" },
    { "explicit topology with invalid settings (zero memory)",
      { numa_mapped_physical_nodes = { 0 }, numa_processor_counts = { 4 },
        numa_memory_blocks_counts = { 0 } }, nil, nil, nil, "vNUMA nodes with no memory are not allowed" },
    { "explicit topology with wildcard physical nodes",
      { numa_mapped_physical_nodes = { 0xFF, 0xFF }, numa_processor_counts = { 4, 4 },
        numa_memory_blocks_counts = { 1024, 1024 } }, nil,
      { VirtualNodeCount = 2, Settings = { explicit_setting(0, 255, 4, 1024), explicit_setting(1, 255, 4, 1024) } } },
    { "partial implicit vNUMA config warns but returns nil",
      { max_memory_size_per_numa_node = 1024, preferred_physical_numa_nodes = { 0 } } },
    { "partial explicit vNUMA config warns but returns nil",
      { numa_processor_counts = { 4 }, numa_memory_blocks_counts = { 1024 } } },
    { "explicit topology with preferred physical nodes",
      { numa_mapped_physical_nodes = { 0, 1 }, numa_processor_counts = { 4, 4 },
        numa_memory_blocks_counts = { 1024, 1024 }, preferred_physical_numa_nodes = { 2, 3 } }, nil,
      { VirtualNodeCount = 2, PreferredPhysicalNodes = { 2, 3 },
        Settings = { explicit_setting(0, 0, 4, 1024), explicit_setting(1, 1, 4, 1024) } } },
    { "implicit topology without preferred nodes",
      { max_processors_per_numa_node = 8, max_memory_size_per_numa_node = 2048 }, nil,
      { MaxSizePerNode = 2048 }, { count_per_node = { max = 8 } } },
    { "single node explicit topology",
      { numa_mapped_physical_nodes = { 0 }, numa_processor_counts = { 16 }, numa_memory_blocks_counts = { 8192 } },
      nil, { VirtualNodeCount = 1, Settings = { explicit_setting(0, 0, 16, 8192) } } },
    { "explicit topology virtual socket numbers are sequential",
      { numa_mapped_physical_nodes = { 0, 1, 2 }, numa_processor_counts = { 2, 2, 2 },
        numa_memory_blocks_counts = { 512, 512, 512 } }, nil,
      { VirtualNodeCount = 3, Settings = { explicit_setting(0, 0, 2, 512), explicit_setting(1, 1, 2, 512),
        explicit_setting(2, 2, 2, 512) } } },
    -- hcsshim's TestPrepareVNumaTopology_OldWindowsVersion
    { "old Windows version errors", { max_processors_per_numa_node = 4, max_memory_size_per_numa_node = 1024 },
      { os_build = vmutils.osversion.V21H2_SERVER }, nil, nil,
      "vNUMA topology is not supported on 20348 version of Windows" },
    -- beyond: host.os_build
    { "build 26099 is too old", { numa_mapped_physical_nodes = { 0 }, numa_processor_counts = { 1 },
      numa_memory_blocks_counts = { 1 } }, { os_build = 26099 }, nil, nil,
      "vNUMA topology is not supported on 26099 version of Windows" },
    { "build 26100 is enough", { max_processors_per_numa_node = 4, max_memory_size_per_numa_node = 1024 },
      { os_build = 26100 }, { MaxSizePerNode = 1024 }, { count_per_node = { max = 4 } } },
    { "a host table without a build skips the check",
      { max_processors_per_numa_node = 4, max_memory_size_per_numa_node = 1024 }, {},
      { MaxSizePerNode = 1024 }, { count_per_node = { max = 4 } } },
    { "no topology needs no build", {}, { os_build = 0 } },
    { "the build is checked before the memory size", { max_processors_per_numa_node = 4 },
      { os_build = 17763 }, nil, nil, "vNUMA topology is not supported on 17763 version of Windows" },
    -- beyond: shapes
    { "implicit wins over explicit",
      { max_processors_per_numa_node = 2, max_memory_size_per_numa_node = 512,
        numa_mapped_physical_nodes = { 0 }, numa_processor_counts = { 4 }, numa_memory_blocks_counts = { 1024 } },
      nil, { MaxSizePerNode = 512 }, { count_per_node = { max = 2 } } },
    { "an empty preferred list gives none",
      { max_processors_per_numa_node = 2, max_memory_size_per_numa_node = 512, preferred_physical_numa_nodes = {} },
      nil, { MaxSizePerNode = 512 }, { count_per_node = { max = 2 } } },
    { "JSON nulls are absent keys",
      { max_processors_per_numa_node = 2, max_memory_size_per_numa_node = 512,
        preferred_physical_numa_nodes = cjson.null, numa_mapped_physical_nodes = vmutils.null },
      nil, { MaxSizePerNode = 512 }, { count_per_node = { max = 2 } } },
    { "the largest values",
      { max_processors_per_numa_node = 4294967295, max_memory_size_per_numa_node = math.maxinteger,
        preferred_physical_numa_nodes = { 4294967295 } }, { os_build = 65535 },
      { MaxSizePerNode = math.maxinteger, PreferredPhysicalNodes = { 4294967295 } },
      { count_per_node = { max = 4294967295 } } },
    { "explicit fixed and wildcard nodes mixed",
      { numa_mapped_physical_nodes = { 0, 255 }, numa_processor_counts = { 1, 1 }, numa_memory_blocks_counts = { 1, 1 } },
      nil, nil, nil, "vNUMA has a mix of wildcard (255) and non-wildcard (255) physical node numbers" },
    { "explicit physical node out of range",
      { numa_mapped_physical_nodes = { 64 }, numa_processor_counts = { 1 }, numa_memory_blocks_counts = { 1 } },
      nil, nil, nil, "vNUMA physical node number 64 exceeds maximum allowed value 64" },
    { "65 explicit nodes are the most",
      { numa_mapped_physical_nodes = list(65, 255), numa_processor_counts = list(65, 1),
        numa_memory_blocks_counts = list(65, 1) }, nil,
      { VirtualNodeCount = 65, Settings = list(65, function(i) return explicit_setting(i - 1, 255, 1, 1) end) } },
    { "66 explicit nodes are too many",
      { numa_mapped_physical_nodes = list(66, 255), numa_processor_counts = list(66, 1),
        numa_memory_blocks_counts = list(66, 1) }, nil, nil, nil,
      "vNUMA virtual node number 65 exceeds maximum allowed value 64" },
    { "100000 explicit nodes give a clean error",
      { numa_mapped_physical_nodes = list(100000, 0), numa_processor_counts = list(100000, 1),
        numa_memory_blocks_counts = list(100000, 1) }, nil, nil, nil,
      "vNUMA virtual node number 65 exceeds maximum allowed value 64" },
    { "100000 mismatched nodes give a clean error",
      { numa_mapped_physical_nodes = list(100000, 0), numa_processor_counts = list(99999, 1),
        numa_memory_blocks_counts = list(100000, 1) }, nil, nil, nil,
      "mismatch in number of physical numa nodes and the corresponding processor and memory blocks count" },
    { "100000 preferred nodes are kept",
      { max_processors_per_numa_node = 1, max_memory_size_per_numa_node = 1,
        preferred_physical_numa_nodes = list(100000, function(i) return i end) }, nil,
      { MaxSizePerNode = 1, PreferredPhysicalNodes = list(100000, function(i) return i end) },
      { count_per_node = { max = 1 } } },
  }
  for _, c in ipairs(cases) do
    it(c[1], function()
      local _, results = capture(function() return vmutils.prepare_vnuma_topology(c[2], c[3]) end)
      if c[6] then
        assert.are.same({ n = 3, nil, nil, c[6] }, results)
      else
        assert.are.equal(2, results.n)
        assert.are.same(c[4], results[1])
        assert.are.same(c[5], results[2])
        if results[1] and results[1].Settings then
          assert.is_true(vmutils.validate_numa(results[1]))
        end
      end
    end)
  end

  it("returns integers and the HCS keys only", function()
    local numa = vmutils.prepare_vnuma_topology({ numa_mapped_physical_nodes = { 3 },
      numa_processor_counts = { 2 }, numa_memory_blocks_counts = { 512 } })
    for _, key in ipairs({ "VirtualNodeNumber", "PhysicalNodeNumber", "VirtualSocketNumber",
        "CountOfProcessors", "CountOfMemoryBlocks" }) do
      assert.are.equal("integer", math.type(numa.Settings[1][key]))
    end
    assert.are.same({ "Settings", "VirtualNodeCount" }, (function()
      local keys = {}
      for k in pairs(numa) do keys[#keys + 1] = k end
      table.sort(keys)
      return keys
    end)())
    -- cjson gives the HCS fragment
    assert.are.same(cjson.decode('{"VirtualNodeCount":1,"Settings":[{"VirtualNodeNumber":0,'
      .. '"PhysicalNodeNumber":3,"VirtualSocketNumber":0,"CountOfProcessors":2,'
      .. '"CountOfMemoryBlocks":512,"MemoryBackingType":"Physical"}]}'),
      cjson.decode(cjson.encode(numa)))
  end)

  it("validates for the VM what it prepared", function()
    local numa = vmutils.prepare_vnuma_topology({ numa_mapped_physical_nodes = { 0, 1 },
      numa_processor_counts = { 2, 6 }, numa_memory_blocks_counts = { 1024, 3072 } })
    assert.is_true(vmutils.validate_numa_for_vm(numa, 8, 4096))
    expect_failure("vNUMA total processor count 8 does not match UVM processor count 4",
      vmutils.validate_numa_for_vm(numa, 4, 4096))
  end)

  describe("warnings", function()
    local cases = {
      { "partial implicit config", { max_memory_size_per_numa_node = 1024, preferred_physical_numa_nodes = { 0 } },
        { { "potentially incomplete implicit vNUMA topology",
          { ["max-memory-size-per-numa-node"] = 1024, ["max-processors-per-numa-node"] = 0,
            ["preferred-physical-numa-nodes"] = "[0]" } } } },
      { "memory size alone (no list prints null)", { max_memory_size_per_numa_node = 64 },
        { { "potentially incomplete implicit vNUMA topology",
          { ["max-memory-size-per-numa-node"] = 64, ["max-processors-per-numa-node"] = 0,
            ["preferred-physical-numa-nodes"] = "null" } } } },
      { "an empty list prints []", { max_memory_size_per_numa_node = 64, preferred_physical_numa_nodes = {} },
        { { "potentially incomplete implicit vNUMA topology",
          { ["max-memory-size-per-numa-node"] = 64, ["max-processors-per-numa-node"] = 0,
            ["preferred-physical-numa-nodes"] = "[]" } } } },
      { "partial explicit config", { numa_processor_counts = { 4 }, numa_memory_blocks_counts = { 1024 } },
        { { "potentially incomplete explicit vNUMA topology",
          { ["numa-mapped-physical-nodes"] = "null", ["numa-processor-counts"] = "[4]",
            ["numa-memory-block-counts"] = "[1024]" } } } },
      { "both partial configs", { preferred_physical_numa_nodes = { 1, 4294967295 },
        numa_mapped_physical_nodes = {}, numa_memory_blocks_counts = { 9223372036854775807, 0 } },
        { { "potentially incomplete implicit vNUMA topology",
          { ["max-memory-size-per-numa-node"] = 0, ["max-processors-per-numa-node"] = 0,
            ["preferred-physical-numa-nodes"] = "[1,4294967295]" } },
          { "potentially incomplete explicit vNUMA topology",
            { ["numa-mapped-physical-nodes"] = "[]", ["numa-processor-counts"] = "null",
              ["numa-memory-block-counts"] = "[9223372036854775807,0]" } } } },
      { "nothing at all", {}, {} },
      { "a complete implicit config", { max_processors_per_numa_node = 1, max_memory_size_per_numa_node = 1 }, {} },
    }
    for _, c in ipairs(cases) do
      it(c[1], function()
        local records, results = capture(function() return vmutils.prepare_vnuma_topology(c[2]) end)
        assert.are.equal(#c[3], #records)
        for i, expected in ipairs(c[3]) do
          assert.are.equal("warning", records[i].level)
          assert.are.equal(expected[1], records[i].msg)
          assert.are.same(expected[2], records[i].fields)
        end
        if #c[3] > 0 then assert.are.same({ n = 2 }, results) end
      end)
    end
  end)

  describe("debug records", function()
    it("show an implicit topology as Go's JSON", function()
      local records = capture(function()
        return vmutils.prepare_vnuma_topology({ max_processors_per_numa_node = 4,
          max_memory_size_per_numa_node = 1024, preferred_physical_numa_nodes = { 0, 1 } })
      end, "debug")
      assert.are.equal(1, #records)
      assert.are.equal("debug", records[1].level)
      assert.are.equal("created implicit NUMA topology", records[1].msg)
      assert.are.same({ numa = '{"PreferredPhysicalNodes":[0,1],"MaxSizePerNode":1024}',
        ["numa-processors"] = '{"count_per_node":{"max":4}}' }, records[1].fields)
    end)

    it("show an explicit topology as Go's JSON, zero values omitted", function()
      local records = capture(function()
        return vmutils.prepare_vnuma_topology({ numa_mapped_physical_nodes = { 0, 1 },
          numa_processor_counts = { 4, 4 }, numa_memory_blocks_counts = { 1024, 1024 } })
      end, "debug")
      assert.are.equal(1, #records)
      assert.are.equal("created explicit NUMA topology", records[1].msg)
      assert.are.same({ numa = '{"VirtualNodeCount":2,"Settings":[{"CountOfProcessors":4,'
        .. '"CountOfMemoryBlocks":1024,"MemoryBackingType":"Physical"},{"VirtualNodeNumber":1,'
        .. '"PhysicalNodeNumber":1,"VirtualSocketNumber":1,"CountOfProcessors":4,'
        .. '"CountOfMemoryBlocks":1024,"MemoryBackingType":"Physical"}]}' }, records[1].fields)
    end)

    it("come before validation, with Go's uint8 node count", function()
      local records, results = capture(function()
        return vmutils.prepare_vnuma_topology({ numa_mapped_physical_nodes = list(256, 0),
          numa_processor_counts = list(256, 1), numa_memory_blocks_counts = list(256, 1) })
      end, "debug")
      assert.are.equal(3, results.n)
      assert.are.equal("vNUMA virtual node number 65 exceeds maximum allowed value 64", results[3])
      assert.are.equal(1, #records)
      assert.are.equal("created explicit NUMA topology", records[1].msg)
      -- 256 nodes wrap to a count of 0, which omitempty leaves out
      local head = '{"Settings":[{"CountOfProcessors":1,'
      assert.are.equal(head, records[1].fields.numa:sub(1, #head))
    end)

    it("are not made at the info level", function()
      local records = capture(function()
        return vmutils.prepare_vnuma_topology({ max_processors_per_numa_node = 1,
          max_memory_size_per_numa_node = 1 })
      end, "info")
      assert.are.equal(0, #records)
    end)
  end)

  describe("bad arguments", function()
    local P = "bad argument #1 to 'prepare_vnuma_topology' ("
    local bad = {
      { "a missing config", "bad argument #1 to 'prepare_vnuma_topology' (table expected, got no value)" },
      { "a string config", P .. "table expected, got string)", "numa" },
      { "a negative processor maximum", P .. "max_processors_per_numa_node: value -1 out of range [0, 4294967295])",
        { max_processors_per_numa_node = -1 } },
      { "a processor maximum past uint32", P .. "max_processors_per_numa_node: value 4294967296 out of range [0, 4294967295])",
        { max_processors_per_numa_node = 4294967296 } },
      { "a fractional memory size", P .. "max_memory_size_per_numa_node: number has no integer representation)",
        { max_memory_size_per_numa_node = 1.5 } },
      { "a negative memory size", P .. "max_memory_size_per_numa_node: value -1 out of range [0, 9223372036854775807])",
        { max_memory_size_per_numa_node = -1 } },
      { "a table memory size", P .. "max_memory_size_per_numa_node: integer expected, got table)",
        { max_memory_size_per_numa_node = {} } },
      { "a non-table list", P .. "preferred_physical_numa_nodes: table expected, got number)",
        { preferred_physical_numa_nodes = 3 } },
      { "a node number of 2^32", P .. "numa_mapped_physical_nodes[2]: value 4294967296 out of range [0, 4294967295])",
        { numa_mapped_physical_nodes = { 0, 4294967296 } } },
      { "a negative node number", P .. "preferred_physical_numa_nodes[1]: value -1 out of range [0, 4294967295])",
        { preferred_physical_numa_nodes = { -1 } } },
      { "a fractional processor count", P .. "numa_processor_counts[1]: number has no integer representation)",
        { numa_processor_counts = { 0.5 } } },
      { "a boolean memory count", P .. "numa_memory_blocks_counts[3]: integer expected, got boolean)",
        { numa_memory_blocks_counts = { 1, 2, true } } },
      { "a negative memory count", P .. "numa_memory_blocks_counts[1]: value -2 out of range [0, 9223372036854775807])",
        { numa_memory_blocks_counts = { -2 } } },
      { "a bad item at the end of 100000", P .. "numa_processor_counts[100000]: value -1 out of range",
        { numa_processor_counts = (function() local l = list(100000, 1); l[100000] = -1; return l end)() } },
      { "a string host", "bad argument #2 to 'prepare_vnuma_topology' (table expected, got string)",
        {}, "26100" },
      { "a negative build", "bad argument #2 to 'prepare_vnuma_topology' (os_build: value -1 out of range [0, 65535])",
        {}, { os_build = -1 } },
      { "a build past uint16", "bad argument #2 to 'prepare_vnuma_topology' (os_build: value 65536 out of range [0, 65535])",
        {}, { os_build = 65536 } },
      { "a fractional build", "bad argument #2 to 'prepare_vnuma_topology' (os_build: number has no integer representation)",
        {}, { os_build = 26100.5 } },
    }
    for _, c in ipairs(bad) do
      it("rejects " .. c[1], function()
        local records = capture(function() raises(c[2], "prepare_vnuma_topology", row_arguments(c)) end)
        assert.are.equal(0, #records)
      end)
    end
  end)
end)

describe("scripts/main.lua", function()
  it("prints the example vNUMA layout as a table and as HCS JSON", function()
    local build = os.getenv("VMUTILS_BUILD") or "build"
    local pipe = assert(io.popen("lua5.4 -e 'package.cpath=\"" .. build
      .. "/?.so;\"..package.cpath' scripts/main.lua 2>/dev/null"))
    local output = pipe:read("a")
    assert.is_true(pipe:close())
    assert.is_truthy(output:find("vNUMA layout (explicit, 2 virtual nodes):", 1, true))
    assert.is_truthy(output:find("\n%s+0%s+0%s+0%s+2%s+2048%s+Physical\n"))
    assert.is_truthy(output:find("\n%s+1%s+1%s+1%s+2%s+2048%s+Physical\n"))
    local json = output:match("HCS JSON:\n([^\n]+)")
    assert.are.same({ Numa = { VirtualNodeCount = 2, Settings = {
      { VirtualNodeNumber = 0, PhysicalNodeNumber = 0, VirtualSocketNumber = 0, CountOfProcessors = 2,
        CountOfMemoryBlocks = 2048, MemoryBackingType = "Physical" },
      { VirtualNodeNumber = 1, PhysicalNodeNumber = 1, VirtualSocketNumber = 1, CountOfProcessors = 2,
        CountOfMemoryBlocks = 2048, MemoryBackingType = "Physical" } } } }, cjson.decode(json))
  end)
end)
