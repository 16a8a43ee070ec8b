-- parse_uvm_reference_info: Go's behaviour (empty name, missing file,
-- base64 of the content, the debug record) and the hardening against
-- untrusted names, on a fixture directory built for the spec.
local vmutils = require "vmutils"
local capture = require("log_capture").capture
local support = require "support"
local raises, row_arguments = support.raises, support.row_arguments
local sh, quote, write, base64 = support.shell, support.quote, support.write_file, support.base64

local PREFIX = "failed to read UVM reference info file: "

describe("parse_uvm_reference_info", function()
  local tmp, root
  local all_bytes = (function()
    local t = {}
    for i = 0, 255 do t[#t + 1] = string.char(i) end
    return table.concat(t)
  end)()
  local four_mib = 4 * 1024 * 1024

  setup(function()
    tmp = (sh("realpath \"$(mktemp -d)\""):gsub("\n$", ""))
    root = tmp .. "/root"
    local output, status = sh(table.concat({
      "mkdir -p " .. quote(root .. "/sub") .. " " .. quote(root .. "/dir") .. " " .. quote(tmp .. "/outside"),
      "mkfifo " .. quote(root .. "/fifo"),
      "cd " .. quote(root),
      "ln -s abc.txt link_in",
      "ln -s link_in link_chain",
      "ln -s ../abc.txt sub/link_up_in",
      "ln -s ../../outside.txt sub/link_up_out",
      "ln -s ../outside.txt link_out",
      "ln -s ../outside dirlink_out",
      "ln -s / dirlink_abs",
      "ln -s root " .. quote(tmp .. "/rootlink"),
    }, " && "))
    assert.are.equal(0, status, output)
    write(root .. "/abc.txt", "abc")
    write(root .. "/empty", "")
    write(root .. "/binary", "\0a\0b\0")
    write(root .. "/all_bytes", all_bytes)
    write(root .. "/sub/file", "inner")
    write(root .. "/exactly_4mib", string.rep("x", four_mib))
    write(root .. "/over_4mib", string.rep("x", four_mib + 1))
    write(tmp .. "/outside.txt", "out")
    write(tmp .. "/outside/secret", "s")
    write(tmp .. "/notadir", "x")
  end)

  teardown(function()
    if tmp then sh("rm -rf " .. quote(tmp)) end
  end)

  -- name, root (nil: the fixture root; else relative to tmp), reference
  -- name, expected text, expected error (with %s for the joined path; a
  -- list when openat2 and the fallback walk word it differently), whether
  -- the "not found" debug record is expected
  local cases = {
    { "empty name gives an empty string", nil, "", "" },
    { "missing file gives an empty string", nil, "missing", "", nil, true },
    { "missing directory gives an empty string", nil, "missing/file", "", nil, true },
    { "missing root gives an empty string", "nowhere", "abc.txt", "", nil, true },
    { "content is standard base64", nil, "abc.txt", "YWJj" },
    { "empty file is an empty string", nil, "empty", "" },
    { "NUL bytes are kept", nil, "binary", base64("\0a\0b\0") },
    { "every byte value", nil, "all_bytes", base64(all_bytes) },
    { "subdirectories are fine", nil, "sub/file", "aW5uZXI=" },
    { "the name is cleaned as filepath.Join does", nil, "./sub//../abc.txt", "YWJj" },
    { "the root may be a symbolic link", "rootlink", "abc.txt", "YWJj" },
    -- 4 MiB of "x": 1398101 groups "xxx" and one "x" left over
    { "exactly 4 MiB is accepted", nil, "exactly_4mib", string.rep("eHh4", four_mib // 3) .. "eA==" },
    { "a file on the way", nil, "abc.txt/x", nil, PREFIX .. "open %s: not a directory" },
    { "a root that is a file", "notadir", "abc.txt", nil, PREFIX .. "open %s: not a directory" },
    { "a parent of the root", nil, "../outside.txt", nil, PREFIX .. "%s: path escapes the reference root" },
    { "dot-dot past the root", nil, "sub/../../outside.txt", nil,
      PREFIX .. "%s: path escapes the reference root" },
    { "an absolute name", nil, "/etc/passwd", nil, PREFIX .. "%s: path escapes the reference root" },
    { "a root that is a file is read for the name \".\"", "notadir", ".", "eA==" },
    { "a symbolic link out of the root", nil, "link_out", nil,
      { PREFIX .. "%s: path escapes the reference root", PREFIX .. "%s: symbolic links are not followed" } },
    { "a link up a level out of the root", nil, "sub/link_up_out", nil,
      { PREFIX .. "%s: path escapes the reference root", PREFIX .. "%s: symbolic links are not followed" } },
    { "a directory link out of the root", nil, "dirlink_out/secret", nil,
      { PREFIX .. "%s: path escapes the reference root", PREFIX .. "%s: symbolic links are not followed" } },
    { "an absolute directory link", nil, "dirlink_abs/etc/passwd", nil,
      { PREFIX .. "%s: path escapes the reference root", PREFIX .. "%s: symbolic links are not followed" } },
    { "a directory", nil, "dir", nil, PREFIX .. "%s: not a regular file" },
    { "a FIFO, without blocking", nil, "fifo", nil, PREFIX .. "%s: not a regular file" },
    { "a file over 4 MiB", nil, "over_4mib", nil, PREFIX .. "%s: file is larger than 4194304 bytes" },
  }

  local function clean_join(a, b)
    -- the fixture's names need only "." and ".." removal, as Go's Clean does
    local parts = {}
    for part in (a .. "/" .. b):gmatch("[^/]+") do
      if part == ".." then parts[#parts] = nil
      elseif part ~= "." then parts[#parts + 1] = part end
    end
    return "/" .. table.concat(parts, "/")
  end

  for _, c in ipairs(cases) do
    it(c[1], function()
      local dir = c[2] and tmp .. "/" .. c[2] or root
      local joined = clean_join(dir, c[3])
      local records, results = capture(function()
        return vmutils.parse_uvm_reference_info(dir, c[3])
      end, "debug")
      if c[5] then
        assert.are.equal(2, results.n)
        assert.is_nil(results[1])
        local expected = type(c[5]) == "table" and c[5] or { c[5] }
        local matched = false
        for _, e in ipairs(expected) do
          if results[2] == e:format(joined) then matched = true end
        end
        assert.is_true(matched, "unexpected error: " .. tostring(results[2]))
        assert.are.equal(0, #records)
      else
        assert.are.equal(1, results.n)
        assert.are.equal(c[4], results[1])
        if c[6] then
          assert.are.equal(1, #records)
          assert.are.equal("debug", records[1].level)
          assert.are.equal("UVM reference info file not found", records[1].msg)
          assert.are.same({ filePath = joined }, records[1].fields)
        else
          assert.are.equal(0, #records)
        end
      end
    end)
  end

  -- Links that stay inside the root: resolved beneath it where the kernel
  -- has openat2, refused by the walk used without it. Which one runs shows
  -- in how a directory link out of the root is refused.
  local function uses_openat2()
    local _, err = vmutils.parse_uvm_reference_info(root, "dirlink_out/secret")
    return err == PREFIX .. root .. "/dirlink_out/secret: path escapes the reference root"
  end

  for _, c in ipairs({
    { "a link at the end inside the root", "link_in" },
    { "a chain of links inside the root", "link_chain" },
    { "a link up a level that stays inside the root", "sub/link_up_in" },
  }) do
    it(c[1] .. " is read with openat2, refused without it", function()
      local text, err = vmutils.parse_uvm_reference_info(root, c[2])
      if uses_openat2() then
        assert.are.equal("YWJj", text)
        assert.is_nil(err)
      else
        assert.is_nil(text)
        assert.are.equal(PREFIX .. root .. "/" .. c[2] .. ": symbolic links are not followed", err)
      end
    end)
  end

  it("logs nothing for a missing file below the debug level", function()
    local records, results = capture(function()
      return vmutils.parse_uvm_reference_info(root, "missing")
    end, "info")
    assert.are.equal("", results[1])
    assert.are.equal(0, #records)
  end)

  it("refuses NUL bytes in the name or the root", function()
    assert.are.same({ n = 2, nil, PREFIX .. "path contains a NUL byte" },
      table.pack(vmutils.parse_uvm_reference_info(root, "abc.txt\0../../outside.txt")))
    assert.are.same({ n = 2, nil, PREFIX .. "path contains a NUL byte" },
      table.pack(vmutils.parse_uvm_reference_info(root .. "\0/x", "abc.txt")))
  end)

  local bad = {
    { "a missing root", "bad argument #1 to 'parse_uvm_reference_info' (string expected, got no value)" },
    { "a table root", "bad argument #1 to 'parse_uvm_reference_info' (string expected, got table)", {}, "x" },
    { "a missing name", "bad argument #2 to 'parse_uvm_reference_info' (string expected, got no value)", "/" },
    { "a boolean name", "bad argument #2 to 'parse_uvm_reference_info' (string expected, got boolean)", "/", false },
    { "a nil name", "bad argument #2 to 'parse_uvm_reference_info' (string expected, got nil)", "/", nil, 1 },
  }
  for _, c in ipairs(bad) do
    it("rejects " .. c[1], function()
      raises(c[2], "parse_uvm_reference_info", row_arguments(c))
    end)
  end
end)
