#!/usr/bin/env bash
# The bytes of marshal_runtime_options are what protoc (an independent
# protobuf implementation) reads as containerd.runhcs.v1.Options, and bytes
# protoc writes are what unmarshal_runtime_options reads. The schema protoc
# uses here is written in the canonical proto3 form (map<string, string>,
# `optional bool`), not our protobuf-c spelling of it in core/proto, so the
# test also shows the two describe the same wire format.
set -u
cd "$(dirname "$0")/../.."
BUILD=${VMUTILS_BUILD:-build}
n=0 fails=0
check() {
  n=$((n + 1))
  if eval "$2"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fails=$((fails + 1)); fi
}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
PROTO_INCLUDE=$(pkg-config --variable=includedir libprotobuf-c 2>/dev/null || echo /usr/include)

cat >"$tmp/canonical.proto" <<'EOF'
syntax = "proto3";
package containerd.runhcs.v1;
message Options {
  bool debug = 1;
  enum DebugType { NPIPE = 0; FILE = 1; ETW = 2; }
  DebugType debug_type = 2;
  string registry_root = 3;
  string sandbox_image = 4;
  string sandbox_platform = 5;
  enum SandboxIsolation { PROCESS = 0; HYPERVISOR = 1; }
  SandboxIsolation sandbox_isolation = 6;
  string boot_files_root_path = 7;
  int32 vm_processor_count = 8;
  int32 vm_memory_size_in_mb = 9;
  string GPUVHDPath = 10;
  bool scale_cpu_limits_to_sandbox = 11;
  int32 default_container_scratch_size_in_gb = 12;
  int32 default_vm_scratch_size_in_gb = 13;
  bool share_scratch = 14;
  string NCProxyAddr = 15;
  string log_level = 16;
  int32 io_retry_timeout_in_sec = 17;
  map<string, string> default_container_annotations = 18;
  bool no_inherit_host_timezone = 19;
  optional bool scrub_logs = 20;
}
// google.protobuf.Any with its value read as the message it holds.
message AnyView {
  string type_url = 1;
  Options value = 2;
}
EOF

# marshal.lua OUT_ANY OUT_VALUE: marshals a table with every field set.
cat >"$tmp/marshal.lua" <<'EOF'
package.cpath = (os.getenv("VMUTILS_BUILD") or "build") .. "/?.so;" .. package.cpath
local vmutils = require "vmutils"
local bytes = assert(vmutils.marshal_runtime_options {
  debug = true, debug_type = "ETW", registry_root = "HKLM\\Software\0x", sandbox_image = "pause:3.9",
  sandbox_platform = "linux/amd64", sandbox_isolation = "HYPERVISOR", boot_files_root_path = "C:\\boot",
  vm_processor_count = -2, vm_memory_size_in_mb = 2147483647, GPUVHDPath = "g.vhd",
  scale_cpu_limits_to_sandbox = true, default_container_scratch_size_in_gb = 20,
  default_vm_scratch_size_in_gb = -2147483648, share_scratch = true, NCProxyAddr = "\u{20ac}\"q",
  log_level = "debug", io_retry_timeout_in_sec = 30,
  default_container_annotations = { zeta = "last", alpha = "first", [""] = "" },
  no_inherit_host_timezone = true, scrub_logs = false,
})
io.open(arg[1], "wb"):write(bytes):close()
-- The Any's value: after the type URL field comes field 2's tag and length.
local pos, len, shift = 2 + bytes:byte(2) + 2, 0, 0
repeat
  local b = bytes:byte(pos); pos = pos + 1
  len = len | ((b & 0x7f) << shift); shift = shift + 7
until b < 0x80
io.open(arg[2], "wb"):write(bytes:sub(pos, pos + len - 1)):close()
EOF

cat >"$tmp/want.txt" <<'EOF'
type_url: "containerd.runhcs.v1.Options"
value {
  debug: true
  debug_type: ETW
  registry_root: "HKLM\\Software\000x"
  sandbox_image: "pause:3.9"
  sandbox_platform: "linux/amd64"
  sandbox_isolation: HYPERVISOR
  boot_files_root_path: "C:\\boot"
  vm_processor_count: -2
  vm_memory_size_in_mb: 2147483647
  GPUVHDPath: "g.vhd"
  scale_cpu_limits_to_sandbox: true
  default_container_scratch_size_in_gb: 20
  default_vm_scratch_size_in_gb: -2147483648
  share_scratch: true
  NCProxyAddr: "\342\202\254\"q"
  log_level: "debug"
  io_retry_timeout_in_sec: 30
  default_container_annotations {
    key: ""
    value: ""
  }
  default_container_annotations {
    key: "alpha"
    value: "first"
  }
  default_container_annotations {
    key: "zeta"
    value: "last"
  }
  no_inherit_host_timezone: true
  scrub_logs: false
}
EOF

