-- vmutils.fit_numa: the placement on hosts written as tables (and as JSON
-- gives them, with string keys), its options, the reasons and the
-- best-effort warnings, bad arguments; then the shipped policy on its
-- examples against the expected documents, and the LCOW policy's numa = "auto".
local vmutils = require "vmutils"
local cjson = require "cjson"
local support = require "support"
local capture = require("log_capture").capture
local raises, slurp, sh = support.raises, support.slurp, support.run

local VMUTILS = (os.getenv("VMUTILS_BUILD") or "build") .. "/vmutils"

-- n nodes of `cpus` processors and `mb` MiB in sockets of `per_socket`
-- nodes: distance 10 local, 12 in a socket, 32 across.
local function host(n, cpus, mb, per_socket)
  local nodes = {}
  for i = 0, n - 1 do
    local distances = {}
    for j = 0, n - 1 do
      distances[j] = i == j and 10 or (i // per_socket == j // per_socket) and 12 or 32
    end
    nodes[#nodes + 1] = { id = i, processors = cpus, memory_mb = mb, free_mb = mb,
      distances = distances }
  end
  return { LogicalProcessorCount = n * cpus, nodes = nodes }
end

local function validates(config, processors, memory_mb)
  local numa, _, err = vmutils.prepare_vnuma_topology(config, { os_build = 26100 })
  assert.is_nil(err)
  assert.is_true(vmutils.validate_numa_for_vm(numa, processors, memory_mb))
  return numa
end

describe("fit_numa", function()
  it("returns the explicit configuration and what the choice was", function()
    local h = host(8, 8, 32768, 4)
    h.nodes[1].free_mb = 1024
    local config, info = vmutils.fit_numa({ processors = 16, memory_mb = 32768 }, h)
    assert.same({
      numa_mapped_physical_nodes = { 1, 2 },
      numa_processor_counts = { 8, 8 },
      numa_memory_blocks_counts = { 16384, 16384 },
    }, config)
    assert.same({ nodes = 2, worst_distance = 12, free_mb_left = 32768, fallback = false }, info)
    local numa = validates(config, 16, 32768)
    assert.equal(2, numa.VirtualNodeCount)
  end)

  it("reads hosts as JSON gives them: string keys, nodes in any order", function()
    local h = cjson.decode([[{"nodes": [
      {"id": 3, "processors": 4, "memory_mb": 8192, "distances": {"3": 10, "1": 40}},
      {"id": 1, "processors": 4, "memory_mb": 8192, "free_mb": 2048,
       "hugepages": {"2048": {"total": 512, "free": 512}}, "distances": {"1": 10, "3": 40}}]}]])
    local config, info = vmutils.fit_numa({ processors = 6, memory_mb = 8192 }, h)
    assert.same({ 1, 3 }, config.numa_mapped_physical_nodes)
    assert.same({ 3, 3 }, config.numa_processor_counts)
    assert.same({ 2048, 6144 }, config.numa_memory_blocks_counts)
    assert.equal(40, info.worst_distance)
    config = vmutils.fit_numa({ processors = 2, memory_mb = 1024 }, h, { page_size = "2M" })
    assert.same({ 1 }, config.numa_mapped_physical_nodes)
    config = vmutils.fit_numa({ processors = 2, memory_mb = 1024 }, h, { page_size = 2048 })
    assert.same({ 1 }, config.numa_mapped_physical_nodes)
  end)

  it("single-numa-node and restricted refuse, naming each node's shortfall", function()
    local h = host(4, 8, 16384, 2)
    h.nodes[2].allowed = false
    local config, err = vmutils.fit_numa({ processors = 10, memory_mb = 4096 }, h,
      { policy = "single-numa-node" })
    assert.is_nil(config)
    assert.equal("no NUMA placement of 10 processors and 4096 MiB on 1 node (policy "
      .. "single-numa-node); node 0: 8 processors for a share of 10; node 1: outside the cpuset's "
      .. "memory nodes; nodes 2-3 (2): 8 processors for a share of 10", err)
    config, err = vmutils.fit_numa({ processors = 30, memory_mb = 4096 }, h, { max_nodes = 3 })
    assert.is_nil(config)
    assert.matches("on at most 3 nodes (policy restricted)", err, 1, true)
  end)

  it("best-effort goes past max_nodes, then gives up vNUMA, with a warning each time", function()
    local h = host(4, 8, 16384, 2)
    local records, results = capture(function()
      return vmutils.fit_numa({ processors = 20, memory_mb = 4096 }, h,
        { policy = "best-effort", max_nodes = 2 })
    end)
    local config, info = results[1], results[2]
    assert.same({ 0, 1, 2 }, config.numa_mapped_physical_nodes)
    assert.is_true(info.fallback)
    assert.equal(1, #records)
    assert.equal("warning", records[1].level)
    assert.equal("best-effort NUMA placement uses more nodes than the limit", records[1].msg)
    assert.same({ ["max-nodes"] = 2, nodes = 3 }, records[1].fields)
    records, results = capture(function()
      return vmutils.fit_numa({ processors = 40, memory_mb = 4096 }, h, { policy = "best-effort" })
    end)
    assert.same({ numa_mapped_physical_nodes = {}, numa_processor_counts = {},
      numa_memory_blocks_counts = {} }, results[1])
    assert.equal("best-effort NUMA placement found no fit; the VM gets no vNUMA topology",
      records[1].msg)
    -- no vNUMA topology: prepare_vnuma_topology gives nothing
    local numa, processors, perr = vmutils.prepare_vnuma_topology(results[1], { os_build = 26100 })
    assert.is_nil(numa)
    assert.is_nil(processors)
    assert.is_nil(perr)
  end)

  it("ratios, reserved capacity and spread", function()
    local h = host(2, 8, 16384, 2)
    assert.is_nil(vmutils.fit_numa({ processors = 12, memory_mb = 1024 }, h, { max_nodes = 1 }))
    assert.is_table(vmutils.fit_numa({ processors = 12, memory_mb = 1024 }, h,
      { max_nodes = 1, cpu_allocation_ratio = 1.5 }))
    assert.is_table(vmutils.fit_numa({ processors = 2, memory_mb = 32768 }, h,
      { max_nodes = 1, ram_allocation_ratio = 2 }))
    local config = vmutils.fit_numa({ processors = 8, memory_mb = 20000 }, h,
      { reserved = { processors = 2, memory_mb = 2048 } })
    assert.same({ 4, 4 }, config.numa_processor_counts)
    assert.same({ 10000, 10000 }, config.numa_memory_blocks_counts)
    config = vmutils.fit_numa({ processors = 8, memory_mb = 20000 }, h,
      { reserved = { processors = 2, memory_mb = 2048 }, spread = false })
    assert.same({ 6, 2 }, config.numa_processor_counts)
    assert.same({ 14336, 5664 }, config.numa_memory_blocks_counts)
  end)

  it("nil and a message for requests no host could take", function()
    local h = host(1, 4, 4096, 1)
    local config, err = vmutils.fit_numa({ processors = 0, memory_mb = 1024 }, h)
    assert.is_nil(config)
    assert.equal("processors must be in [1, 2048], got 0", err)
    config, err = vmutils.fit_numa({ processors = 1, memory_mb = 1025 }, h)
    assert.equal("memory_mb 1025 is not a positive multiple of 2 MiB", err)
  end)

  it("raises for wrong arguments", function()
    local h = host(1, 4, 4096, 1)
    local vm = { processors = 1, memory_mb = 1024 }
    raises("bad argument #1 to 'fit_numa' (table expected, got no value)", "fit_numa")
    raises("bad argument #2 to 'fit_numa' (table expected, got no value)", "fit_numa", vm)
    raises("vm.processors: integer expected, got table", "fit_numa", { processors = {} }, h)
    raises("nodes: table expected, got nil", "fit_numa", vm, {})
    raises("nodes[1].id: integer expected, got nil", "fit_numa", vm, { nodes = { {} } })
    raises("nodes: id 0 appears twice", "fit_numa", vm, { nodes = { { id = 0 }, { id = 0 } } })
    raises("nodes[1].distances: key x is not an integer", "fit_numa", vm,
      { nodes = { { id = 0, distances = { x = 1 } } } })
    raises("policy: 'any' is not single-numa-node, restricted or best-effort", "fit_numa", vm, h,
      { policy = "any" })
    raises("page_size: '3M' is not 4K, 2M or 1G", "fit_numa", vm, h, { page_size = "3M" })
    raises("cpu_allocation_ratio: a number in (0, 1e6] expected", "fit_numa", vm, h,
      { cpu_allocation_ratio = 0 })
    raises("reserved: table expected, got number", "fit_numa", vm, h, { reserved = 1 })
  end)

  it("raises when a host table changes while it is read", function()
    local vm = { processors = 1, memory_mb = 1024 }
    local calls = 0
    local growing = setmetatable({ id = 0 }, { __index = function(_, key)
      if key ~= "hugepages" then return nil end
      calls = calls + 1
      local pages = {}
      for size = 1, calls * 4 do pages[size * 2048] = { total = 1 } end
      return pages
    end })
    raises("nodes[1].hugepages: changed while read", "fit_numa", vm, { nodes = { growing } })
    local n = 0
    local shifting = setmetatable({}, { __index = function(_, key)
      if key ~= "id" then return nil end
      n = n + 1
      return n
    end })
    raises("nodes[1]: changed while read", "fit_numa", vm, { nodes = { shifting } })
  end)

  it("on random hosts: sums match, nothing oversubscribed, the topology validates", function()
    local seed = 7
    local function rnd(n) seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n end
    for _ = 1, 300 do
      local nodes = {}
      for i = 0, rnd(8) do
        nodes[#nodes + 1] = { id = i * 2, processors = rnd(12), memory_mb = 1024 * rnd(16),
          free_mb = 512 * rnd(32) }
      end
      local vm = { processors = 1 + rnd(24), memory_mb = 2 * (1 + rnd(20000)) }
      local config = vmutils.fit_numa(vm, { nodes = nodes })
      if config then
        local cpus, mb = 0, 0
        for i, id in ipairs(config.numa_mapped_physical_nodes) do
          local node = nodes[id // 2 + 1]
          assert.is_true(config.numa_processor_counts[i] <= node.processors)
          assert.is_true(config.numa_memory_blocks_counts[i] <= math.min(node.free_mb, node.memory_mb))
          cpus = cpus + config.numa_processor_counts[i]
          mb = mb + config.numa_memory_blocks_counts[i]
        end
        assert.equal(vm.processors, cpus)
        assert.equal(vm.memory_mb, mb)
        validates(config, vm.processors, vm.memory_mb)
      end
    end
  end)
end)

describe("scripts/policies/numa-fit.lua", function()
  local POLICY = "scripts/policies/numa-fit.lua"

  for _, name in ipairs({ "request", "single", "fill", "hugepages", "best-effort" }) do
    it("examples/numa-fit-" .. name .. ".json gives the expected document", function()
      local status, out, err = sh(VMUTILS .. " policy " .. POLICY .. " examples/numa-fit-" .. name
        .. ".json")
      assert.equal(0, status, err)
      assert.equal(slurp("examples/expected/numa-fit-" .. name .. ".json"), out)
      if name == "best-effort" then
        assert.matches('level=warning msg="best-effort NUMA placement uses more nodes than the '
          .. 'limit" max-nodes=4 nodes=5', err, 1, true)
      else
        assert.equal("", err)
      end
    end)
  end

  it("examples/numa-fit-reject.json is refused with the reason", function()
    local status, out, err = sh(VMUTILS .. " policy " .. POLICY .. " examples/numa-fit-reject.json")
    assert.equal(1, status)
    assert.equal("", out)
    assert.equal(slurp("examples/expected/numa-fit-reject.txt"), err)
  end)

  it("without a host in the request, places the VM on this machine", function()
    local status, out, err = sh(VMUTILS .. " policy --compact " .. POLICY .. " -",
      '{"processors": 1, "memory_mb": 64}')
    assert.equal(0, status, err)
    local topology = cjson.decode(out).VirtualMachine.ComputeTopology
    assert.equal(1, topology.Processor.Count)
    assert.equal(64, topology.Numa.Settings[1].CountOfMemoryBlocks)
  end)
end)

describe("scripts/policies/lcow.lua with numa = \"auto\"", function()
  local LCOW = "scripts/policies/lcow.lua"

  it("examples/lcow-numa-auto.json: the layout placed on the request's host", function()
    local status, out, err = sh(VMUTILS .. " policy --compact " .. LCOW
      .. " examples/lcow-numa-auto.json")
    assert.equal(0, status, err)
    local topology = cjson.decode(out).VirtualMachine.ComputeTopology
    assert.equal("FirmwareFallbackMeasured", topology.Memory.SlitType)
    assert.equal(2, topology.Numa.VirtualNodeCount)
    local physical = {}
    for i, s in ipairs(topology.Numa.Settings) do physical[i] = s.PhysicalNodeNumber end
    assert.same({ 4, 6 }, physical)
  end)

  it("refuses other values and placements that do not fit", function()
    local request = cjson.decode(slurp("examples/lcow-numa-auto.json"))
    request.numa = "yes"
    local status, _, err = sh(VMUTILS .. " policy " .. LCOW .. " -", cjson.encode(request))
    assert.equal(1, status)
    assert.equal('vmutils policy: failed to parse NUMA parameters: numa must be "auto" or an object\n', err)
    request.numa = { policy = "single-numa-node" }
    status, _, err = sh(VMUTILS .. " policy " .. LCOW .. " -", cjson.encode(request))
    assert.equal(1, status)
    assert.matches("^vmutils policy: failed to parse NUMA parameters: no NUMA placement of 16 processors", err)
  end)
end)
