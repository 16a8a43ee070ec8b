-- lookup_vmmem and process_entries against a recording mock of the api
-- object: every scenario of hcsshim's vmmem_test.go (the lookup and the
-- process iterator, early break included), methods that raise, methods that
-- return the wrong types, argument errors and the log records.
local vmutils = require "vmutils"
local log_capture = require "log_capture"

local TH32CS_SNAPPROCESS = 0x2
local PROCESS_QUERY_LIMITED_INFORMATION = 0x1000
local TOKEN_QUERY = 0x8

-- hcsshim's test handles and ids.
local SNAPSHOT, PROCESS, TOKEN, PID = 1000, 2000, 3000, 1234
local PROCESS2, TOKEN2, PID2 = 4000, 5000, 5678
local SID = setmetatable({}, { __name = "SID" }) -- compared by identity
local VM_ID = "12345678-1234-5678-1234-56789abcdef0"
local NOT_FOUND = "failed to find matching vmmem process"

-- A mock api: `script` lists the calls expected, in order, each
-- { method, args..., ret = { results... } } or { method, args..., raise = err }.
-- Any other call raises at once (and so fails the test, as lookup_vmmem
-- re-raises). mock.calls records what was called.
local function mock(script)
  local api = { calls = {}, pos = 1 }
  local function describe_args(args)
    local parts = {}
    for i = 1, args.n do parts[i] = tostring(args[i]) end
    return table.concat(parts, ", ")
  end
  setmetatable(api, {
    __index = function(_, method)
      return function(self, ...)
        assert(self == api, method .. " was not called with ':'")
        local args = table.pack(...)
        api.calls[#api.calls + 1] = { method, table.unpack(args, 1, args.n) }
        local want = script[api.pos]
        if not want then
          error(("unexpected call %s(%s): the script has ended"):format(method, describe_args(args)), 0)
        end
        local same = want[1] == method and #want - 1 == args.n
        for i = 1, args.n do
          local w, g = want[i + 1], args[i]
          if not (rawequal(w, g) and math.type(w) == math.type(g)) then same = false end
        end
        if not same then
          error(("call %d: got %s(%s), expected %s(%s)"):format(api.pos, method, describe_args(args),
            want[1], describe_args(table.pack(table.unpack(want, 2)))), 0)
        end
        api.pos = api.pos + 1
        if want.raise ~= nil then error(want.raise, 0) end
        local ret = want.ret or {}
        return table.unpack(ret, 1, ret.n or #ret)
      end
    end,
  })
  function api.finished() return api.pos == #script + 1 end
  return api
end

-- The mockHelper steps of vmmem_test.go.
local function snapshot() return { "create_toolhelp32_snapshot", TH32CS_SNAPPROCESS, 0, ret = { SNAPSHOT } } end
local function first(pid, name) return { "process32_first", SNAPSHOT, ret = { { process_id = pid, exe_file = name } } } end
local function next_entry(pid, name) return { "process32_next", SNAPSHOT, ret = { { process_id = pid, exe_file = name } } } end
local function no_more() return { "process32_next", SNAPSHOT, ret = { nil, "no more processes", n = 2 } } end
local function open(pid, handle) return { "open_process", PROCESS_QUERY_LIMITED_INFORMATION, false, pid, ret = { handle } } end
local function token(process, t) return { "open_process_token", process, TOKEN_QUERY, ret = { t } } end
local function user(t) return { "get_token_user", t, ret = { SID } } end
local function lookup(account, domain) return { "lookup_account", SID, "", ret = { account, domain, 1 } } end
local function close(h) return { "close_handle", h, ret = { true } } end
local function close_token(t) return { "close_token", t, ret = { true } } end
local function failing(step, err)
  step.ret = { nil, err, n = 2 }
  return step
end
local function raising(step, err)
  step.ret, step.raise = nil, err
  return step
end
local function flatten(list)
  local out = {}
  for _, item in ipairs(list) do
    if type(item[1]) == "table" then
      for _, step in ipairs(item) do out[#out + 1] = step end
    else
      out[#out + 1] = item
    end
  end
  return out
end
local function match_steps(pid, handle, t, account, domain)
  return { open(pid, handle), token(handle, t), user(t), lookup(account, domain) }
end

describe("lookup_vmmem", function()
  local cases = {
    -- hcsshim's TestLookupVMMEM
    { "finds vmmem.exe", { snapshot(), first(PID, "vmmem.exe"),
      match_steps(PID, PROCESS, TOKEN, VM_ID, "NT VIRTUAL MACHINE"), close_token(TOKEN), close(SNAPSHOT) },
      PROCESS },
    { "finds vmmem without extension", { snapshot(), first(PID, "vmmem"),
      match_steps(PID, PROCESS, TOKEN, VM_ID, "NT VIRTUAL MACHINE"), close_token(TOKEN), close(SNAPSHOT) },
      PROCESS },
    { "snapshot cannot be taken", { failing(snapshot(), "access denied") }, nil },
    { "no vmmem process", { snapshot(), first(PID, "explorer.exe"), no_more(), close(SNAPSHOT) }, nil },
    { "vmmem of another VM", { snapshot(), first(PID, "vmmem.exe"),
      match_steps(PID, PROCESS, TOKEN, "DIFFERENT-VM-ID", "NT VIRTUAL MACHINE"), close_token(TOKEN),
      close(PROCESS), no_more(), close(SNAPSHOT) }, nil },
    { "vmmem under another domain", { snapshot(), first(PID, "vmmem.exe"),
      match_steps(PID, PROCESS, TOKEN, VM_ID, "WORKGROUP"), close_token(TOKEN), close(PROCESS), no_more(),
      close(SNAPSHOT) }, nil },
    { "OpenProcess fails", { snapshot(), first(PID, "vmmem.exe"), failing(open(PID, PROCESS), "access denied"),
      no_more(), close(SNAPSHOT) }, nil },
    { "OpenProcessToken fails", { snapshot(), first(PID, "vmmem.exe"), open(PID, PROCESS),
      failing(token(PROCESS, TOKEN), "token access denied"), close(PROCESS), no_more(), close(SNAPSHOT) }, nil },
    { "GetTokenUser fails", { snapshot(), first(PID, "vmmem.exe"), open(PID, PROCESS), token(PROCESS, TOKEN),
      failing(user(TOKEN), "failed to get token user"), close_token(TOKEN), close(PROCESS), no_more(),
      close(SNAPSHOT) }, nil },
    { "LookupAccount fails", { snapshot(), first(PID, "vmmem.exe"), open(PID, PROCESS), token(PROCESS, TOKEN),
      user(TOKEN), failing(lookup("", ""), "lookup failed"), close_token(TOKEN), close(PROCESS), no_more(),
      close(SNAPSHOT) }, nil },
    { "Process32First fails", { snapshot(), failing(first(PID, "x"), "failed to get first process"),
      close(SNAPSHOT) }, nil },
    { "skips another VM's vmmem and matches the second", { snapshot(), first(PID, "vmmem"),
      match_steps(PID, PROCESS, TOKEN, "OTHER-GUID", "NT VIRTUAL MACHINE"), close_token(TOKEN), close(PROCESS),
      next_entry(PID2, "vmmem.exe"), match_steps(PID2, PROCESS2, TOKEN2, VM_ID, "NT VIRTUAL MACHINE"),
      close_token(TOKEN2), close(SNAPSHOT) }, PROCESS2 },
    { "several vmmem processes, none matches", { snapshot(), first(PID, "vmmem"),
      match_steps(PID, PROCESS, TOKEN, "WRONG-GUID-1", "NT VIRTUAL MACHINE"), close_token(TOKEN), close(PROCESS),
      next_entry(PID2, "vmmem.exe"), match_steps(PID2, PROCESS2, TOKEN2, "WRONG-GUID-2", "NT VIRTUAL MACHINE"),
      close_token(TOKEN2), close(PROCESS2), no_more(), close(SNAPSHOT) }, nil },
    { "process name in capitals", { snapshot(), first(PID, "VMMEM.EXE"),
      match_steps(PID, PROCESS, TOKEN, VM_ID, "NT VIRTUAL MACHINE"), close_token(TOKEN), close(SNAPSHOT) },
      PROCESS },
    { "account and domain in lower case", { snapshot(), first(PID, "vmmem"),
      match_steps(PID, PROCESS, TOKEN, VM_ID:lower(), "nt virtual machine"), close_token(TOKEN), close(SNAPSHOT) },
      PROCESS },
    -- beyond Go's table
    { "account in upper case", { snapshot(), first(PID, "vmmem"),
      match_steps(PID, PROCESS, TOKEN, VM_ID:upper(), "NT VIRTUAL MACHINE"), close_token(TOKEN), close(SNAPSHOT) },
      PROCESS },
    { "look-alike names are not candidates", { snapshot(), first(1, "vmmem.exe.bak"), next_entry(2, "xvmmem"),
      next_entry(3, "vmmem "), next_entry(4, ""), no_more(), close(SNAPSHOT) }, nil },
    { "a name ends at its first NUL, like Go's fixed ExeFile array", { snapshot(), first(PID, "vmmem\0junk"),
      match_steps(PID, PROCESS, TOKEN, VM_ID, "NT VIRTUAL MACHINE"), close_token(TOKEN), close(SNAPSHOT) },
      PROCESS },
    { "an account with a NUL does not match", { snapshot(), first(PID, "vmmem"),
      match_steps(PID, PROCESS, TOKEN, VM_ID .. "\0", "NT VIRTUAL MACHINE"), close_token(TOKEN), close(PROCESS),
      no_more(), close(SNAPSHOT) }, nil },
    { "failing closes are ignored, as in Go", { snapshot(), first(PID, "vmmem"),
      match_steps(PID, PROCESS, TOKEN, "OTHER", "NT VIRTUAL MACHINE"), failing(close_token(TOKEN), "bad"),
      failing(close(PROCESS), "bad"), no_more(), failing(close(SNAPSHOT), "bad") }, nil },
    { "close methods may return nothing", { snapshot(), first(PID, "vmmem"),
      match_steps(PID, PROCESS, TOKEN, "OTHER", "NT VIRTUAL MACHINE"),
      { "close_token", TOKEN }, { "close_handle", PROCESS }, no_more(), { "close_handle", SNAPSHOT } }, nil },
    { "a failure without a message", { snapshot(), { "process32_first", SNAPSHOT, ret = {} }, close(SNAPSHOT) }, nil },
  }
  for _, c in ipairs(cases) do
    it(c[1], function()
      local api = mock(flatten(c[2]))
      local handle, err = vmutils.lookup_vmmem(VM_ID, api)
      assert.is_true(api.finished(), "not every scripted call was made")
      if c[3] then
        assert.is_nil(err)
        assert.are.equal(c[3], handle)
      else
        assert.is_nil(handle)
        assert.are.equal(NOT_FOUND, err)
      end
    end)
  end

  it("takes the VM ID in any case and compares it upper-cased", function()
    local api = mock(flatten { snapshot(), first(PID, "vmmem"),
      match_steps(PID, PROCESS, TOKEN, VM_ID:upper(), "NT VIRTUAL MACHINE"), close_token(TOKEN), close(SNAPSHOT) })
    assert.are.equal(PROCESS, vmutils.lookup_vmmem("12345678-1234-5678-1234-56789AbCdEf0", api))
  end)

  it("hands handles and SIDs through as the Lua values the api returned", function()
    local snap, proc, tok, sid = {}, { "process" }, "token-3000", function() end
    local api = mock {
      { "create_toolhelp32_snapshot", 2, 0, ret = { snap } },
      { "process32_first", snap, ret = { { process_id = 7, exe_file = "vmmem" } } },
      { "open_process", 0x1000, false, 7, ret = { proc } },
      { "open_process_token", proc, 8, ret = { tok } },
      { "get_token_user", tok, ret = { sid } },
      { "lookup_account", sid, "", ret = { VM_ID, "NT VIRTUAL MACHINE" } },
      { "close_token", tok },
      { "close_handle", snap },
    }
    assert.are.equal(proc, vmutils.lookup_vmmem(VM_ID, api))
    assert.is_true(api.finished())
  end)

  describe("when a method raises", function()
    local raised = { "the error object itself" }
    local cases = {
      { "create_toolhelp32_snapshot", { raising(snapshot(), raised) } },
      { "process32_first", { snapshot(), raising(first(PID, "x"), raised), close(SNAPSHOT) } },
      { "process32_next", { snapshot(), first(PID, "x"), raising(no_more(), raised), close(SNAPSHOT) } },
      { "open_process", { snapshot(), first(PID, "vmmem"), raising(open(PID, PROCESS), raised), close(SNAPSHOT) } },
      { "open_process_token", { snapshot(), first(PID, "vmmem"), open(PID, PROCESS),
        raising(token(PROCESS, TOKEN), raised), close(SNAPSHOT) } },
      { "get_token_user", { snapshot(), first(PID, "vmmem"), open(PID, PROCESS), token(PROCESS, TOKEN),
        raising(user(TOKEN), raised), close(SNAPSHOT) } },
      { "lookup_account", { snapshot(), first(PID, "vmmem"), open(PID, PROCESS), token(PROCESS, TOKEN),
        user(TOKEN), raising(lookup(VM_ID, "x"), raised), close(SNAPSHOT) } },
      { "close_token", { snapshot(), first(PID, "vmmem"),
        match_steps(PID, PROCESS, TOKEN, VM_ID, "NT VIRTUAL MACHINE"), raising(close_token(TOKEN), raised),
        close(SNAPSHOT) } },
      { "close_handle of a rejected process", { snapshot(), first(PID, "vmmem"),
        match_steps(PID, PROCESS, TOKEN, "OTHER", "NT VIRTUAL MACHINE"), close_token(TOKEN),
        raising(close(PROCESS), raised), close(SNAPSHOT) } },
      { "close_handle of the snapshot", { snapshot(), first(PID, "x"), no_more(), raising(close(SNAPSHOT), raised) } },
      { "close_handle of the snapshot after a match", { snapshot(), first(PID, "vmmem"),
        match_steps(PID, PROCESS, TOKEN, VM_ID, "NT VIRTUAL MACHINE"), close_token(TOKEN),
        raising(close(SNAPSHOT), raised) } },
    }
    for _, c in ipairs(cases) do
      it(c[1] .. ": the snapshot is closed, then the error goes on", function()
        local api = mock(flatten(c[2]))
        local ok, err = pcall(vmutils.lookup_vmmem, VM_ID, api)
        assert.is_false(ok)
        assert.are.equal(raised, err) -- the same object, not a copy
        assert.is_true(api.finished(), "not every scripted call was made")
      end)
    end

    it("keeps the first error when closing the snapshot raises too", function()
      local api = mock(flatten { snapshot(), first(PID, "vmmem"), raising(open(PID, PROCESS), "first"),
        raising(close(SNAPSHOT), "second") })
      local ok, err = pcall(vmutils.lookup_vmmem, VM_ID, api)
      assert.is_false(ok)
      assert.are.equal("first", err)
      assert.is_true(api.finished())
    end)

    it("an unexpected call of the mock stops the lookup with its message", function()
      local api = mock(flatten { snapshot(), first(PID, "vmmem"), close(SNAPSHOT) })
      local ok, err = pcall(vmutils.lookup_vmmem, VM_ID, api)
      assert.is_false(ok)
      assert.are.equal("call 3: got open_process(4096, false, 1234), expected close_handle(1000)", err)
    end)
  end)

  describe("when a method returns the wrong types", function()
    local cases = {
      { "a number where the entry table is due", { snapshot(), { "process32_first", SNAPSHOT, ret = { 42 } },
        close(SNAPSHOT) }, "lookup_vmmem: api:process32_first returned number where a table "
        .. "{ process_id = n, exe_file = \"name\" } is due" },
      { "a string where the entry table is due", { snapshot(), first(PID, "x"),
        { "process32_next", SNAPSHOT, ret = { "vmmem" } }, close(SNAPSHOT) },
        "lookup_vmmem: api:process32_next returned string where a table "
        .. "{ process_id = n, exe_file = \"name\" } is due" },
      { "an entry without process_id", { snapshot(), { "process32_first", SNAPSHOT, ret = { { exe_file = "vmmem" } } },
        close(SNAPSHOT) }, "lookup_vmmem: api:process32_first returned a process_id that is not a uint32 (nil)" },
      { "a negative process_id", { snapshot(), first(-1, "vmmem"), close(SNAPSHOT) },
        "lookup_vmmem: api:process32_first returned a process_id that is not a uint32 (number)" },
      { "a fractional process_id", { snapshot(), first(1.5, "vmmem"), close(SNAPSHOT) },
        "lookup_vmmem: api:process32_first returned a process_id that is not a uint32 (number)" },
      { "a process_id past uint32", { snapshot(), first(1 << 32, "vmmem"), close(SNAPSHOT) },
        "lookup_vmmem: api:process32_first returned a process_id that is not a uint32 (number)" },
      { "an exe_file that is a number", { snapshot(), first(PID, 5), close(SNAPSHOT) },
        "lookup_vmmem: api:process32_first returned an exe_file that is not a string (number)" },
      { "a number for the account", { snapshot(), first(PID, "vmmem"), open(PID, PROCESS), token(PROCESS, TOKEN),
        user(TOKEN), { "lookup_account", SID, "", ret = { 12, "NT VIRTUAL MACHINE" } }, close(SNAPSHOT) },
        "lookup_vmmem: api:lookup_account returned number where an account name string is due" },
      { "no domain", { snapshot(), first(PID, "vmmem"), open(PID, PROCESS), token(PROCESS, TOKEN),
        user(TOKEN), { "lookup_account", SID, "", ret = { VM_ID } }, close(SNAPSHOT) },
        "lookup_vmmem: api:lookup_account returned nil where a domain name string is due" },
      { "a string account type", { snapshot(), first(PID, "vmmem"), open(PID, PROCESS), token(PROCESS, TOKEN),
        user(TOKEN), { "lookup_account", SID, "", ret = { VM_ID, "NT VIRTUAL MACHINE", "user" } }, close(SNAPSHOT) },
        "lookup_vmmem: api:lookup_account returned string where an account type uint32 or nil is due" },
    }
    for _, c in ipairs(cases) do
      it(c[1] .. " is a clear error, with the snapshot closed", function()
        local api = mock(flatten(c[2]))
        local ok, err = pcall(vmutils.lookup_vmmem, VM_ID, api)
        assert.is_false(ok)
        assert.are.equal(c[3], err)
        assert.is_true(api.finished(), "not every scripted call was made")
      end)
    end

    it("a missing method is a clear error, with the snapshot closed", function()
      local api = { create_toolhelp32_snapshot = function() return SNAPSHOT end }
      local closed = {}
      function api.close_handle(_, h) closed[#closed + 1] = h end
      local ok, err = pcall(vmutils.lookup_vmmem, VM_ID, api)
      assert.is_false(ok)
      assert.are.equal("lookup_vmmem: the api object has no method 'process32_first'", err)
      assert.are.same({ SNAPSHOT }, closed)
    end)

    it("a method that is not callable is a clear error, with the snapshot closed", function()
      for _, value in ipairs({ 5, "process32_first", {}, true }) do
        local closed = {}
        local api = { create_toolhelp32_snapshot = function() return SNAPSHOT end,
          process32_first = value, close_handle = function(_, h) closed[#closed + 1] = h end }
        local ok, err = pcall(vmutils.lookup_vmmem, VM_ID, api)
        assert.is_false(ok)
        assert.are.equal("lookup_vmmem: the api object's 'process32_first' is a " .. type(value)
          .. ", not a method", err)
        assert.are.same({ SNAPSHOT }, closed)
      end
    end)

    it("a callable table is a method", function()
      local impl = mock(flatten { snapshot(), first(PID, "init"), no_more(), close(SNAPSHOT) })
      local api = {}
      for name in pairs({ create_toolhelp32_snapshot = 1, process32_first = 1, process32_next = 1,
                          close_handle = 1 }) do
        api[name] = setmetatable({}, { __call = function(_, _, ...) return impl[name](impl, ...) end })
      end
      assert.are.same({ nil, NOT_FOUND }, { vmutils.lookup_vmmem(VM_ID, api) })
      assert.is_true(impl.finished())
    end)

    it("a proxy api object works through its metatable", function()
      local impl = mock(flatten { snapshot(), first(PID, "init"), no_more(), close(SNAPSHOT) })
      local proxy = setmetatable({}, { __index = function(_, k)
        return function(_, ...) return impl[k](impl, ...) end
      end })
      assert.are.same({ nil, NOT_FOUND }, { vmutils.lookup_vmmem(VM_ID, proxy) })
      assert.is_true(impl.finished())
    end)
  end)

  local bad_args = {
    { "a number as VM ID", { 42, {} }, "#1", "GUID string expected" },
    { "a VM ID with braces", { "{" .. VM_ID .. "}", {} }, "#1", "GUID string expected" },
    { "a short VM ID", { VM_ID:sub(2), {} }, "#1", "GUID string expected" },
    { "a VM ID with a bad digit", { "g" .. VM_ID:sub(2), {} }, "#1", "GUID string expected" },
    { "a nil VM ID", {}, "#1", "string expected, got nil" },
    { "a table as VM ID", { {}, {} }, "#1", "string expected, got table" },
    { "a string api", { VM_ID, "api" }, "#2", "API object expected, got string" },
    { "a number api", { VM_ID, 1 }, "#2", "API object expected, got number" },
  }
  for _, c in ipairs(bad_args) do
    it("raises an argument error for " .. c[1], function()
      local ok, err = pcall(vmutils.lookup_vmmem, table.unpack(c[2], 1, 2))
      assert.is_false(ok)
      assert.matches("^bad argument " .. c[3] .. " to '[%w_.]*lookup_vmmem' %(", err)
      assert.is_truthy(err:find(c[4], 1, true), err)
    end)
  end

  it("needs an api object off Windows", function()
    local ok, err = pcall(vmutils.lookup_vmmem, VM_ID)
    assert.is_false(ok)
    assert.matches("^bad argument #2 to '[%w_.]*lookup_vmmem' %(API object expected", err)
  end)

  it("logs the lookup and the match at debug level", function()
    local api = mock(flatten { snapshot(), first(PID, "vmmem.exe"),
      match_steps(PID, PROCESS, TOKEN, VM_ID, "NT VIRTUAL MACHINE"), close_token(TOKEN), close(SNAPSHOT) })
    local records = log_capture.capture(function() return vmutils.lookup_vmmem(VM_ID, api) end, "debug")
    assert.are.equal(2, #records)
    assert.are.equal("looking up vmmem via LookupAccount", records[1].msg)
    assert.are.same({ vmID = VM_ID:upper() }, records[1].fields)
    assert.are.equal("found vmmem match", records[2].msg)
    assert.are.same({ pid = PID }, records[2].fields)
  end)

  it("logs a snapshot failure as an error and the end of the walk at debug", function()
    local records = log_capture.capture(function()
      return vmutils.lookup_vmmem(VM_ID, mock { failing(snapshot(), "access denied") })
    end, "info")
    assert.are.equal(1, #records)
    assert.are.equal("error", records[1].level)
    assert.are.equal("failed to create process snapshot", records[1].msg)
    assert.are.same({ error = "access denied" }, records[1].fields)
    records = log_capture.capture(function()
      return vmutils.lookup_vmmem(VM_ID, mock { snapshot(), first(1, "init"), no_more(), close(SNAPSHOT) })
    end, "debug")
    assert.are.equal("finished iterating process entries", records[2].msg)
    assert.are.same({ error = "no more processes" }, records[2].fields)
  end)
end)

describe("process_entries", function()
  -- hcsshim's TestAllProcessEntries
  local cases = {
    { "yields one entry", { snapshot(), first(100, "explorer.exe"), no_more(), close(SNAPSHOT) }, nil,
      { { 100, "explorer.exe" } } },
    { "yields entries in the snapshot's order", { snapshot(), first(10, "init.exe"), next_entry(20, "svchost.exe"),
      next_entry(30, "explorer.exe"), no_more(), close(SNAPSHOT) }, nil,
      { { 10, "init.exe" }, { 20, "svchost.exe" }, { 30, "explorer.exe" } } },
    { "closes the snapshot when the loop breaks early", { snapshot(), first(10, "init.exe"), close(SNAPSHOT) }, 1,
      { { 10, "init.exe" } } },
    { "forwards the entry's fields", { snapshot(), first(PID, "vmmem.exe"), no_more(), close(SNAPSHOT) }, nil,
      { { PID, "vmmem.exe" } } },
    { "yields nothing without a snapshot", { failing(snapshot(), "denied") }, nil, {} },
  }
  for _, c in ipairs(cases) do
    it(c[1], function()
      local api = mock(c[2])
      local got = {}
      for entry in vmutils.process_entries(api) do
        got[#got + 1] = { entry.process_id, entry.exe_file }
        if c[3] and #got >= c[3] then break end
      end
      assert.are.same(c[4], got)
      assert.is_true(api.finished(), "not every scripted call was made")
    end)
  end

  it("closes the snapshot when the loop body raises", function()
    local api = mock { snapshot(), first(10, "init.exe"), close(SNAPSHOT) }
    local ok, err = pcall(function()
      for _ in vmutils.process_entries(api) do error("body failed", 0) end
    end)
    assert.is_false(ok)
    assert.are.equal("body failed", err)
    assert.is_true(api.finished())
  end)

  it("closes the snapshot and re-raises when a method raises", function()
    local api = mock { snapshot(), first(10, "init.exe"), raising(no_more(), "boom"), close(SNAPSHOT) }
    local ok, err = pcall(function()
      for _ in vmutils.process_entries(api) do end
    end)
    assert.is_false(ok)
    assert.are.equal("boom", err)
    assert.is_true(api.finished())
  end)

  it("can be closed by hand, once", function()
    local api = mock { snapshot(), first(10, "init.exe"), close(SNAPSHOT) }
    local step, iter = vmutils.process_entries(api)
    assert.are.same({ process_id = 10, exe_file = "init.exe" }, step(iter))
    iter:close()
    iter:close()
    assert.is_nil(step(iter))
    assert.is_true(api.finished())
  end)

  it("rejects a non-object api", function()
    local ok, err = pcall(vmutils.process_entries, 5)
    assert.is_false(ok)
    assert.matches("^bad argument #1 to '[%w_.]*process_entries' %(API object expected, got number%)", err)
  end)
end)
