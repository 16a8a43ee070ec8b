-- The default policy, scripts/policies/lcow.lua, rule by rule. Each case
-- names its counterpart in hcsshim's internal/builder/vm/lcow/specs_test.go
-- (or says what hcsshim code it follows when the builder has no test). The
-- policy runs here under plain Lua with the request the runtime would
-- prepare; spec/policy_spec.lua runs it through build/vmutils.
local vmutils = require "vmutils"

local POLICY = "scripts/policies/lcow.lua"
local HOST_CPUS = 8

-- hcsshim's pkg/annotations names, spelled out here rather than taken from
-- the policy: a misspelt name in the policy must fail these specs, not pass
-- them by agreeing with itself.
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
  NumaMaximumProcessorsPerNode = "io.microsoft.virtualmachine.computetopology.processor.numa.max-processors-per-node",
  NumaMaximumMemorySizePerNode = "io.microsoft.virtualmachine.computetopology.processor.numa.max-size-per-node",
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

---------------------------------------------------------------------------
-- Boot-file directories, as specs_test.go's newBootFilesPath and
-- TestBuildSandboxConfig_BootOptions lay them out.

local base = os.tmpname()
os.remove(base)
local function make_dir(name, files)
  local dir = base .. "-" .. name
  assert(os.execute("mkdir -p '" .. dir .. "'"))
  for _, f in ipairs(files) do
    local h = assert(io.open(dir .. "/" .. f, "w"))
    h:write(f == "reference_info.cose" and "ref\0bytes" or "test")
    h:close()
  end
  return dir
end

local dirs = {
  valid = make_dir("valid", { "kernel", "vmlinux", "initrd.img", "rootfs.vhd", "reference_info.cose" }),
  vhd_only = make_dir("vhd_only", { "kernel", "vmlinux", "rootfs.vhd" }),
  initrd_only = make_dir("initrd_only", { "kernel", "initrd.img" }),
  uncompressed_only = make_dir("uncompressed_only", { "vmlinux", "initrd.img", "rootfs.vhd" }),
  missing_kernel = make_dir("missing_kernel", { "initrd.img" }),
  missing_initrd = make_dir("missing_initrd", { "kernel" }),
}

teardown(function()
  for _, dir in pairs(dirs) do os.execute("rm -rf '" .. dir .. "'") end
end)

---------------------------------------------------------------------------

