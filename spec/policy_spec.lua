-- `vmutils policy`: the examples through build/vmutils (exit status, stdout,
-- stderr), the request on stdin, the limits from the command line, the
-- sandbox as a policy meets it, and usage errors.
local cjson = require "cjson"
local support = require "support"
local sh, slurp, shell_quote = support.run, support.slurp, support.quote
local write_policy, base64 = support.temp_lua, support.base64

local BUILD = os.getenv("VMUTILS_BUILD") or "build"
local VMUTILS = BUILD .. "/vmutils"
local LCOW = "scripts/policies/lcow.lua"

local function policy(args, input)
  local parts = { VMUTILS, "policy" }
  for _, a in ipairs(args) do parts[#parts + 1] = shell_quote(a) end
  return sh(table.concat(parts, " "), input)
end

local cwd = os.getenv("PWD") or "."

describe("vmutils policy: the examples", function()
  local function run_example(name)
    local status, out, err = policy({ LCOW, "examples/" .. name })
    return status, out, err, status == 0 and cjson.decode(out) or nil
  end

  it("lcow-request.json: kernel direct boot with the initrd, reference info", function()
    local status, out, err, doc = run_example("lcow-request.json")
    assert.equal(0, status, err)
    assert.equal("", err)
    local vm = doc.VirtualMachine
    assert.equal(cwd .. "/examples/boot-files/vmlinux", vm.Chipset.LinuxKernelDirect.KernelFilePath)
    assert.equal(cwd .. "/examples/boot-files/initrd.img", vm.Chipset.LinuxKernelDirect.InitRdPath)
    assert.equal(2, vm.ComputeTopology.Processor.Count)
    assert.equal(500, vm.ComputeTopology.Processor.Weight)
    assert.equal(2048, vm.ComputeTopology.Memory.SizeInMB)
    local ref = slurp("examples/boot-files/reference_info.cose")
    assert.equal(base64(ref), doc.ConfidentialOptions.EncodedUVMReference)
    -- Indented, keys sorted, one trailing newline.
    assert.matches('^{\n  "ConfidentialOptions": {\n', out)
    assert.matches("}\n$", out)
  end)

  it("prints the same bytes every time (sorted keys)", function()
    local _, first = policy({ LCOW, "examples/lcow-vhd-vpmem.json" })
    for _ = 1, 3 do
      local _, again = policy({ LCOW, "examples/lcow-vhd-vpmem.json" })
      assert.equal(first, again)
    end
    local keys = {}
    for key in first:gmatch('\n    "([^"]+)":') do keys[#keys + 1] = key end
    local sorted = { table.unpack(keys) }
    table.sort(sorted)
    assert.same(sorted, keys)
  end)

  it("lcow-uefi.json: UEFI boot, memory rounded with the warning", function()
    local status, _, err, doc = run_example("lcow-uefi.json")
    assert.equal(0, status)
    assert.equal("\\kernel", doc.VirtualMachine.Chipset.Uefi.BootThis.DevicePath)
    assert.equal(1024, doc.VirtualMachine.ComputeTopology.Memory.SizeInMB)
    assert.matches("Changing user requested MemorySizeInMB to align to 2MB", err, 1, true)
  end)

  it("lcow-vhd-vpmem.json: the VHD on VPMem device 0", function()
    local status, _, _, doc = run_example("lcow-vhd-vpmem.json")
    assert.equal(0, status)
    local vpmem = doc.VirtualMachine.Devices.VirtualPMem
    assert.equal(16, vpmem.MaximumCount)
    assert.equal(8589934592, vpmem.MaximumSizeBytes)
    assert.equal(cwd .. "/examples/boot-files/rootfs.vhd", vpmem.Devices["0"].HostPath)
  end)

  it("lcow-numa-implicit.json and lcow-numa-explicit.json", function()
    local status, _, _, doc = run_example("lcow-numa-implicit.json")
    assert.equal(0, status)
    assert.equal(2048, doc.VirtualMachine.ComputeTopology.Numa.MaxSizePerNode)
    assert.equal(2, doc.VirtualMachine.ComputeTopology.Processor.NumaProcessorsSettings.count_per_node.max)
    status, _, _, doc = run_example("lcow-numa-explicit.json")
    assert.equal(0, status)
    assert.equal(2, doc.VirtualMachine.ComputeTopology.Numa.VirtualNodeCount)
    assert.equal("FirmwareFallbackMeasured", doc.VirtualMachine.ComputeTopology.Memory.SlitType)
  end)

  it("lcow-cpugroup.json, lcow-resource-partition.json, lcow-arm64.json", function()
    local _, _, _, doc = run_example("lcow-cpugroup.json")
    assert.equal("12345678-1234-5678-1234-567812345678", doc.VirtualMachine.ComputeTopology.Processor.CpuGroup.Id)
    _, _, _, doc = run_example("lcow-resource-partition.json")
    assert.equal("87654321-4321-8765-4321-876543218765", doc.VirtualMachine.ResourcePartitionId)
    _, _, _, doc = run_example("lcow-arm64.json")
    assert.is_table(doc.VirtualMachine.Chipset.Uefi)
    assert.is_nil(doc.VirtualMachine.Devices)
  end)

  it("lcow-options-any.json: options from a base64 Any", function()
    local status, _, err, doc = run_example("lcow-options-any.json")
    assert.equal(0, status, err)
    local topo = doc.VirtualMachine.ComputeTopology
    assert.equal(1536, topo.Memory.SizeInMB)
    assert.equal(200, topo.Processor.Weight) -- from default_container_annotations
    assert.equal(256, topo.Memory.LowMmioGapInMB)
  end)

  it("lcow-bad-annotations.json: hcsshim's warnings on stderr, defaults kept", function()
    local status, _, err, doc = run_example("lcow-bad-annotations.json")
    assert.equal(0, status)
    assert.equal(2, doc.VirtualMachine.ComputeTopology.Processor.Count)
    assert.matches('level=warning msg="annotation value could not be parsed" '
      .. 'error="strconv.ParseInt: parsing \\"two\\": invalid syntax" expected-type=int32 '
      .. "oci-annotation=io.microsoft.virtualmachine.computetopology.processor.count value=two", err, 1, true)
  end)

  it("rejections exit 1 with the message on stderr", function()
    local status, out, err = policy({ LCOW, "examples/lcow-reject-cpugroup-old-build.json" })
    assert.equal(1, status)
    assert.equal("", out)
    assert.equal("vmutils policy: failed to parse CPU parameters: cpu group assignment on create requires a build of "
      .. "19043 or higher\n", err)
    status, out, err = policy({ LCOW, "examples/lcow-reject-deferred-commit.json" })
    assert.equal(1, status)
    assert.equal("vmutils policy: failed to parse memory parameters: enable_deferred_commit is not supported on "
      .. "physically backed vms\n", err)
  end)
end)

describe("vmutils policy: requests", function()
  it("reads the request from stdin with -", function()
    local status, out = policy({ "--compact", LCOW, "-" }, slurp("examples/lcow-cpugroup.json"))
    assert.equal(0, status)
    assert.matches('^{"VirtualMachine":', out)
    assert.matches('"CpuGroup":{"Id":"12345678%-1234%-5678%-1234%-567812345678"}', out)
  end)

  it("no request means an empty one (this host's facts, default options)", function()
    local path = write_policy("return function(r) return { host = r.host, n = #r.annotations } end")
    local status, out = policy({ "--compact", path })
    os.remove(path)
    assert.equal(0, status)
    local doc = cjson.decode(out)
    -- no Windows build: the policy picks its own default (lcow.lua: 26100)
    assert.is_nil(doc.host.os_build)
    assert.is_true(doc.host.logical_processor_count >= 1)
    assert.equal(cwd, doc.host.cwd)
  end)

  it("a malformed request is a usage error: exit 2", function()
    local status, out, err = policy({ LCOW, "-" }, "{ not json")
    assert.equal(2, status)
    assert.equal("", out)
    assert.matches("^vmutils policy: request: invalid JSON: ", err)
  end)

  it("a missing request file exits 2", function()
    local status, _, err = policy({ LCOW, "/nonexistent/request.json" })
    assert.equal(2, status)
    assert.equal("vmutils policy: cannot open /nonexistent/request.json: No such file or directory\n", err)
  end)
end)

describe("vmutils policy: limits and the sandbox", function()
  local function with_policy(text, args, input)
    local path = write_policy(text)
    local full = {}
    for _, a in ipairs(args or {}) do full[#full + 1] = a end
    full[#full + 1] = path
    local status, out, err = policy(full, input)
    os.remove(path)
    return status, out, err
  end

  it("an endless loop ends with the budget message and exit 1", function()
    local status, out, err = with_policy("return function() while true do end end")
    assert.equal(1, status)
    assert.equal("", out)
    assert.equal("vmutils policy: policy exceeded its instruction budget\n", err)
  end)

  it("host_topology reads no file a policy names", function()
    local status, _, err = with_policy(
      "return function() return { t = vmutils.host_topology({ xml = 'tests/topology/two-socket-smt.xml' }) } end")
    assert.equal(1, status)
    assert.matches("policies give xml as the XML text, not a file name", err, 1, true)
    status, _, err = with_policy(
      "return function() return { t = vmutils.host_topology({ synthetic = 'numa:2 pu:2', sysfs_root = '/' }) } end")
    assert.equal(1, status)
    assert.matches("policies cannot give sysfs_root", err, 1, true)
    local out
    status, out, err = with_policy(
      "return function() return { n = #vmutils.host_topology({ synthetic = 'numa:2 pu:2' }).nodes } end",
      { "--compact" })
    assert.equal(0, status, err)
    assert.equal('{"n":2}\n', out)
  end)

  it("--instructions sets the budget", function()
    local text = "return function() local s = 0 for i = 1, 300000 do s = s + i end return { s = s } end"
    assert.equal(0, (with_policy(text, { "--instructions", "10M" })))
    local status, _, err = with_policy(text, { "--instructions", "100000" })
    assert.equal(1, status)
    assert.matches("policy exceeded its instruction budget", err, 1, true)
    assert.equal(0, (with_policy(text, { "--instructions", "0" })))
  end)

  it("a memory bomb ends with 'not enough memory' and exit 1", function()
    -- No time limit: under the sanitizers, filling the cap takes more than its second.
    local status, _, err = with_policy(
      "return function() local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1024) .. i end end",
      { "--timeout", "0" })
    assert.equal(1, status)
    assert.equal("vmutils policy: not enough memory\n", err)
  end)

  it("--memory sets the cap", function()
    local text = "return function() local s = string.rep('x', 20 * 1024 * 1024) return { n = #s } end"
    local status, out = with_policy(text, { "--compact", "--memory", "64M" })
    assert.equal(0, status)
    assert.equal('{"n":20971520}\n', out)
    status = with_policy(text, { "--memory", "16MiB" })
    assert.equal(1, status)
  end)

  it("policies cannot run commands, write files or load C modules", function()
    local target = os.tmpname()
    os.remove(target)
    local cases = {
      { "return function() os.execute('touch " .. target .. "') end", "attempt to call a nil value" },
      { "return function() io.popen('touch " .. target .. "') end", "attempt to call a nil value" },
      { "return function() io.open('" .. target .. "', 'w') end", "policies may open files for reading only" },
      { "return function() require 'lfs' end", "module 'lfs' is not available to policies" },
      { "return function() load(string.dump(print)) end", "attempt to call a nil value (field 'dump')" },
    }
    for _, c in ipairs(cases) do
      local status, _, err = with_policy(c[1])
      assert.equal(1, status)
      assert.matches(c[2], err, 1, true)
    end
    assert.is_nil(io.open(target))
  end)

  it("a script error exits 1 with its position", function()
    local status, _, err = with_policy("return function() local x = nil; return x.y end")
    assert.equal(1, status)
    assert.matches("^vmutils policy: .*%.lua:1: attempt to index a nil value", err)
  end)

  it("print in a policy goes to stderr, the document stays clean", function()
    local status, out, err = with_policy("return function() print('debugging') return { ok = true } end",
      { "--compact" })
    assert.equal(0, status)
    assert.equal('{"ok":true}\n', out)
    assert.equal("debugging\n", err)
  end)
end)

describe("vmutils policy: usage", function()
  local cases = {
    { {}, "missing POLICY.lua" },
    { { "--bogus", LCOW }, "vmutils policy: unrecognized option '--bogus'\n" },
    { { "--instructions" }, "--instructions needs a number" },
    { { "--memory", "lots", LCOW }, "--memory needs a number" },
    { { LCOW, "a.json", "b.json" }, "unexpected argument 'b.json'" },
  }
  for _, c in ipairs(cases) do
    it("exits 2: " .. c[2], function()
      local status, out, err = policy(c[1])
      assert.equal(2, status)
      assert.equal("", out)
      assert.matches(c[2], err, 1, true)
      local try = "\nTry 'vmutils policy --help'.\n"
      assert.equal(try, err:sub(-#try))
    end)
  end

  it("a missing policy file exits 2", function()
    local status, _, err = policy({ "/nonexistent/policy.lua" })
    assert.equal(2, status)
    assert.equal("vmutils policy: cannot open /nonexistent/policy.lua: No such file or directory\n", err)
  end)
end)
