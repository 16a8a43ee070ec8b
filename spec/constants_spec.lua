-- Every constant of the contract, the osversion table, _VERSION and null.
local vmutils = require "vmutils"
local cjson = require "cjson"

describe("vmutils constants", function()
  local constants = {
    { "MAX_VPMEM_COUNT", 128 },
    { "DEFAULT_VPMEM_COUNT", 64 },
    { "DEFAULT_VPMEM_SIZE_BYTES", 4294967296 },
    { "DEFAULT_DM_VERITY_ROOTFS_VHD", "rootfs.vhd" },
    { "DEFAULT_GUEST_STATE_FILE", "kernel.vmgs" },
    { "DEFAULT_UVM_REFERENCE_INFO_FILE", "reference_info.cose" },
    { "DEFAULT_UVM_HASH_ENVELOPE_REFERENCE_INFO_FILE", "reference_info_hash_envelope.cose" },
    { "INITRD_FILE", "initrd.img" },
    { "VHD_FILE", "rootfs.vhd" },
    { "KERNEL_FILE", "kernel" },
    { "UNCOMPRESSED_KERNEL_FILE", "vmlinux" },
    { "LINUX_ENTROPY_VSOCK_PORT", 1 },
    { "LINUX_LOG_VSOCK_PORT", 109 },
    { "LINUX_ENTROPY_BYTES", 512 },
    { "PLAN9_PORT", 564 },
    { "ERR_CPU_GROUP_CREATE_NOT_SUPPORTED",
      "cpu group assignment on create requires a build of 19043 or higher" },
  }
  for _, c in ipairs(constants) do
    it(c[1] .. " is " .. tostring(c[2]), function()
      assert.are.equal(c[2], vmutils[c[1]])
      assert.are.equal(math.type(c[2]), math.type(vmutils[c[1]]))
    end)
  end

  local builds = {
    { "RS5", 17763 },
    { "V19H1", 18362 },
    { "V21H1", 19043 },
    { "V21H2_SERVER", 20348 },
    { "V25H1_SERVER", 26100 },
  }
  for _, c in ipairs(builds) do
    it("osversion." .. c[1] .. " is " .. c[2], function()
      assert.are.equal(c[2], vmutils.osversion[c[1]])
      assert.are.equal("integer", math.type(vmutils.osversion[c[1]]))
    end)
  end

  it("osversion holds exactly those builds", function()
    local count = 0
    for _ in pairs(vmutils.osversion) do count = count + 1 end
    assert.are.equal(#builds, count)
  end)

  it("the CPU group error names the V21H1 build", function()
    assert.is_truthy(vmutils.ERR_CPU_GROUP_CREATE_NOT_SUPPORTED:find(
      tostring(vmutils.osversion.V21H1), 1, true))
  end)

  it("DEFAULT_VPMEM_SIZE_BYTES is 4 GiB", function()
    assert.are.equal(4 * 1024 * 1024 * 1024, vmutils.DEFAULT_VPMEM_SIZE_BYTES)
  end)

  it("_VERSION is vmutils 0.1.0", function()
    assert.are.equal("vmutils 0.1.0", vmutils._VERSION)
    assert.is_truthy(vmutils._VERSION:match("^vmutils %d+%.%d+%.%d+$"))
  end)

  it("null is cjson.null", function()
    assert.are.equal(cjson.null, vmutils.null)
    assert.is_true(vmutils.null == cjson.null)
    assert.are.equal("userdata", type(vmutils.null))
    assert.are.equal('{"a":null}', cjson.encode({ a = vmutils.null }))
  end)

  it("the linux log port is the one in the forwarder command", function()
    assert.are.equal("/bin/vsockexec -e " .. vmutils.LINUX_LOG_VSOCK_PORT,
      vmutils.linux_log_forwarder_command(false))
  end)
end)
