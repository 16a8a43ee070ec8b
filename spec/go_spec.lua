-- vmutils.go: strconv.Quote and path/filepath's Clean, Join and Abs from the
-- core, the texts a Go host prints (each expected value is Go 1.19's), and
-- the same functions inside the policy sandbox.
local vmutils = require "vmutils"
local go = vmutils.go

describe("vmutils.go.quote", function()
  it("quotes as strconv.Quote does", function()
    local cases = {
      { "", '""' },
      { "plain", '"plain"' },
      { 'a"b\\c', '"a\\"b\\\\c"' },
      { "tab\there\n", '"tab\\there\\n"' },
      { "\0\x7f\xff", '"\\x00\\x7f\\xff"' },
      -- printable runes stay; C1 controls, the soft hyphen and U+2028 do not
      { "é\u{85}\u{ad}\u{2028}😀", '"é\\u0085\\u00ad\\u2028😀"' },
      { "\xe2\x82", '"\\xe2\\x82"' },
    }
    for _, c in ipairs(cases) do assert.equal(c[2], go.quote(c[1])) end
  end)

  it("raises on a wrong argument", function()
    assert.has_error(function() go.quote() end)
    assert.has_error(function() go.quote({}) end)
  end)
end)

describe("vmutils.go.path_clean", function()
  it("cleans as filepath.Clean does", function()
    local cases = {
      { "", "." }, { ".", "." }, { "a//b/./c/", "a/b/c" }, { "/../x", "/x" },
      { "../a/../..", "../.." }, { "/a/b/../../..", "/" }, { "a/..", "." },
    }
    for _, c in ipairs(cases) do assert.equal(c[2], go.path_clean(c[1])) end
  end)
end)

describe("vmutils.go.path_join", function()
  it("joins as filepath.Join does, any number of elements", function()
    assert.equal("", go.path_join())
    assert.equal("", go.path_join("", ""))
    assert.equal("a", go.path_join("a", ""))
    assert.equal("/b", go.path_join("", "/b/"))
    assert.equal("/boot/vmlinux", go.path_join("/boot", "x", "..", "vmlinux"))
    assert.equal("../x", go.path_join("a//", "../..", "x"))
  end)

  it("raises on an element that is not a string", function()
    assert.has_error(function() go.path_join("a", nil, "b") end)
  end)
end)

describe("vmutils.go.path_abs", function()
  it("resolves against the given working directory as filepath.Abs does", function()
    assert.equal("/w/y", go.path_abs("x/../y", "/w"))
    assert.equal("/p/q", go.path_abs("/p/./q", "/w"))
    assert.equal("/w", go.path_abs("", "/w/"))
  end)

  it("needs the working directory", function()
    assert.has_error(function() go.path_abs("x") end)
  end)
end)

describe("vmutils.go in a policy", function()
  it("is there, read-only, in the sandbox", function()
    local doc = vmutils.policy.evaluate([[return function()
      local ok = pcall(function() vmutils.go.quote = nil end)
      return { q = vmutils.go.quote("a\n"), j = vmutils.go.path_join("/a", "b"), changed = ok }
    end]])
    assert.same({ q = '"a\\n"', j = "/a/b", changed = false }, doc)
  end)

  it("stays within the sandbox's memory", function()
    local doc, err = vmutils.policy.evaluate([[return function()
      return { n = #vmutils.go.quote(string.rep("\0", 3 * 1024 * 1024)) }
    end]], nil, { memory = 16 * 1024 * 1024 })
    assert.is_nil(doc)
    assert.matches("not enough memory", err)
  end)
end)
