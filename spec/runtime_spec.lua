-- The runtime program's own commands: `vmutils run`, scripts on stdin,
-- --version, --help, and the REPL read from a pipe (its printing, multi-line
-- input and error recovery; tests/sh/repl.sh drives it on a terminal).
local vmutils = require "vmutils"
local support = require "support"
local sh, script = support.run, support.temp_lua

local BUILD = os.getenv("VMUTILS_BUILD") or "build"
local VMUTILS = BUILD .. "/vmutils"

local function run(text, args)
  local path = script(text)
  local status, out, err = sh(VMUTILS .. " run " .. path .. " " .. (args or ""))
  os.remove(path)
  return status, out, err, path
end

describe("vmutils run", function()
  it("sets arg as lua.c does and passes the arguments as ...", function()
    local status, out, _, path = run(
      "print(arg[-2] ~= nil, arg[-1], arg[0] == ..., #arg, arg[1], arg[2], select('#', ...), ...)", "a 'b c'")
    assert.equal(0, status)
    assert.equal(("true\trun\tfalse\t2\ta\tb c\t2\ta\tb c\n"), out)
    assert.is_string(path)
  end)

  it("arg[0] is the script", function()
    local path = script("io.write(arg[0])")
    local _, out = sh(VMUTILS .. " run " .. path)
    os.remove(path)
    assert.equal(path, out)
  end)

  it("preloads vmutils as a global and for require", function()
    local status, out = run("print(vmutils == require 'vmutils', vmutils._VERSION, vmutils.MAX_VPMEM_COUNT)")
    assert.equal(0, status)
    assert.equal("true\t" .. vmutils._VERSION .. "\t128\n", out)
  end)

  it("has the whole of Lua and loads C modules such as cjson", function()
    local status, out = run("print(require('cjson').encode({1}), type(os.execute), type(io.popen), type(debug))")
    assert.equal(0, status)
    assert.equal("[1]\tfunction\tfunction\ttable\n", out)
  end)

  it("an error exits 1 with the message and a traceback", function()
    local status, out, err, path = run("local x = nil\nprint(x.y)")
    assert.equal(1, status)
    assert.equal("", out)
    assert.matches("^vmutils run: " .. path:gsub("%p", "%%%0") .. ":2: attempt to index a nil value", err)
    assert.matches("stack traceback:", err, 1, true)
  end)

  it("os.exit sets the status", function()
    assert.equal(3, (run("os.exit(3)")))
  end)

  it("a missing script and no script are usage errors, exit 2", function()
    local status, _, err = sh(VMUTILS .. " run /nonexistent/script.lua")
    assert.equal(2, status)
    assert.equal("vmutils run: cannot open /nonexistent/script.lua: No such file or directory\n", err)
    status, _, err = sh(VMUTILS .. " run")
    assert.equal(2, status)
    assert.matches("missing SCRIPT", err, 1, true)
  end)

  it("runs standard input with - as the script", function()
    local status, out = sh(VMUTILS .. " run - x", "print(arg[1], vmutils ~= nil)")
    assert.equal(0, status)
    assert.equal("x\ttrue\n", out)
  end)
end)

describe("vmutils with no command", function()
  it("runs standard input as a script when it is not a terminal", function()
    local status, out = sh(VMUTILS, "print(1 + 1)\nprint(vmutils.PLAN9_PORT)")
    assert.equal(0, status)
    assert.equal("2\n564\n", out)
  end)

  it("--version prints the module's version", function()
    local status, out = sh(VMUTILS .. " --version")
    assert.equal(0, status)
    assert.equal(vmutils._VERSION .. "\n", out)
  end)

  it("--help lists the commands and exits 0", function()
    local status, out = sh(VMUTILS .. " --help")
    assert.equal(0, status)
    for _, word in ipairs({ "run SCRIPT", "policy", "gcs-logs", "repl", "--version", "--help" }) do
      assert.matches(word, out, 1, true)
    end
  end)

  it("an unknown command exits 2 with one line and a pointer to --help", function()
    local status, out, err = sh(VMUTILS .. " frobnicate")
    assert.equal(2, status)
    assert.equal("", out)
    assert.equal("vmutils: unknown command 'frobnicate'\nTry 'vmutils --help'.\n", err)
  end)
end)

