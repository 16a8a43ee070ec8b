-- The default policy: an LCOW utility VM, as hcsshim builds one.
--
-- A Lua port of what hcsshim's internal/builder/vm/lcow (topology.go,
-- boot.go) and internal/uvm (VerifyOptions, the VPMem options) decide for
-- processors, memory, vNUMA, VPMem and boot files, plus the UVM reference
-- info file. Annotations are parsed with Go's strconv rules: a value that does
-- not parse falls back to the default with hcsshim's warning. Error messages
-- are hcsshim's, wrapped as BuildSandboxConfig wraps them.
--
-- Input: the request the runtime prepares (docs/runtime.md):
--   request.annotations  the pod's annotations (string -> string)
--   request.options      runhcs options (the table unmarshal_runtime_options gives)
--   request.host         { os_build, logical_processor_count, arch, cwd }; a
--                        host that names no Windows build (the runtime adds
--                        none) is taken as Windows Server 2025
--   request.numa         "auto" (or a table of vmutils.fit_numa options): the
--                        vNUMA layout placed by vmutils.fit_numa on the host
--                        (request.host.nodes, else this machine), instead of
--                        the numa annotations (docs/numa.md)
-- Output: the matching part of an HCS ComputeSystem document:
--   VirtualMachine.ComputeTopology.{Processor, Memory, Numa},
--   VirtualMachine.Chipset, VirtualMachine.Devices.VirtualPMem,
--   VirtualMachine.ResourcePartitionId, and, outside the HCS schema,
--   ConfidentialOptions (the encoded reference info hcsshim sends the guest).
-- Fields are left out when they hold Go's zero value, as Go's omitempty does.
--
-- The runtime provides `log` (records through the vmutils logger); outside it
-- the warnings go to stderr.

local vmutils = require "vmutils"

-- Locals for the globals used per request: in the runtime's sandbox each
-- global is a lookup through the read-only environment.
local io, math, string, table = io, math, string, table
local ipairs, next, pairs, tostring, type = ipairs, next, pairs, tostring, type
local format = string.format
local go_quote, path_join, path_abs = vmutils.go.quote, vmutils.go.path_join, vmutils.go.path_abs
local INITRD_FILE, VHD_FILE = vmutils.INITRD_FILE, vmutils.VHD_FILE
local KERNEL_FILE, UNCOMPRESSED_KERNEL_FILE = vmutils.KERNEL_FILE, vmutils.UNCOMPRESSED_KERNEL_FILE