check "marshal_runtime_options writes an Any" \
  "lua5.4 $tmp/marshal.lua $tmp/any.bin $tmp/value.bin 2>$tmp/lua.err"
check "protoc --decode reads it back, every field as given" \
  "protoc -I$tmp --decode=containerd.runhcs.v1.AnyView $tmp/canonical.proto <$tmp/any.bin >$tmp/got.txt 2>$tmp/protoc.err && diff -u $tmp/want.txt $tmp/got.txt"
# Read with our schema, written back with it, read with the canonical one:
# nothing lost or misread on the way.
OURS="-Icore/proto -I$PROTO_INCLUDE core/proto/runhcs_options.proto"
check "our core/proto description carries every field the canonical one does" \
  "protoc -I$tmp --decode=containerd.runhcs.v1.Options $tmp/canonical.proto <$tmp/value.bin >$tmp/canonical.txt && protoc --decode=containerd.runhcs.v1.Options $OURS <$tmp/value.bin | protoc --encode=containerd.runhcs.v1.Options $OURS | protoc -I$tmp --decode=containerd.runhcs.v1.Options $tmp/canonical.proto >$tmp/ours.txt && diff -u $tmp/canonical.txt $tmp/ours.txt"
check "protoc --decode_raw sees the field numbers of the schema" \
  "protoc --decode_raw <$tmp/value.bin | grep -E '^[0-9]+' | sed 's/[: {].*//' | tr '\n' ' ' | grep -qx '1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 18 18 19 20 '"

# The other way: protoc writes, unmarshal_runtime_options reads.
cat >"$tmp/input.txt" <<'EOF'
type_url: "type.googleapis.com/containerd.runhcs.v1.Options"
value {
  debug_type: FILE
  sandbox_isolation: 5
  vm_processor_count: -7
  log_level: "warn"
  default_container_annotations { key: "k" value: "v" }
  default_container_annotations { key: "k2" value: "\000\001" }
  scrub_logs: true
}
EOF
cat >"$tmp/unmarshal.lua" <<'EOF'
package.cpath = (os.getenv("VMUTILS_BUILD") or "build") .. "/?.so;" .. package.cpath
local vmutils = require "vmutils"
local o = assert(vmutils.unmarshal_runtime_options(io.open(arg[1], "rb"):read("a")))
assert(o.debug == false and o.debug_type == "FILE" and o.sandbox_isolation == 5, "enums")
assert(math.type(o.vm_processor_count) == "integer" and o.vm_processor_count == -7, "int32")
assert(o.log_level == "warn" and o.registry_root == "", "strings")
assert(o.default_container_annotations.k == "v" and o.default_container_annotations.k2 == "\0\1", "map")
assert(o.scrub_logs == true, "scrub_logs")
-- and marshalling it again gives what protoc reads as the same options
io.open(arg[2], "wb"):write(assert(vmutils.marshal_runtime_options(o))):close()
EOF
check "protoc --encode writes an Any that unmarshal_runtime_options reads" \
  "protoc -I$tmp --encode=containerd.runhcs.v1.AnyView $tmp/canonical.proto <$tmp/input.txt >$tmp/input.bin && lua5.4 $tmp/unmarshal.lua $tmp/input.bin $tmp/again.bin"
check "re-marshalled, protoc reads the same options" \
  "protoc -I$tmp --decode=containerd.runhcs.v1.AnyView $tmp/canonical.proto <$tmp/input.bin | sed 1d >$tmp/first.txt && protoc -I$tmp --decode=containerd.runhcs.v1.AnyView $tmp/canonical.proto <$tmp/again.bin | sed 1d >$tmp/second.txt && diff -u $tmp/first.txt $tmp/second.txt"
check "a scrub_logs left unset stays unset for protoc" \
  "lua5.4 -e 'package.cpath=\"$BUILD/?.so;\"..package.cpath; io.write(require\"vmutils\".marshal_runtime_options{debug=true})' | protoc -I$tmp --decode=containerd.runhcs.v1.AnyView $tmp/canonical.proto | grep -c scrub_logs | grep -qx 0"
[ $fails -eq 0 ]
