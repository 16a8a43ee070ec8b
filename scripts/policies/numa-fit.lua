-- A NUMA-aware VM: the processors and memory asked for, placed on the host's
-- NUMA nodes by vmutils.fit_numa, as an explicit vNUMA topology.
--
-- Input (docs/numa.md):
--   request.processors  vCPUs (clamped to the host's logical processors)
--   request.memory_mb   MiB (rounded up to a multiple of 2 MiB)
--   request.numa        vmutils.fit_numa options: policy, max_nodes,
--                       cpu_allocation_ratio, ram_allocation_ratio, reserved,
--                       page_size, spread (absent: restricted, no limit)
--   request.host        with `nodes` (the table vmutils.host_topology gives,
--                       e.g. from `vmutils host --json`): that host; without:
--                       this machine, discovered at each request; os_build
--                       (absent: Windows Server 2025, 26100)
-- Output: VirtualMachine.ComputeTopology.{Processor, Memory, Numa} of an HCS
-- ComputeSystem document, or nil and the reason no placement fits.

local vmutils = require "vmutils"

local type = type

local DEFAULT_PROCESSORS = 2
local DEFAULT_MEMORY_MB = 1024
-- The Windows build of a host that names none (Linux hosts have none): the
-- first with vNUMA, as lcow.lua assumes.
local DEFAULT_OS_BUILD = vmutils.osversion.V25H1_SERVER

local function integer_field(request, key, default)
  local v = request[key]
  if v == nil then return default end
  if math.type(v) ~= "integer" or v < 1 then
    return nil, key .. " must be a positive integer"
  end
  return v
end

-- The host the request names, or this machine.
local function host_of(request)
  local host = request.host
  if type(host) == "table" and type(host.nodes) == "table" then
    if host.LogicalProcessorCount == nil then
      local count = 0
      for _, node in ipairs(host.nodes) do count = count + (node.processors or 0) end
      host.LogicalProcessorCount = count
    end
    return host
  end
  return vmutils.host_topology()
end

return function(request)
  local processors, err = integer_field(request, "processors", DEFAULT_PROCESSORS)
  if not processors then return nil, err end
  local memory_mb
  memory_mb, err = integer_field(request, "memory_mb", DEFAULT_MEMORY_MB)
  if not memory_mb then return nil, err end
  local numa = request.numa
  if numa ~= nil and type(numa) ~= "table" then return nil, "numa must be an object" end

  local host
  host, err = host_of(request)
  if not host then return nil, "host topology: " .. err end

  processors = vmutils.normalize_processor_count("", processors,
    { LogicalProcessorCount = host.LogicalProcessorCount })
  memory_mb = vmutils.normalize_memory_size("", memory_mb)

  local config, placement = vmutils.fit_numa({ processors = processors, memory_mb = memory_mb }, host, numa)
  if not config then return nil, placement end

  local os_build = type(request.host) == "table" and request.host.os_build or DEFAULT_OS_BUILD
  local topology, _, perr = vmutils.prepare_vnuma_topology(config, { os_build = os_build })
  if perr then return nil, "failed to prepare vNUMA topology: " .. perr end
  if topology then
    local ok, verr = vmutils.validate_numa_for_vm(topology, processors, memory_mb)
    if not ok then return nil, "failed to validate vNUMA settings: " .. verr end
  end

  return {
    VirtualMachine = {
      ComputeTopology = {
        Processor = { Count = processors },
        Memory = {
          SizeInMB = memory_mb,
          SlitType = topology and "FirmwareFallbackMeasured" or nil,
        },
        Numa = topology,
      },
    },
  }
end