local log = log or {
  warning = function(msg, fields)
    local parts = {}
    for k, v in pairs(fields or {}) do parts[#parts + 1] = k .. "=" .. tostring(v) end
    table.sort(parts)
    io.stderr:write("level=warning msg=", msg, " ", table.concat(parts, " "), "\n")
  end,
}

-- pkg/annotations names.
local A = {
  ProcessorCount = "io.microsoft.virtualmachine.computetopology.processor.count",
  ProcessorLimit = "io.microsoft.virtualmachine.computetopology.processor.limit",
  ProcessorWeight = "io.microsoft.virtualmachine.computetopology.processor.weight",
  CPUGroupID = "io.microsoft.virtualmachine.cpugroup.id",
  ResourcePartitionID = "io.microsoft.virtualmachine.resource-partition-id",
  MemorySizeInMB = "io.microsoft.virtualmachine.computetopology.memory.sizeinmb",
  MemoryLowMMIOGapInMB = "io.microsoft.virtualmachine.computetopology.memory.lowmmiogapinmb",
  MemoryHighMMIOBaseInMB = "io.microsoft.virtualmachine.computetopology.memory.highmmiobaseinmb",
  MemoryHighMMIOGapInMB = "io.microsoft.virtualmachine.computetopology.memory.highmmiogapinmb",
  AllowOvercommit = "io.microsoft.virtualmachine.computetopology.memory.allowovercommit",
  EnableDeferredCommit = "io.microsoft.virtualmachine.computetopology.memory.enabledeferredcommit",
  EnableColdDiscardHint = "io.microsoft.virtualmachine.computetopology.memory.enablecolddiscardhint",
  FullyPhysicallyBacked = "io.microsoft.virtualmachine.fullyphysicallybacked",
  NumaMaximumProcessorsPerNode =
    "io.microsoft.virtualmachine.computetopology.processor.numa.max-processors-per-node",
  NumaMaximumMemorySizePerNode =
    "io.microsoft.virtualmachine.computetopology.processor.numa.max-size-per-node",
  NumaPreferredPhysicalNodes = "io.microsoft.virtualmachine.computetopology.numa.preferred-physical-nodes",
  NumaMappedPhysicalNodes = "io.microsoft.virtualmachine.computetopology.numa.mapped-physical-nodes",
  NumaCountOfProcessors = "io.microsoft.virtualmachine.computetopology.numa.count-of-processors",
  NumaCountOfMemoryBlocks = "io.microsoft.virtualmachine.computetopology.numa.count-of-memory-blocks",
  VPMemCount = "io.microsoft.virtualmachine.devices.virtualpmem.maximumcount",
  VPMemSize = "io.microsoft.virtualmachine.devices.virtualpmem.maximumsizebytes",
  BootFilesRootPath = "io.microsoft.virtualmachine.bootfilesrootpath",
  KernelDirectBoot = "io.microsoft.virtualmachine.lcow.kerneldirectboot",
  PreferredRootFSType = "io.microsoft.virtualmachine.lcow.preferredrootfstype",
  LCOWReferenceInfoFile = "io.microsoft.virtualmachine.lcow.uvm-reference-info-file",
  UVMHashEnvelopeReferenceInfoFile = "io.microsoft.virtualmachine.uvm-hash-envelope-reference-info-file",
}

-- The Windows build of a host that names none: Linux hosts have no Windows
-- build, and the newest one hcsshim knows of leaves every build-gated
-- feature (CPU groups, cold discard hints, vNUMA, kernel direct boot)
-- available unless a request names an older build.
local DEFAULT_OS_BUILD = vmutils.osversion.V25H1_SERVER
-- Windows builds below which a feature is refused (hcsshim's literals).
local BUILD_KERNEL_DIRECT = 18286
local BUILD_COLD_DISCARD = 18967
local DEFAULT_MEMORY_MB = 1024
local VPMEM_ALIGNMENT = 4096

---------------------------------------------------------------------------
-- Go's strconv, for annotation values (quoting: vmutils.go.quote).

local function num_error(fn, s, what)
  return format("strconv.%s: parsing %s: %s", fn, go_quote(s), what)
end

-- The digits of a base-10 unsigned value no larger than `max`: the value, or
-- nil and "syntax" or "range", in the order Go's ParseUint finds them.
local function scan_unsigned(s, max)
  if s == "" then return nil, "syntax" end
  local n = 0
  for i = 1, #s do
    local d = s:byte(i) - 48
    if d < 0 or d > 9 then return nil, "syntax" end
    if n > (max - d) // 10 then return nil, "range" end
    n = n * 10 + d
  end
  return n
end

-- Lua integers stop at 2^63-1: a uint64 past it is reported as out of range.
local MAX_UINT = { [32] = 0xffffffff, [64] = math.maxinteger }

local function parse_uint(s, bits, max)
  local n, kind = scan_unsigned(s, max or MAX_UINT[bits])
  if not n then
    return nil, num_error("ParseUint", s, kind == "range" and "value out of range" or "invalid syntax")
  end
  return n
end

local function parse_int(s, bits)
  if s == "" then return nil, num_error("ParseInt", s, "invalid syntax") end
  local digits, negative = s, false
  local sign = s:sub(1, 1)
  if sign == "+" or sign == "-" then
    digits, negative = s:sub(2), sign == "-"
  end
  local n, kind = scan_unsigned(digits, MAX_UINT[bits])
  if not n and kind == "syntax" then return nil, num_error("ParseInt", s, "invalid syntax") end
  local cutoff = 1 << (bits - 1)
  if not n or (not negative and n >= cutoff) or (negative and n > cutoff) then
    return nil, num_error("ParseInt", s, "value out of range")
  end
  return negative and -n or n
end

local BOOLS = { ["1"] = true, t = true, T = true, TRUE = true, ["true"] = true, True = true,
                ["0"] = false, f = false, F = false, FALSE = false, ["false"] = false, False = false }

local function parse_bool(s)
  local b = BOOLS[s]
  if b == nil then return nil, num_error("ParseBool", s, "invalid syntax") end
  return b
end

---------------------------------------------------------------------------
-- hcsshim's internal/oci annotation helpers.

local function warn_unparsable(key, value, expected_type, err)
  log.warning("annotation value could not be parsed", {
    ["oci-annotation"] = key,
    value = value,
    ["expected-type"] = expected_type,
    error = err,
  })
end

local function annotation_parsed(a, key, default, parse, expected_type, bits)
  local v = a[key]
  if v == nil then return default end
  local parsed, err = parse(v, bits)
  if parsed == nil then
    warn_unparsable(key, v, expected_type, err)
    return default
  end
  return parsed
end

local function annotation_bool(a, key, default)
  return annotation_parsed(a, key, default, parse_bool, "bool")
end

local function annotation_int32(a, key, default)
  return annotation_parsed(a, key, default, parse_int, "int32", 32)
end

local function annotation_uint32(a, key, default)
  return annotation_parsed(a, key, default, parse_uint, "uint32", 32)
end

local function annotation_uint64(a, key, default)
  return annotation_parsed(a, key, default, parse_uint, "uint64", 64)
end

-- The memory size is rounded up to even: 2^63-1 would become 2^63, which no
-- Lua integer holds, so that one value is out of range too.
local function parse_memory_mb(s)
  return parse_uint(s, 64, math.maxinteger - 1)
end

local function annotation_string(a, key, default)
  local v = a[key]
  if v == nil then return default end
  return v
end

-- ParseAnnotationCommaSeparatedUint32/Uint64: the whole list or the default;
-- only the uint64 variant warns, as in hcsshim.
local NO_VALUES = {} -- read only: handed to prepare_vnuma_topology

local function annotation_list(a, key, bits)
  local cs = a[key]
  if cs == nil or cs == "" then return NO_VALUES end
  local values = {}
  for item in (cs .. ","):gmatch("([^,]*),") do
    local n, err = parse_uint(item, bits)
    if n == nil then
      if bits == 64 then warn_unparsable(key, cs, "uint64", err) end
      return NO_VALUES
    end
    values[#values + 1] = n
  end
  return values
end

---------------------------------------------------------------------------
-- Files, as Go's os sees them on a '/' system (paths: vmutils.go, Go's
-- path/filepath).

-- Go's texts for the errno values a stat of a boot path can meet.
local ERRNO_TEXT = {
  [1] = "operation not permitted", [2] = "no such file or directory", [13] = "permission denied",
  [20] = "not a directory", [36] = "file name too long", [40] = "too many levels of symbolic links",
}

-- os.Stat through the sandbox's read-only io.open: true, or nil and the
-- error as Go prints a *PathError.
local function stat(path)
  local f, msg, errno = io.open(path, "r")
  if f then
    f:close()
    return true
  end
  local text = ERRNO_TEXT[errno] or (msg:match(": ([^:]*)$") or msg):gsub("^%u", string.lower)
  return nil, "stat " .. path .. ": " .. text
end

local function file_exists(dir, name)
  return stat(path_join(dir, name)) == true
end

---------------------------------------------------------------------------
-- Request checks (the runtime fills host facts; options may come from JSON).

local function integer_option(opts, name, min, max)
  local v = opts[name]
  if v == nil then return 0 end
  if math.type(v) ~= "integer" or v < min or v > max then
    return nil, format("options.%s must be an integer in [%d, %d]", name, min, max)
  end
  return v
end

-- The value, or nil when it is Go's zero value (omitempty).
local function nonzero(v)
  if v == 0 or v == false or v == "" then return nil end
  return v
end

---------------------------------------------------------------------------
-- topology.go

local function is_guid(s)
  return #s == 36 and s:match("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$") ~= nil
end

local function parse_cpu(opts, a, host, os_build)
  local requested, err = integer_option(opts, "vm_processor_count", -2147483648, 2147483647)
  if not requested then return nil, err end
  local count = annotation_int32(a, A.ProcessorCount, requested)
  if count <= 0 then count = vmutils.default_processor_count_for_uvm() end
  -- Downgrade a count the host cannot give, as Docker and the old shim did.
  count = vmutils.normalize_processor_count("", count,
    { LogicalProcessorCount = host.logical_processor_count })
  local limit = annotation_int32(a, A.ProcessorLimit, 0)
  local weight = annotation_int32(a, A.ProcessorWeight, 0)
  local processor = {
    Count = count,
    Limit = limit & 0xffffffff, -- Go: uint64(uint32(limit))
    Weight = weight & 0xffffffff,
    -- set below and with vNUMA; named so that the table has room for them
    CpuGroup = nil, NumaProcessorsSettings = nil,
  }
  local cpu_group = annotation_string(a, A.CPUGroupID, "")
  if cpu_group ~= "" then
    if os_build < vmutils.osversion.V21H1 then
      return nil, vmutils.ERR_CPU_GROUP_CREATE_NOT_SUPPORTED
    end
    processor.CpuGroup = { Id = cpu_group }
  end
  return processor
end

local function parse_resource_partition(a, processor)
  local id = annotation_string(a, A.ResourcePartitionID, "")
  if id == "" then return "" end
  if not is_guid(id) then
    return nil, format("failed to parse resource_partition_id %s to GUID: invalid GUID %s",
      go_quote(id), go_quote(id))
  end
  if processor.CpuGroup then
    return nil, "cpu_group_id and resource_partition_id cannot be set at the same time"
  end
  return id
end

local function parse_memory(opts, a, os_build, fully_physically_backed)
  -- Go converts the int32 option to uint64; a negative one would wrap.
  local requested, err = integer_option(opts, "vm_memory_size_in_mb", 0, 2147483647)
  if not requested then return nil, err end
  -- Parsed in hcsshim's order (the order of the warnings), then put in a
  -- table built whole: filling an empty one field by field regrows it.
  local size = annotation_parsed(a, A.MemorySizeInMB, requested, parse_memory_mb, "uint64")
  if size == 0 then size = DEFAULT_MEMORY_MB end
  size = vmutils.normalize_memory_size("", size)
  local low_gap = annotation_uint64(a, A.MemoryLowMMIOGapInMB, 0)
  local high_base = annotation_uint64(a, A.MemoryHighMMIOBaseInMB, 0)
  local high_gap = annotation_uint64(a, A.MemoryHighMMIOGapInMB, 0)
  local overcommit = annotation_bool(a, A.AllowOvercommit, true)
  local deferred_commit = annotation_bool(a, A.EnableDeferredCommit, false)
  if fully_physically_backed then overcommit = false end
  local cold_discard = annotation_bool(a, A.EnableColdDiscardHint, false)
  local memory = {
    SizeInMB = size, LowMmioGapInMB = low_gap, HighMmioBaseInMB = high_base,
    HighMmioGapInMB = high_gap, AllowOvercommit = overcommit,
    EnableDeferredCommit = deferred_commit, EnableColdDiscardHint = cold_discard,
    SlitType = nil, -- set with vNUMA; named so that the table has room for it
  }
  if memory.EnableColdDiscardHint and os_build < BUILD_COLD_DISCARD then
    return nil, "EnableColdDiscardHint is not supported on builds older than 18967"
  end
  if memory.EnableDeferredCommit and not memory.AllowOvercommit then
    return nil, "enable_deferred_commit is not supported on physically backed vms"
  end
  return memory
end

-- The explicit layout vmutils.fit_numa places for numa = "auto".
local function fit_numa(numa, host, processor_count, memory_mb)
  local topology, err = host.nodes and host or vmutils.host_topology()
  if not topology then return nil, err end
  if numa ~= "auto" and type(numa) ~= "table" then return nil, 'numa must be "auto" or an object' end
  local opts = type(numa) == "table" and numa or nil
  local config, why = vmutils.fit_numa({ processors = processor_count, memory_mb = memory_mb }, topology, opts)
  if not config then return nil, why end
  return config
end

local function parse_numa(a, host, os_build, processor_count, memory_mb, allow_overcommit, auto)
  local config, err
  if auto ~= nil then config, err = fit_numa(auto, host, processor_count, memory_mb) end
  if err then return nil, nil, err end
  config = config or {
    max_processors_per_numa_node = annotation_uint32(a, A.NumaMaximumProcessorsPerNode, 0),
    max_memory_size_per_numa_node = annotation_uint64(a, A.NumaMaximumMemorySizePerNode, 0),
    preferred_physical_numa_nodes = annotation_list(a, A.NumaPreferredPhysicalNodes, 32),
    numa_mapped_physical_nodes = annotation_list(a, A.NumaMappedPhysicalNodes, 32),
    numa_processor_counts = annotation_list(a, A.NumaCountOfProcessors, 32),
    numa_memory_blocks_counts = annotation_list(a, A.NumaCountOfMemoryBlocks, 64),
  }
  local numa, numa_processors
  numa, numa_processors, err = vmutils.prepare_vnuma_topology(config, { os_build = os_build })
  if err then return nil, nil, "failed to prepare vNUMA topology: " .. err end
  if numa then
    if allow_overcommit then
      return nil, nil, "vNUMA supports only Physical memory backing type"
    end
    local ok, verr = vmutils.validate_numa_for_vm(numa, processor_count, memory_mb)
    if not ok then return nil, nil, "failed to validate vNUMA settings: " .. verr end
  end
  return numa or false, numa_processors or false
end

---------------------------------------------------------------------------
-- boot.go

local function resolve_boot_files_path(opts, a, host)
  local from_options = opts.boot_files_root_path
  if from_options ~= nil and type(from_options) ~= "string" then
    return nil, "options.boot_files_root_path must be a string"
  end
  -- The annotation wins over the options, as in the old shim.
  local root = annotation_string(a, A.BootFilesRootPath, from_options or "")
  if root == "" then root = vmutils.default_lcow_os_boot_files_path() end
  root = path_abs(root, host.cwd)
  local ok, err = stat(root)
  if not ok then
    return nil, format("boot_files_root_path %s not found: %s", go_quote(root), err)
  end
  return root
end

local function parse_boot(opts, a, host, os_build)
  local root, err = resolve_boot_files_path(opts, a, host)
  if not root then return nil, nil, err end

  -- The root file system: the preferred type when one is named (checked
  -- below), else the VHD when there is one (no need to look when named).
  local preferred = annotation_string(a, A.PreferredRootFSType, "")
  local rootfs = INITRD_FILE
  if preferred == "" and file_exists(root, VHD_FILE) then rootfs = VHD_FILE end

  -- Hyper-V has no kernel direct boot on arm64 yet.
  local kernel_direct_supported = os_build >= BUILD_KERNEL_DIRECT and host.arch ~= "arm64"
  local kernel_direct = annotation_bool(a, A.KernelDirectBoot, kernel_direct_supported)
  if kernel_direct and not kernel_direct_supported then
    return nil, nil, "KernelDirectBoot is not supported on builds older than 18286"
  end

  local kernel
  if kernel_direct then
    if file_exists(root, UNCOMPRESSED_KERNEL_FILE) then
      kernel = UNCOMPRESSED_KERNEL_FILE
    elseif file_exists(root, KERNEL_FILE) then
      kernel = KERNEL_FILE
    else
      return nil, nil, "kernel file not found in boot files path for kernel direct boot"
    end
  else
    kernel = KERNEL_FILE
    if not file_exists(root, kernel) then
      return nil, nil, format("kernel file %s not found in boot files path: file does not exist",
        go_quote(kernel))
    end
  end

  if preferred ~= "" then
    if preferred == "initrd" then
      rootfs = INITRD_FILE
    elseif preferred == "vhd" then
      rootfs = VHD_FILE
    else
      return nil, nil, "invalid PreferredRootFSType: " .. preferred
    end
    if not file_exists(root, rootfs) then
      return nil, nil, go_quote(rootfs) .. " not found in boot files path"
    end
  end

  local chipset
  if kernel_direct then
    chipset = { LinuxKernelDirect = { KernelFilePath = path_join(root, kernel) } }
    if rootfs == INITRD_FILE then
      chipset.LinuxKernelDirect.InitRdPath = path_join(root, rootfs)
    end
  else
    chipset = { Uefi = { BootThis = { DevicePath = "\\" .. kernel, DeviceType = "VmbFs",
                                      VmbFsRootPath = root } } }
  end
  return chipset, { root = root, rootfs = rootfs }
end

---------------------------------------------------------------------------
-- internal/uvm: the VPMem options and VerifyOptions' checks of them.

local function parse_vpmem(a, host, fully_physically_backed, boot)
  local default_count = host.arch == "arm64" and 0 or vmutils.DEFAULT_VPMEM_COUNT
  local count = annotation_uint32(a, A.VPMemCount, default_count)
  local size = annotation_uint64(a, A.VPMemSize, vmutils.DEFAULT_VPMEM_SIZE_BYTES)
  if fully_physically_backed then count = 0 end
  if count > vmutils.MAX_VPMEM_COUNT then
    return nil, format("VPMem device count cannot be greater than %d", vmutils.MAX_VPMEM_COUNT)
  end
  if count > 0 and size % VPMEM_ALIGNMENT ~= 0 then
    return nil, "VPMemSizeBytes must be a multiple of 4096"
  end
  if host.arch == "arm64" and count > 0 then
    return nil, "VPMem devices are not supported on ARM64"
  end
  if count == 0 then return false end
  local vpmem = { MaximumCount = count, MaximumSizeBytes = size }
  if boot.rootfs == VHD_FILE then
    -- The VHD root file system boots from the first VPMem device. (hcsshim
    -- means to pick "Vhdx" for .vhdx files, but compares the extension with
    -- its dot against "vhdx", so it is always "Vhd1".)
    vpmem.Devices = { ["0"] = { HostPath = path_join(boot.root, boot.rootfs), ReadOnly = true,
                                ImageFormat = "Vhd1" } }
  end
  return vpmem
end

---------------------------------------------------------------------------
-- The reference info files (internal/controller/vm): read from the boot
-- files directory, base64-encoded.

local REFERENCE_FILES = {
  { A.LCOWReferenceInfoFile, "EncodedUVMReference", "failed to parse UVM reference info: " },
  { A.UVMHashEnvelopeReferenceInfoFile, "EncodedUVMHashEnvelopeReference",
    "failed to parse UVM hash envelope reference info: " },
}

local function parse_reference_info(a, root)
  local confidential = false
  for _, p in ipairs(REFERENCE_FILES) do
    local name = a[p[1]]
    if name ~= nil then
      local encoded, err = vmutils.parse_uvm_reference_info(root, name)
      if not encoded then return nil, p[3] .. err end
      if encoded ~= "" then
        confidential = confidential or {}
        confidential[p[2]] = encoded
      end
    end
  end
  return confidential
end

---------------------------------------------------------------------------

-- Pod annotations over the options' default_container_annotations.
-- Without default annotations (the usual case) the pod's are used as they
-- are: the policy only reads them.
local function merged_annotations(request, opts)
  local defaults = opts.default_container_annotations
  if defaults ~= nil and type(defaults) ~= "table" then
    return nil, "options.default_container_annotations must be an object of strings"
  end
  if defaults == nil or next(defaults) == nil then return request.annotations or {} end
  local a = {}
  for k, v in pairs(defaults) do
    if type(k) ~= "string" or type(v) ~= "string" then
      return nil, "options.default_container_annotations must be an object of strings"
    end
    a[k] = v
  end
  for k, v in pairs(request.annotations or {}) do a[k] = v end
  return a
end

local function build(request)
  local opts = request.options or {}
  local host = request.host
  local os_build = host.os_build or DEFAULT_OS_BUILD
  local a, err = merged_annotations(request, opts)
  if not a then return nil, err end

  local fully_physically_backed = annotation_bool(a, A.FullyPhysicallyBacked, false)

  local processor
  processor, err = parse_cpu(opts, a, host, os_build)
  if not processor then return nil, "failed to parse CPU parameters: " .. err end

  local resource_partition
  resource_partition, err = parse_resource_partition(a, processor)
  if not resource_partition then return nil, "failed to parse resource partition parameters: " .. err end

  local memory
  memory, err = parse_memory(opts, a, os_build, fully_physically_backed)
  if not memory then return nil, "failed to parse memory parameters: " .. err end

  local numa, numa_processors
  numa, numa_processors, err = parse_numa(a, host, os_build, processor.Count, memory.SizeInMB, memory.AllowOvercommit,
    request.numa)
  if err then return nil, "failed to parse NUMA parameters: " .. err end
  processor.NumaProcessorsSettings = numa_processors or nil
  if numa or numa_processors then memory.SlitType = "FirmwareFallbackMeasured" end

  local chipset, boot
  chipset, boot, err = parse_boot(opts, a, host, os_build)
  if not chipset then return nil, "failed to parse boot options: " .. err end

  local vpmem
  vpmem, err = parse_vpmem(a, host, fully_physically_backed, boot)
  if vpmem == nil then return nil, err end

  local confidential
  confidential, err = parse_reference_info(a, boot.root)
  if confidential == nil then return nil, err end

  for k, v in pairs(processor) do processor[k] = nonzero(v) end
  for k, v in pairs(memory) do memory[k] = nonzero(v) end
  return {
    VirtualMachine = {
      Chipset = chipset,
      ComputeTopology = { Processor = processor, Memory = memory, Numa = numa or nil },
      Devices = vpmem and { VirtualPMem = vpmem } or nil,
      ResourcePartitionId = nonzero(resource_partition),
    },
    ConfidentialOptions = confidential or nil,
  }
end

return build
