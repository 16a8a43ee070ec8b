-- vmutils.host_topology: the host table from this machine, from hwloc XML
-- exports and synthetic descriptions (tests/topology), the free memory read
-- from a sysfs tree, bad arguments; and `vmutils host` printing it.
local vmutils = require "vmutils"
local cjson = require "cjson"
local support = require "support"
local raises, slurp, sh, quote = support.raises, support.slurp, support.run, support.quote
local capture = require("log_capture").capture

local FIXTURES = "tests/topology/"
local VMUTILS = (os.getenv("VMUTILS_BUILD") or "build") .. "/vmutils"

local function xml(name, sysfs)
  return assert(vmutils.host_topology({ xml = FIXTURES .. name, sysfs_root = sysfs }))
end

local function synthetic(name)
  return assert(vmutils.host_topology({ synthetic = slurp(FIXTURES .. name):gsub("\n", "") }))
end

local function ids(host)
  local out = {}
  for i, node in ipairs(host.nodes) do out[i] = node.id end
  return out
end

describe("host_topology", function()
  it("this machine: nodes by id, allowed processors adding up to LogicalProcessorCount", function()
    local host = assert(vmutils.host_topology())
    assert.is_true(#host.nodes >= 1)
    local sum = 0
    for i, node in ipairs(host.nodes) do
      if i > 1 then assert.is_true(node.id > host.nodes[i - 1].id) end
      assert.equal(node.processors, #node.cpus)
      assert.is_true(node.free_mb <= node.memory_mb)
      assert.equal(10, node.distances[node.id])
      sum = sum + node.processors
    end
    assert.equal(host.LogicalProcessorCount, sum)
    -- the table goes to normalize_processor_count as it is
    local records, results = capture(function()
      return vmutils.normalize_processor_count("", host.LogicalProcessorCount + 1, host)
    end)
    assert.equal(host.LogicalProcessorCount, results[1])
    assert.equal(1, #records)
  end)

  it("a laptop: one node of 4 cores and 8 threads", function()
    local host = synthetic("laptop.synthetic")
    assert.equal(8, host.LogicalProcessorCount)
    assert.same({ 0 }, ids(host))
    local node = host.nodes[1]
    assert.same({ 0, 1, 2, 3, 4, 5, 6, 7 }, node.cpus)
    assert.equal(4, node.cores)
    assert.equal(16384, node.memory_mb)
    assert.same({ [0] = 10 }, node.distances)
    assert.same({}, node.hugepages)
  end)

  it("a 2-socket server with SMT, huge pages, free memory from a sysfs tree", function()
    local host = xml("two-socket-smt.xml", FIXTURES .. "sysfs")
    assert.equal(32, host.LogicalProcessorCount)
    assert.equal(2, host.packages)
    local n0, n1 = host.nodes[1], host.nodes[2]
    assert.equal(16, n0.processors)
    assert.equal(8, n0.cores)
    assert.equal(1, n1.package)
    assert.equal(65536, n0.memory_mb)
    assert.equal(40960, n0.free_mb)
    assert.equal(8192, n1.free_mb)
    assert.same({ [2048] = { total = 1024, free = 1000 }, [1048576] = { total = 4, free = 3 } },
      n0.hugepages)
    assert.same({ [0] = 10, [1] = 21 }, n0.distances)
    -- without the tree an exported host's memory is all free
    assert.equal(65536, xml("two-socket-smt.xml").nodes[2].free_mb)
  end)

  it("4 nodes per socket: distances 10, 12, 32", function()
    local host = xml("eight-node.xml")
    assert.same({ 0, 1, 2, 3, 4, 5, 6, 7 }, ids(host))
    assert.same({ [0] = 10, 12, 12, 12, 32, 32, 32, 32 }, host.nodes[1].distances)
    assert.equal(12, host.nodes[8].distances[4])
  end)

  it("marks a CPU-less (CXL) node and a memory-less node", function()
    local cxl = xml("cxl.xml")
    assert.is_true(cxl.nodes[3].cpu_less)
    assert.equal(0, cxl.nodes[3].processors)
    assert.same({}, cxl.nodes[3].cpus)
    assert.equal(131072, cxl.nodes[3].memory_mb)
    assert.is_false(cxl.nodes[1].cpu_less)
    local ml = xml("memoryless.xml")
    assert.is_true(ml.nodes[2].memory_less)
    assert.equal(0, ml.nodes[2].memory_mb)
    assert.equal(2, ml.nodes[2].processors)
  end)

  it("keeps sparse node ids", function()
    local host = synthetic("sparse.synthetic")
    assert.same({ 0, 2, 4, 6 }, ids(host))
    assert.equal(20, host.nodes[2].distances[6])
  end)

  it("offline processors and a cgroup-limited cpuset: allowed versus existing", function()
    local off = xml("offline.xml")
    assert.equal(8, off.LogicalProcessorCount)
    assert.equal(2, off.offline_processors)
    local cg = xml("cgroup.xml")
    assert.equal(6, cg.LogicalProcessorCount)
    assert.equal(16, cg.existing_processors)
    assert.same({ 0, 1, 2, 3 }, cg.nodes[1].cpus)
    assert.equal(8, cg.nodes[1].existing_processors)
    assert.same({ 8, 9 }, cg.nodes[2].cpus)
    assert.is_true(cg.nodes[1].allowed)
    assert.is_false(cg.nodes[2].allowed)
  end)

  it("takes the XML text itself", function()
    local host = assert(vmutils.host_topology({ xml = slurp(FIXTURES .. "cxl.xml") }))
    assert.equal(3, #host.nodes)
  end)

  it("returns nil and a message for a description hwloc refuses", function()
    local host, err = vmutils.host_topology({ synthetic = "pack:two" })
    assert.is_nil(host)
    assert.equal("host topology: invalid synthetic description 'pack:two'", err)
    host, err = vmutils.host_topology({ xml = FIXTURES .. "missing.xml" })
    assert.is_nil(host)
    assert.matches("missing.xml", err, 1, true)
  end)

  it("raises for wrong arguments", function()
    raises("bad argument #1 to 'host_topology' (table expected, got number)", "host_topology", 1)
    raises("xml: string expected, got number", "host_topology", { xml = 1 })
    raises("give xml or synthetic, not both", "host_topology", { xml = "a", synthetic = "b" })
  end)
end)

describe("vmutils host", function()
  it("prints one line a node, then the distances", function()
    local status, out = sh(VMUTILS .. " host --xml " .. FIXTURES .. "cxl.xml")
    assert.equal(0, status)
    assert.equal(table.concat({
      "host: 8 logical processors allowed of 8 online (0 offline), 2 packages, 8 cores, 3 NUMA nodes",
      "node 0: cpus 0-3 (4 of 4, 4 cores, package 0), memory 32768/32768 MiB free",
      "node 1: cpus 4-7 (4 of 4, 4 cores, package 1), memory 32768/32768 MiB free",
      "node 2: no cpus (memory only), memory 131072/131072 MiB free",
      "distances:",
      "         0    1    2",
      "   0    10   21   40",
      "   1    21   10   40",
      "   2    40   40   10",
      "" }, "\n"), out)
  end)

  it("shows huge pages and the cpuset", function()
    local _, out = sh(VMUTILS .. " host --xml " .. FIXTURES .. "two-socket-smt.xml --sysfs-root "
      .. FIXTURES .. "sysfs")
    assert.matches("node 0: cpus 0-15 (16 of 16, 8 cores, package 0), memory 40960/65536 MiB free, "
      .. "2M pages 1000/1024 free, 1G pages 3/4 free\n", out, 1, true)
    _, out = sh(VMUTILS .. " host --xml " .. FIXTURES .. "cgroup.xml")
    assert.matches("node 1: cpus 8-9 (2 of 8, 1 core, package 1), memory 16384/16384 MiB free, "
      .. "not allowed by the cpuset\n", out, 1, true)
  end)

  it("--json is the host_topology table", function()
    for _, name in ipairs({ "two-socket-smt.xml", "cxl.xml", "cgroup.xml", "eight-node.xml" }) do
      local status, out = sh(VMUTILS .. " host --json --xml " .. FIXTURES .. name)
      assert.equal(0, status)
      local doc = cjson.decode(out)
      local host = xml(name)
      assert.equal(host.LogicalProcessorCount, doc.LogicalProcessorCount)
      assert.equal(#host.nodes, #doc.nodes)
      for i, node in ipairs(host.nodes) do
        local got = doc.nodes[i]
        assert.equal(node.id, got.id)
        assert.same(node.cpus, got.cpus)
        assert.equal(node.free_mb, got.free_mb)
        for other, d in pairs(node.distances) do assert.equal(d, got.distances[tostring(other)]) end
      end
    end
  end)

  it("this machine, and usage errors", function()
    local status, out = sh(VMUTILS .. " host")
    assert.equal(0, status)
    assert.matches("^host: %d+ logical processors allowed", out)
    assert.matches("\nnode %d+: ", out)
    status, out = sh(VMUTILS .. " host --json")
    assert.equal(0, status)
    assert.is_true(#cjson.decode(out).nodes >= 1)
    status = sh(VMUTILS .. " host --bogus")
    assert.equal(2, status)
    local err
    status, _, err = sh(VMUTILS .. " host --synthetic " .. quote("pack:two"))
    assert.equal(1, status)
    assert.equal("vmutils host: host topology: invalid synthetic description 'pack:two'\n", err)
  end)
end)
