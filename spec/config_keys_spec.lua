-- Configuration tables name only known keys: a typo (LogicalProcessors for
-- LogicalProcessorCount) is an argument error, not a silent zero or "no
-- vNUMA"; the known keys, the request's host table and the shipped policy
-- still pass.
local vmutils = require "vmutils"
local capture = require("log_capture").capture
local support = require "support"
local raises = support.raises

describe("unknown keys in configuration tables", function()
  local bad = {
    { "normalize_processor_count", "a typo in the topology",
      "bad argument #3 to 'normalize_processor_count' (unknown key 'LogicalProcessors')",
      "u", 2, { LogicalProcessors = 8 } },
    { "normalize_processor_count", "an array topology",
      "bad argument #3 to 'normalize_processor_count' (unknown key 1)", "u", 2, { 8 } },
    { "prepare_vnuma_topology", "a typo in the config",
      "bad argument #1 to 'prepare_vnuma_topology' (unknown key 'max_processors_per_node')",
      { max_processors_per_node = 4 } },
    { "prepare_vnuma_topology", "a Go field name in the config",
      "bad argument #1 to 'prepare_vnuma_topology' (unknown key 'MaxProcessorsPerNumaNode')",
      { max_processors_per_numa_node = 4, MaxProcessorsPerNumaNode = 4 } },
    { "prepare_vnuma_topology", "a typo in the host",
      "bad argument #2 to 'prepare_vnuma_topology' (unknown key 'osbuild')", {}, { osbuild = 17763 } },
  }
  for _, c in ipairs(bad) do
    it(c[1] .. " rejects " .. c[2], function()
      local records = capture(function()
        raises(c[3], c[1], table.unpack(c, 4, 6))
      end)
      assert.are.equal(0, #records)
    end)
  end

  it("normalize_processor_count still takes LogicalProcessorCount", function()
    local _, results = capture(function()
      return vmutils.normalize_processor_count("u", 2, { LogicalProcessorCount = 8 })
    end)
    assert.are.equal(2, results[1])
  end)

  it("prepare_vnuma_topology takes every config key and a request's host table", function()
    local _, results = capture(function()
      return vmutils.prepare_vnuma_topology({
        max_processors_per_numa_node = 4, max_memory_size_per_numa_node = 1024,
        preferred_physical_numa_nodes = { 0 }, numa_mapped_physical_nodes = {},
        numa_processor_counts = {}, numa_memory_blocks_counts = {},
      }, { os_build = 26100, logical_processor_count = 8, arch = "amd64", cwd = "/" })
    end)
    assert.is_table(results[1])
    assert.is_nil(results[3])
  end)
end)