local function load_policy()
  local records = {}
  local env = setmetatable({
    log = {
      warning = function(msg, fields) records[#records + 1] = { msg = msg, fields = fields } end,
    },
  }, { __index = _G })
  local chunk = assert(loadfile(POLICY, "t", env))
  return chunk(), records
end

-- A prepared request: options over the proto3 defaults, host facts given.
local function request(annotations, options, host)
  local opts = assert(vmutils.unmarshal_runtime_options(nil))
  opts.boot_files_root_path = dirs.valid
  for k, v in pairs(options or {}) do opts[k] = v end
  local h = { os_build = 26100, logical_processor_count = HOST_CPUS, arch = "amd64", cwd = "/" }
  for k, v in pairs(host or {}) do h[k] = v end
  return { annotations = annotations or {}, options = opts, host = h }
end

local function run(annotations, options, host)
  local build, records = load_policy()
  local doc, err = build(request(annotations, options, host))
  return doc, err, records
end

local function document(annotations, options, host)
  local doc, err, records = run(annotations, options, host)
  assert(doc, err)
  return doc.VirtualMachine, records, doc
end

local function rejection(annotations, options, host)
  local doc, err = run(annotations, options, host)
  assert.is_nil(doc)
  assert.is_string(err)
  return err
end

local function topology(annotations, options, host)
  local vm = document(annotations, options, host)
  return vm.ComputeTopology.Processor, vm.ComputeTopology.Memory, vm
end

describe("lcow policy: TestBuildSandboxConfig", function()
  it("minimal valid config for linux/amd64", function()
    local processor, memory, vm = topology()
    assert.is_table(processor)
    assert.equal(1024, memory.SizeInMB)
    assert.is_nil(processor.CpuGroup)
    assert.is_nil(vm.StorageQoS)
    assert.is_true(memory.AllowOvercommit)
    assert.equal(vmutils.default_processor_count_for_uvm(), processor.Count)
  end)

  it("CPU configuration from options", function()
    local processor = topology(nil, { vm_processor_count = 4 })
    assert.equal(4, processor.Count)
  end)

  it("CPU configuration from annotations", function()
    local processor = topology({
      [A.ProcessorCount] = tostring(HOST_CPUS),
      [A.ProcessorLimit] = "50000",
      [A.ProcessorWeight] = "500",
    })
    assert.equal(HOST_CPUS, processor.Count)
    assert.equal(50000, processor.Limit)
    assert.equal(500, processor.Weight)
  end)

  it("memory configuration from options", function()
    local _, memory = topology(nil, { vm_memory_size_in_mb = 2048 })
    assert.equal(2048, memory.SizeInMB)
  end)

  it("memory configuration from annotations", function()
    local _, memory = topology({
      [A.MemorySizeInMB] = "4096",
      [A.AllowOvercommit] = "false",
      [A.EnableDeferredCommit] = "false",
      [A.FullyPhysicallyBacked] = "true",
    })
    assert.equal(4096, memory.SizeInMB)
    -- false is Go's zero value: omitempty leaves it out.
    assert.is_nil(memory.AllowOvercommit)
    assert.is_nil(memory.EnableDeferredCommit)
  end)

  it("overcommit off alone marks VM physically backed", function()
    local _, memory = topology({ [A.AllowOvercommit] = "false" })
    assert.is_nil(memory.AllowOvercommit)
  end)

  it("memory MMIO configuration", function()
    local _, memory = topology({
      [A.MemoryLowMMIOGapInMB] = "256",
      [A.MemoryHighMMIOBaseInMB] = "1024",
      [A.MemoryHighMMIOGapInMB] = "512",
    })
    assert.equal(256, memory.LowMmioGapInMB)
    assert.equal(1024, memory.HighMmioBaseInMB)
    assert.equal(512, memory.HighMmioGapInMB)
  end)

  it("boot options with kernel direct", function()
    local _, memory, vm = topology({
      [A.KernelDirectBoot] = "true",
      [A.PreferredRootFSType] = "vhd",
      [A.EnableColdDiscardHint] = "true",
    })
    assert.is_table(vm.Chipset.LinuxKernelDirect)
    assert.equal(dirs.valid .. "/vmlinux", vm.Chipset.LinuxKernelDirect.KernelFilePath)
    assert.is_nil(vm.Chipset.LinuxKernelDirect.InitRdPath)
    assert.is_true(memory.EnableColdDiscardHint)
  end)

  it("boot options with initrd preferred", function()
    local vm = document({ [A.PreferredRootFSType] = "initrd" })
    assert.equal(dirs.valid .. "/initrd.img", vm.Chipset.LinuxKernelDirect.InitRdPath)
  end)

  it("invalid preferred rootfs type", function()
    assert.equal("failed to parse boot options: invalid PreferredRootFSType: invalid",
      rejection({ [A.PreferredRootFSType] = "invalid" }))
  end)

  it("boot files path not found", function()
    assert.equal('failed to parse boot options: boot_files_root_path "/nonexistent/path" not found: '
      .. "stat /nonexistent/path: no such file or directory",
      rejection(nil, { boot_files_root_path = "/nonexistent/path" }))
  end)

  -- hcsshim's v2 builder refuses VPMem; the policy keeps internal/uvm's VPMem
  -- rules (defaults 64 and 4 GiB, VerifyOptions' checks), as the issue asks.
  it("device options with VPMem are rejected by v2 shims (uvm: count and size kept)", function()
    local vm = document({ [A.VPMemCount] = "32", [A.VPMemSize] = "8589934592" })
    assert.equal(32, vm.Devices.VirtualPMem.MaximumCount)
    assert.equal(8589934592, vm.Devices.VirtualPMem.MaximumSizeBytes)
  end)

  it("VPMem size annotation alone does not enable VPMem (uvm: the default count applies)", function()
    local vm = document({ [A.VPMemSize] = "8192" })
    assert.equal(vmutils.DEFAULT_VPMEM_COUNT, vm.Devices.VirtualPMem.MaximumCount)
    assert.equal(8192, vm.Devices.VirtualPMem.MaximumSizeBytes)
    assert.equal("VPMemSizeBytes must be a multiple of 4096", rejection({ [A.VPMemSize] = "12345" }))
  end)

  it("fully physically backed disables VPMem", function()
    local vm = document({ [A.FullyPhysicallyBacked] = "true", [A.VPMemCount] = "64" })
    assert.is_nil(vm.Devices)
  end)

  it("CPU group ID", function()
    local processor = topology({ [A.CPUGroupID] = "12345678-1234-5678-1234-567812345678" })
    assert.same({ Id = "12345678-1234-5678-1234-567812345678" }, processor.CpuGroup)
  end)

  it("valid resource partition ID does not cause error", function()
    local vm = document({ [A.ResourcePartitionID] = "87654321-4321-8765-4321-876543218765" })
    assert.equal("87654321-4321-8765-4321-876543218765", vm.ResourcePartitionId)
  end)

  it("CPU group and resource partition conflict", function()
    assert.equal("failed to parse resource partition parameters: cpu_group_id and resource_partition_id "
      .. "cannot be set at the same time", rejection({
        [A.CPUGroupID] = "12345678-1234-5678-1234-567812345678",
        [A.ResourcePartitionID] = "87654321-4321-8765-4321-876543218765",
      }))
  end)

  it("invalid resource partition GUID", function()
    assert.equal('failed to parse resource partition parameters: failed to parse resource_partition_id '
      .. '"not-a-guid" to GUID: invalid GUID "not-a-guid"',
      rejection({ [A.ResourcePartitionID] = "not-a-guid" }))
  end)

  it("quotes a value as strconv.Quote does: runes Go does not print are escaped", function()
    assert.equal('failed to parse resource partition parameters: failed to parse resource_partition_id '
      .. '"a\\u2028\\u00adb" to GUID: invalid GUID "a\\u2028\\u00adb"',
      rejection({ [A.ResourcePartitionID] = "a\u{2028}\u{ad}b" }))
  end)

  it("default container annotations applied", function()
    local processor, memory = topology(nil, {
      default_container_annotations = { [A.ProcessorCount] = "4", [A.MemorySizeInMB] = "2048" },
    })
    assert.equal(4, processor.Count)
    assert.equal(2048, memory.SizeInMB)
  end)

  it("annotations override default container annotations", function()
    local processor = topology({ [A.ProcessorCount] = tostring(HOST_CPUS) },
      { default_container_annotations = { [A.ProcessorCount] = "2" } })
    assert.equal(HOST_CPUS, processor.Count)
  end)

  it("comprehensive configuration", function()
    local processor, memory, vm = topology({
      [A.ProcessorLimit] = "80000",
      [A.ProcessorWeight] = "500",
      [A.AllowOvercommit] = "false",
      [A.FullyPhysicallyBacked] = "true",
      [A.KernelDirectBoot] = "true",
      [A.PreferredRootFSType] = "vhd",
    }, { vm_processor_count = 4, vm_memory_size_in_mb = 4096 })
    assert.equal(4, processor.Count)
    assert.equal(80000, processor.Limit)
    assert.equal(4096, memory.SizeInMB)
    assert.is_table(vm.Chipset.LinuxKernelDirect)
    assert.is_nil(vm.Devices)
  end)
end)

describe("lcow policy: TestBuildSandboxConfig_EdgeCases", function()
  it("zero processor count falls back to default", function()
    local processor = topology(nil, { vm_processor_count = 0 })
    assert.equal(vmutils.default_processor_count_for_uvm(), processor.Count)
  end)

  it("negative processor count annotation falls back to default", function()
    local processor = topology({ [A.ProcessorCount] = "-1" })
    assert.equal(vmutils.default_processor_count_for_uvm(), processor.Count)
  end)

  it("zero memory size falls back to default 1024", function()
    local _, memory = topology(nil, { vm_memory_size_in_mb = 0 })
    assert.equal(1024, memory.SizeInMB)
  end)

  it("processor limit at maximum", function()
    assert.equal(100000, (topology({ [A.ProcessorLimit] = "100000" })).Limit)
  end)

  it("processor weight at maximum", function()
    assert.equal(10000, (topology({ [A.ProcessorWeight] = "10000" })).Weight)
  end)

  it("boot files path annotation overrides options", function()
    local vm = document({ [A.BootFilesRootPath] = dirs.initrd_only },
      { boot_files_root_path = "/nonexistent/path" })
    assert.equal(dirs.initrd_only .. "/kernel", vm.Chipset.LinuxKernelDirect.KernelFilePath)
  end)

  it("empty annotations map with defaults", function()
    local processor = topology({}, { default_container_annotations = { [A.ProcessorCount] = "4" } })
    assert.equal(4, processor.Count)
  end)
end)

describe("lcow policy: TestBuildSandboxConfig_ErrorPaths", function()
  it("kernel file not found in boot files path", function()
    assert.equal("failed to parse boot options: kernel file not found in boot files path for kernel "
      .. "direct boot", rejection(nil, { boot_files_root_path = dirs.missing_kernel }))
    assert.equal('failed to parse boot options: kernel file "kernel" not found in boot files path: '
      .. "file does not exist",
      rejection({ [A.KernelDirectBoot] = "false" }, { boot_files_root_path = dirs.missing_kernel }))
  end)

  it("initrd file not found when preferred", function()
    assert.equal('failed to parse boot options: "initrd.img" not found in boot files path',
      rejection({ [A.PreferredRootFSType] = "initrd" }, { boot_files_root_path = dirs.missing_initrd }))
  end)

  it("deferred commit not supported with physical backing", function()
    assert.equal("failed to parse memory parameters: enable_deferred_commit is not supported on "
      .. "physically backed vms",
      rejection({ [A.EnableDeferredCommit] = "true", [A.FullyPhysicallyBacked] = "true" }))
  end)
end)

describe("lcow policy: TestBuildSandboxConfig_BootOptions", function()
  it("boot with VHD only (no initrd)", function()
    local vm = document(nil, { boot_files_root_path = dirs.vhd_only })
    assert.is_nil(vm.Chipset.LinuxKernelDirect.InitRdPath)
    -- internal/uvm boots a VHD root file system from the first VPMem device.
    assert.same({ HostPath = dirs.vhd_only .. "/rootfs.vhd", ReadOnly = true, ImageFormat = "Vhd1" },
      vm.Devices.VirtualPMem.Devices["0"])
  end)

  it("boot with initrd only (no VHD)", function()
    local vm = document(nil, { boot_files_root_path = dirs.initrd_only })
    assert.equal(dirs.initrd_only .. "/initrd.img", vm.Chipset.LinuxKernelDirect.InitRdPath)
    assert.is_nil(vm.Devices.VirtualPMem.Devices)
  end)

  it("kernel direct with only uncompressed kernel", function()
    local vm = document({ [A.KernelDirectBoot] = "true" }, { boot_files_root_path = dirs.uncompressed_only })
    assert.equal(dirs.uncompressed_only .. "/vmlinux", vm.Chipset.LinuxKernelDirect.KernelFilePath)
  end)

  it("kernel direct with regular kernel (no uncompressed)", function()
    local vm = document({ [A.KernelDirectBoot] = "true" }, { boot_files_root_path = dirs.initrd_only })
    assert.equal(dirs.initrd_only .. "/kernel", vm.Chipset.LinuxKernelDirect.KernelFilePath)
  end)

  it("UEFI boot mode (kernel direct disabled)", function()
    local vm = document({ [A.KernelDirectBoot] = "false" }, { boot_files_root_path = dirs.initrd_only })
    assert.is_nil(vm.Chipset.LinuxKernelDirect)
    assert.same({ BootThis = { DevicePath = "\\kernel", DeviceType = "VmbFs",
                               VmbFsRootPath = dirs.initrd_only } }, vm.Chipset.Uefi)
  end)
end)

describe("lcow policy: TestBuildSandboxConfig_NUMA", function()
  it("NUMA configuration implicit", function()
    local processor, memory, vm = topology({
      [A.NumaMaximumProcessorsPerNode] = "4",
      [A.NumaMaximumMemorySizePerNode] = "2048",
      [A.NumaPreferredPhysicalNodes] = "0,1,2",
      [A.FullyPhysicallyBacked] = "true",
    })
    assert.equal(4, processor.NumaProcessorsSettings.count_per_node.max)
    local numa = vm.ComputeTopology.Numa
    assert.equal(2048, numa.MaxSizePerNode)
    assert.equal(3, #numa.PreferredPhysicalNodes)
    assert.equal("FirmwareFallbackMeasured", memory.SlitType)
  end)

  it("NUMA configuration explicit", function()
    local processor, memory, vm = topology({
      [A.NumaMappedPhysicalNodes] = "0,1",
      [A.NumaCountOfProcessors] = "2,2",
      [A.NumaCountOfMemoryBlocks] = "1024,1024",
      [A.FullyPhysicallyBacked] = "true",
    }, { vm_processor_count = 4, vm_memory_size_in_mb = 2048 })
    local numa = vm.ComputeTopology.Numa
    assert.equal(2, numa.VirtualNodeCount)
    assert.equal(2, #numa.Settings)
    assert.equal(0, numa.Settings[1].PhysicalNodeNumber)
    assert.equal(2, numa.Settings[1].CountOfProcessors)
    assert.equal(1024, numa.Settings[1].CountOfMemoryBlocks)
    assert.equal("Physical", numa.Settings[1].MemoryBackingType)
    assert.is_nil(processor.NumaProcessorsSettings)
    assert.equal("FirmwareFallbackMeasured", memory.SlitType)
  end)

  it("NUMA configuration explicit mismatch error", function()
    local err = rejection({
      [A.NumaMappedPhysicalNodes] = "0,1",
      [A.NumaCountOfProcessors] = "2",
      [A.NumaCountOfMemoryBlocks] = "1024,1024",
    })
    assert.matches("^failed to parse NUMA parameters: failed to prepare vNUMA topology: ", err)
    assert.matches("mismatch in number of physical numa nodes", err, 1, true)
  end)

  it("NUMA configuration requires physical backing", function()
    assert.equal("failed to parse NUMA parameters: vNUMA supports only Physical memory backing type",
      rejection({
        [A.NumaMaximumProcessorsPerNode] = "4",
        [A.NumaMaximumMemorySizePerNode] = "2048",
        [A.AllowOvercommit] = "true",
      }))
  end)

  it("invalid explicit settings fail validate_numa_for_vm", function()
    local err = rejection({
      [A.NumaMappedPhysicalNodes] = "0,1",
      [A.NumaCountOfProcessors] = "2,2",
      [A.NumaCountOfMemoryBlocks] = "1024,1024",
      [A.FullyPhysicallyBacked] = "true",
    }, { vm_processor_count = 2, vm_memory_size_in_mb = 2048 })
    assert.matches("^failed to parse NUMA parameters: failed to validate vNUMA settings: ", err)
  end)

  it("no NUMA annotations: no Numa, no SlitType", function()
    local processor, memory, vm = topology()
    assert.is_nil(vm.ComputeTopology.Numa)
    assert.is_nil(processor.NumaProcessorsSettings)
    assert.is_nil(memory.SlitType)
  end)
end)

describe("lcow policy: TestBuildSandboxConfig_NUMA_OldWindows", function()
  it("refuses vNUMA below build 26100", function()
    local err = rejection({
      [A.NumaMaximumProcessorsPerNode] = "4",
      [A.NumaMaximumMemorySizePerNode] = "2048",
      [A.FullyPhysicallyBacked] = "true",
    }, nil, { os_build = vmutils.osversion.V21H2_SERVER })
    assert.matches("vNUMA topology is not supported", err, 1, true)
  end)
end)

describe("lcow policy: TestBuildSandboxConfig_CPUClamping", function()
  it("clamps a count above the host's to the host's", function()
    local processor = topology({ [A.ProcessorCount] = tostring(HOST_CPUS * 2) })
    assert.equal(HOST_CPUS, processor.Count)
  end)
end)

describe("lcow policy: build-gated rules (topology.go, boot.go, uvm VerifyOptions)", function()
  it("CPU groups need build 19043", function()
    assert.equal("failed to parse CPU parameters: " .. vmutils.ERR_CPU_GROUP_CREATE_NOT_SUPPORTED,
      rejection({ [A.CPUGroupID] = "12345678-1234-5678-1234-567812345678" }, nil,
        { os_build = vmutils.osversion.V21H1 - 1 }))
    local processor = topology({ [A.CPUGroupID] = "g" }, nil, { os_build = vmutils.osversion.V21H1 })
    assert.same({ Id = "g" }, processor.CpuGroup)
  end)

  it("cold discard hints need build 18967", function()
    assert.equal("failed to parse memory parameters: EnableColdDiscardHint is not supported on builds "
      .. "older than 18967", rejection({ [A.EnableColdDiscardHint] = "true" }, nil, { os_build = 18966 }))
  end)

  it("kernel direct boot: default on from build 18286, refused below", function()
    local vm = document(nil, nil, { os_build = 18285 })
    assert.is_nil(vm.Chipset.LinuxKernelDirect)
    assert.equal("\\kernel", vm.Chipset.Uefi.BootThis.DevicePath)
    assert.equal("failed to parse boot options: KernelDirectBoot is not supported on builds older "
      .. "than 18286", rejection({ [A.KernelDirectBoot] = "true" }, nil, { os_build = 18285 }))
    vm = document(nil, nil, { os_build = 18286 })
    assert.is_table(vm.Chipset.LinuxKernelDirect)
  end)

  it("a host without os_build is taken as Windows Server 2025 (26100)", function()
    local annotations = {
      [A.CPUGroupID] = "g", [A.EnableColdDiscardHint] = "true",
      [A.NumaMaximumProcessorsPerNode] = "1", [A.NumaMaximumMemorySizePerNode] = "512",
      [A.FullyPhysicallyBacked] = "true",
    }
    local build = load_policy()
    local without = request(annotations)
    without.host.os_build = nil
    local doc, err = build(without)
    assert.is_nil(err)
    assert.same(build(request(annotations, nil, { os_build = 26100 })), doc)
    assert.is_table(doc.VirtualMachine.Chipset.LinuxKernelDirect)
    assert.is_table(doc.VirtualMachine.ComputeTopology.Numa)
    assert.is_nil(without.host.os_build) -- the request is read, not filled in
  end)

  it("arm64: no kernel direct boot and no VPMem by default", function()
    local vm = document(nil, nil, { arch = "arm64" })
    assert.is_table(vm.Chipset.Uefi)
    assert.is_nil(vm.Devices)
    assert.equal("VPMem devices are not supported on ARM64",
      rejection({ [A.VPMemCount] = "4" }, nil, { arch = "arm64" }))
  end)

  it("VPMem count is at most 128", function()
    assert.equal(128, document({ [A.VPMemCount] = "128" }).Devices.VirtualPMem.MaximumCount)
    assert.equal("VPMem device count cannot be greater than 128", rejection({ [A.VPMemCount] = "129" }))
  end)

  it("VPMem count 0 turns VPMem off, whatever the size", function()
    assert.is_nil(document({ [A.VPMemCount] = "0", [A.VPMemSize] = "12345" }).Devices)
  end)
end)

describe("lcow policy: annotation values (internal/oci ParseAnnotations*)", function()
  local function warning_for(annotations)
    local _, records = document(annotations)
    assert.equal(1, #records)
    assert.equal("annotation value could not be parsed", records[1].msg)
    return records[1].fields
  end

  local cases = {
    { "int32 syntax", A.ProcessorLimit, "abc", "int32", 'strconv.ParseInt: parsing "abc": invalid syntax' },
    { "int32 empty", A.ProcessorLimit, "", "int32", 'strconv.ParseInt: parsing "": invalid syntax' },
    { "int32 sign alone", A.ProcessorLimit, "-", "int32", 'strconv.ParseInt: parsing "-": invalid syntax' },
    { "int32 above range", A.ProcessorWeight, "2147483648", "int32",
      'strconv.ParseInt: parsing "2147483648": value out of range' },
    { "int32 below range", A.ProcessorWeight, "-2147483649", "int32",
      'strconv.ParseInt: parsing "-2147483649": value out of range' },
    { "int32 range found before bad digits", A.ProcessorWeight, "99999999999x", "int32",
      'strconv.ParseInt: parsing "99999999999x": value out of range' },
    { "int32 no base prefixes", A.ProcessorWeight, "0x10", "int32",
      'strconv.ParseInt: parsing "0x10": invalid syntax' },
    { "int32 no underscores", A.ProcessorWeight, "1_000", "int32",
      'strconv.ParseInt: parsing "1_000": invalid syntax' },
    { "int32 no spaces", A.ProcessorWeight, " 5", "int32", 'strconv.ParseInt: parsing " 5": invalid syntax' },
    { "uint32 negative", A.VPMemCount, "-1", "uint32", 'strconv.ParseUint: parsing "-1": invalid syntax' },
    { "uint32 plus sign", A.VPMemCount, "+1", "uint32", 'strconv.ParseUint: parsing "+1": invalid syntax' },
    { "uint32 above range", A.VPMemCount, "4294967296", "uint32",
      'strconv.ParseUint: parsing "4294967296": value out of range' },
    { "uint64 syntax", A.MemorySizeInMB, "2G", "uint64", 'strconv.ParseUint: parsing "2G": invalid syntax' },
    { "uint64 past Lua's integers", A.MemorySizeInMB, "18446744073709551615", "uint64",
      'strconv.ParseUint: parsing "18446744073709551615": value out of range' },
    { "memory size whose even successor is past Lua's integers", A.MemorySizeInMB,
      "9223372036854775807", "uint64",
      'strconv.ParseUint: parsing "9223372036854775807": value out of range' },
    { "bool", A.AllowOvercommit, "yes", "bool", 'strconv.ParseBool: parsing "yes": invalid syntax' },
    { "bool quoting", A.AllowOvercommit, 'a"b\n\1', "bool",
      'strconv.ParseBool: parsing "a\\"b\\n\\x01": invalid syntax' },
    { "uint64 list", A.NumaCountOfMemoryBlocks, "1,x", "uint64", 'strconv.ParseUint: parsing "x": invalid syntax' },
  }
  for _, c in ipairs(cases) do
    it("warns and keeps the default: " .. c[1], function()
      local fields = warning_for({ [c[2]] = c[3] })
      assert.same({ ["oci-annotation"] = c[2], value = c[3], ["expected-type"] = c[4], error = c[5] }, fields)
    end)
  end

  it("the defaults stay after a bad value", function()
    local processor, memory = topology({
      [A.ProcessorCount] = "two", [A.MemorySizeInMB] = "-5", [A.AllowOvercommit] = "nope",
    }, { vm_processor_count = 3 })
    assert.equal(3, processor.Count)
    assert.equal(1024, memory.SizeInMB)
    assert.is_true(memory.AllowOvercommit)
  end)

  it("the largest memory size Lua can align is taken", function()
    local _, memory = topology({ [A.MemorySizeInMB] = "9223372036854775806" })
    assert.equal(9223372036854775806, memory.SizeInMB)
  end)

  local accepted = {
    { A.ProcessorWeight, "+7", 7 }, { A.ProcessorWeight, "007", 7 },
    { A.ProcessorWeight, "2147483647", 2147483647 },
  }
  for _, c in ipairs(accepted) do
    it("int32 accepts " .. c[2], function()
      local processor, records = topology({ [c[1]] = c[2] })
      assert.equal(c[3], processor.Weight)
    end)
  end

  it("negative limits wrap as Go's uint64(uint32(x))", function()
    local processor = topology({ [A.ProcessorLimit] = "-1", [A.ProcessorWeight] = "-2147483648" })
    assert.equal(4294967295, processor.Limit)
    assert.equal(2147483648, processor.Weight)
  end)

  local bools = { ["1"] = true, t = true, T = true, TRUE = true, ["true"] = true, True = true,
                  ["0"] = false, f = false, F = false, FALSE = false, ["false"] = false, False = false }
  for text, value in pairs(bools) do
    it("bool accepts " .. text, function()
      local vm, records = document({ [A.KernelDirectBoot] = text })
      assert.equal(0, #records)
      assert.equal(value, vm.Chipset.LinuxKernelDirect ~= nil)
    end)
  end

  it("a bad uint32 list falls back to none, silently (as hcsshim)", function()
    local vm, records = document({ [A.NumaPreferredPhysicalNodes] = "0,x" })
    assert.equal(0, #records)
    assert.is_nil(vm.ComputeTopology.Numa)
  end)
end)

describe("lcow policy: paths, reference info and the request", function()
  it("relative boot paths resolve against the working directory and are cleaned", function()
    local parent, name = dirs.valid:match("^(.*)/([^/]+)$")
    local vm = document(nil, { boot_files_root_path = "./" .. name .. "/../" .. name .. "/" }, { cwd = parent })
    assert.equal(dirs.valid .. "/vmlinux", vm.Chipset.LinuxKernelDirect.KernelFilePath)
  end)

  it("reads the reference info file named by the annotation", function()
    local _, _, doc = document({ [A.LCOWReferenceInfoFile] = "reference_info.cose" })
    assert.same({ EncodedUVMReference = "cmVmAGJ5dGVz" }, doc.ConfidentialOptions)
  end)

  it("a missing reference info file gives nothing", function()
    local _, _, doc = document({ [A.LCOWReferenceInfoFile] = "absent.cose" })
    assert.is_nil(doc.ConfidentialOptions)
  end)

  it("no annotation, no reference info", function()
    local _, _, doc = document()
    assert.is_nil(doc.ConfidentialOptions)
  end)

  it("a reference name outside the boot files is refused", function()
    local err = rejection({ [A.UVMHashEnvelopeReferenceInfoFile] = "../escape.cose" })
    assert.matches("^failed to parse UVM hash envelope reference info: ", err)
  end)

  it("refuses options of the wrong type", function()
    assert.equal("failed to parse CPU parameters: options.vm_processor_count must be an integer in "
      .. "[-2147483648, 2147483647]", rejection(nil, { vm_processor_count = "4" }))
    assert.equal("failed to parse memory parameters: options.vm_memory_size_in_mb must be an integer in "
      .. "[0, 2147483647]", rejection(nil, { vm_memory_size_in_mb = -1 }))
    assert.equal("options.default_container_annotations must be an object of strings",
      rejection(nil, { default_container_annotations = { [A.ProcessorCount] = 4 } }))
    assert.matches("options.boot_files_root_path must be a string",
      rejection(nil, { boot_files_root_path = 5 }), 1, true)
  end)

  it("leaves Go's zero values out of the document", function()
    local processor, memory = topology({ [A.AllowOvercommit] = "false" })
    for _, t in ipairs({ processor, memory }) do
      for _, v in pairs(t) do
        assert.is_not.equal(0, v)
        assert.is_not.equal(false, v)
        assert.is_not.equal("", v)
      end
    end
  end)
end)