describe("vmutils repl (from a pipe)", function()
  local function repl(input)
    local status, out, err = sh(VMUTILS .. " repl", input)
    assert.equal(0, status)
    return out, err
  end

  it("prints expressions, not statements", function()
    assert.equal("3\n", repl("1 + 2\nx = 5\n"))
    assert.equal("5\t\"five\"\tnil\n", repl("x = 5\nx, 'five', nil\n"))
  end)

  it("continues unfinished chunks as lua.c does", function()
    assert.equal("1\n2\n6\n", repl("for i = 1, 2 do\nprint(i)\nend\nfunction f(a,\nb)\nreturn a * b end\nf(2, 3)\n"))
  end)

  it("prints tables with sorted keys, one line when short", function()
    assert.equal('{ 10, 20, [5] = "five", a = 1, b = { c = true }, ["not an id"] = 2 }\n',
      repl('t = { b = { c = true }, a = 1, 10, 20, [5] = "five", ["not an id"] = 2 }\nt\n'))
    assert.equal("{}\n", repl("{}\n"))
  end)

  it("breaks long tables over lines, indented", function()
    local out = repl("local t = {} for i = 1, 3 do t['key_number_' .. i] = string.rep('v', 20) end return t\n")
    assert.equal('{\n  key_number_1 = "vvvvvvvvvvvvvvvvvvvv",\n  key_number_2 = "vvvvvvvvvvvvvvvvvvvv",\n'
      .. '  key_number_3 = "vvvvvvvvvvvvvvvvvvvv"\n}\n', out)
  end)

  it("names cycles instead of following them", function()
    local out = repl("c = { name = 'c' } c.self = c\nc\n")
    assert.matches('^{ name = "c", self = <cycle: table: 0x%x+> }\n$', out)
  end)

  it("cuts nesting at six levels", function()
    assert.equal("{ { { { { { {...} } } } } } }\n", repl("{{{{{{{1}}}}}}}\n"))
  end)

  it("shows at most 20000 items of one value, so a table shared at every level stays short", function()
    -- 1000 x 1000 x 1000 items in full; shown: the first 20000, then counts.
    local out = repl("local t = {} for i = 1, 1000 do t[i] = i end "
      .. "local u = {} for i = 1, 1000 do u[i] = t end "
      .. "local w = {} for i = 1, 1000 do w[i] = u end return w\n")
    assert.is_true(#out < 400000, "printed " .. #out .. " bytes")
    assert.matches("\n  %.%.%. %(999 more%)\n}\n$", out)
    assert.matches("\n    %.%.%. %(980 more%)\n", out)
    local items = 0
    for _ in out:gmatch("\n      %d+,?") do items = items + 1 end
    assert.equal(20000 - 1 - 20, items) -- less the rows and tables that hold them
  end)

  it("quotes strings, shows vmutils.null, sorts mixed keys", function()
    assert.equal('"a\\"b\\n\\000"\n', repl('"a\\"b\\n\\0"\n'))
    assert.equal("vmutils.null\n", repl("vmutils.null\n"))
    assert.equal('{ [1.5] = "f", x = "s", [true] = "b" }\n', repl('{ x = "s", [true] = "b", [1.5] = "f" }\n'))
  end)

  it("shows vmutils tables as tables", function()
    assert.equal("{\n  RS5 = 17763,\n  V19H1 = 18362,\n  V21H1 = 19043,\n  V21H2_SERVER = 20348,\n"
      .. "  V25H1_SERVER = 26100\n}\n", repl("vmutils.osversion\n"))
  end)

  it("reports errors and goes on", function()
    local out, err = repl("error('first')\n1 + 1\nnil + 1\n'still here'\n")
    assert.equal('2\n"still here"\n', out)
    assert.matches("vmutils repl: stdin:1: first", err, 1, true)
    assert.matches("attempt to perform arithmetic on a nil value", err, 1, true)
  end)

  it("reports a syntax error in an unfinished chunk at end of input", function()
    local out, err = repl("for i = 1, 2 do\n")
    assert.equal("", out)
    assert.matches("'end' expected", err, 1, true)
  end)

  it("refuses arguments", function()
    local status, _, err = sh(VMUTILS .. " repl extra")
    assert.equal(2, status)
    assert.matches("unexpected argument 'extra'", err, 1, true)
  end)
end)
