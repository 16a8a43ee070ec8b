-- An example script: sizes a utility VM the way hcsshim does and prints the
-- vNUMA layout of an explicit two-node topology, as a table and as the HCS
-- JSON fragment.
--
--   build/vmutils run scripts/main.lua
--   lua5.4 -e 'package.cpath="build/?.so;"..package.cpath' scripts/main.lua
local vmutils = require "vmutils"
local cjson = require "cjson"

local uvm_id = "example-uvm"

-- What a client asked for, and what the host has.
local request = { memory_mb = 4095, processors = 8 }
local host = { LogicalProcessorCount = 4, os_build = vmutils.osversion.V25H1_SERVER }
local numa_config = {
  numa_mapped_physical_nodes = { 0, 1 },
  numa_processor_counts = { 2, 2 },
  numa_memory_blocks_counts = { 2048, 2048 },
}

local function fail(message)
  io.stderr:write("main.lua: ", message, "\n")
  os.exit(1)
end

print(vmutils._VERSION)

-- Sizing: odd memory sizes and too many processors are adjusted, each with a
-- warning through the log system (stderr, logrus text format).
local memory_mb = vmutils.normalize_memory_size(uvm_id, request.memory_mb)
local processors = vmutils.normalize_processor_count(uvm_id, request.processors,
  { LogicalProcessorCount = host.LogicalProcessorCount })
print(string.format("UVM %s: %d MB (asked %d), %d processors (asked %d, host has %d)",
  uvm_id, memory_mb, request.memory_mb, processors, request.processors,
  host.LogicalProcessorCount))

print("defaults:")
print("  processors for a UVM     " .. vmutils.default_processor_count_for_uvm())
print("  LCOW boot files          " .. vmutils.default_lcow_os_boot_files_path())
print("  GCS log forwarder        " .. vmutils.linux_log_forwarder_command(true))
print("  VPMem devices            " .. vmutils.DEFAULT_VPMEM_COUNT .. " of "
  .. (vmutils.DEFAULT_VPMEM_SIZE_BYTES // (1024 * 1024 * 1024)) .. " GiB")

local numa, numa_processors, err = vmutils.prepare_vnuma_topology(numa_config,
  { os_build = host.os_build })
if err then fail(err) end
local ok, mismatch = vmutils.validate_numa_for_vm(numa, processors, memory_mb)
if not ok then fail(mismatch) end

print()
print(string.format("vNUMA layout (explicit, %d virtual nodes):", numa.VirtualNodeCount))
print("  virtual node  physical node  socket  processors  memory (MB)  backing")
for _, node in ipairs(numa.Settings) do
  print(string.format("  %12d  %13d  %6d  %10d  %11d  %s", node.VirtualNodeNumber,
    node.PhysicalNodeNumber, node.VirtualSocketNumber, node.CountOfProcessors,
    node.CountOfMemoryBlocks, node.MemoryBackingType))
end
print(string.format("  totals match the UVM: %d processors, %d MB", processors, memory_mb))

print()
print("HCS JSON:")
print(cjson.encode({ Numa = numa, NumaProcessors = numa_processors }))
