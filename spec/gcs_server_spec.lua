-- vmutils.gcs_server: a Lua host runs the GCS log service's loop over real
-- Unix sockets (guests are tests/gcs_peer.py processes) with a handler per
-- record; socket file errors come back as nil, err; bad arguments and calls
-- from the handler raise.
local vmutils = require "vmutils"

local function tmpdir()
  local p = io.popen("mktemp -d")
  local d = p:read("l")
  p:close()
  return d
end

-- Starts a guest writing `count` entries to path, in the background.
local function guest(path, vm, count)
  assert(os.execute(("env -u LD_PRELOAD python3 tests/gcs_peer.py entries %q %q %d >/dev/null &")
    :format(path, vm, count)))
end

local function exists(path)
  local f = io.open(path, "r")
  if f then f:close() end
  return f ~= nil
end

describe("gcs_server", function()
  local dir
  before_each(function() dir = tmpdir() end)
  after_each(function() os.execute(("rm -rf %q"):format(dir)) end)

  it("hands each record of each connection to the handler, with its VM id, in order", function()
    local records = {}
    local srv = assert(vmutils.gcs_server{ handler = function(r) records[#records + 1] = r end })
    local a, b = dir .. "/a.sock_109", dir .. "/b.sock_109"
    assert.is_true(srv:listen_unix(a, "vm-a") > 0)
    assert.is_true(srv:listen_unix(b, "vm-b", { resync = true }) > 0)
    guest(a, "vm-a", 50)
    guest(b, "vm-b", 50)
    local seen = {}
    for _ = 1, 2000 do
      srv:poll(10)
      local st = srv:stats()
      if st.accepted == 2 and st.open == 0 then break end
    end
    for _, r in ipairs(records) do
      if r.msg == "entry" then
        local vm = r.fields["uvm-id"]
        assert.are.equal(r.fields.vm, vm)
        assert.are.equal(seen[vm] or 0, r.fields.seq)
        seen[vm] = r.fields.seq + 1
      end
    end
    assert.are.same({ ["vm-a"] = 50, ["vm-b"] = 50 }, seen)
    local st = srv:stats()
    assert.are.equal(100, st.entries)
    assert.are.equal(2, st.listeners)
    srv:close()
    assert.is_false(exists(a))
    assert.is_false(exists(b))
    assert.are.equal("vmutils.gcs_server (closed)", tostring(srv))
  end)

  it("returns nil, err for a live socket and refuses calls from its own handler", function()
    local err_in_handler
    local srv
    srv = assert(vmutils.gcs_server{
      handler = function()
        local ok, e = pcall(srv.poll, srv, 0)
        if not ok then err_in_handler = e end
      end,
    })
    local path = dir .. "/vm.sock"
    assert.is_true(srv:listen_unix(path, "vm") > 0)
    local id, err = srv:listen_unix(path, "vm")
    assert.is_nil(id)
    assert.matches("another process is listening on this socket", err, 1, true)
    guest(path, "vm", 1)
    for _ = 1, 2000 do
      srv:poll(10)
      if err_in_handler then break end
    end
    assert.matches("called from its own handler", err_in_handler, 1, true)
    assert.is_nil(select(1, srv:close_listener(99)))
    srv:shutdown()
    assert.is_false(exists(path))
    srv:close()
  end)

  it("maps CIDs to VM ids", function()
    local srv <close> = assert(vmutils.gcs_server())
    assert.is_true(srv:map_cid(3, "vm-3"))
    assert.are.equal("vm-3", srv:cid_vm_id(3))
    assert.is_nil(srv:cid_vm_id(4))
  end)

  it("raises on bad arguments", function()
    assert.has_error(function() vmutils.gcs_server{ handler = 1 } end)
    assert.has_error(function() vmutils.gcs_server{ socket_mode = 01000 } end)
    local srv <close> = assert(vmutils.gcs_server())
    assert.has_error(function() srv:listen_unix(dir .. "/x", "x", { resync = "yes" }) end)
    assert.has_error(function() srv:map_cid(-1, "x") end)
    assert.has_error(function() srv:map_cid(1, "") end)
    assert.has_error(function() srv:poll(-2) end)
    srv:close()
    assert.has_error(function() srv:poll(0) end)
  end)
end)
