#!/usr/bin/env python3
"""Writes a random GCS log stream full of corners, for the differential test
against the Go anchor (tests/sh/gcs_diff.sh): standard keys in every case,
duplicates, ETW entries, numbers at the edges of float64 and int64, times in
and out of RFC 3339, escapes, surrogates, invalid UTF-8, nesting, and now and
then a value Go rejects, a syntax error or a cut-off entry.

With --floats, every entry carries eight random float64s instead (any bit
pattern, subnormals, neighbours of powers of two, short decimals, 17-digit
fractions), for Go's shortest float text in both formats, nested and not.

Usage: gcs_random_stream.py [--floats] SEED [ENTRIES] > stream
"""
import math
import random
import struct
import sys

args = sys.argv[1:]
floats_only = bool(args) and args[0] == "--floats"
if floats_only:
    args = args[1:]
rnd = random.Random(int(args[0]))
count = int(args[1]) if len(args) > 1 else 60

KEYS = ["time", "TIME", "Time", "level", "LEVEL", "Level", "msg", "MSG", "Msg", "m\u017fg",
        "Source", "message", "Message", "uvm-id", "vm.time", "logrus_error", "fields.time",
        "cid", "pid", "path", "a", "", "k\u00e9y", "<html>", "sp ace", "eq=ual", "x\\\"q"]
LEVELS = ["info", "debug", "warning", "warn", "error", "fatal", "panic", "trace", "INFO",
          "Warn", "\u0130NFO", "verbose", "", "in fo"]
TIMES = ["2024-01-15T10:30:00Z", "2024-01-15T10:30:00.123456789Z", "2024-01-15T10:30:00+01:00",
         "2024-07-15T10:30:00-07:30", "2024-01-15T10:30:00+00:00", "2024-01-15T10:30:00,25Z",
         "2024-01-15T1:30:00Z", "0000-03-01T00:00:00Z", "0000-01-01T00:30:00+01:00",
         "9999-12-31T23:59:59.999999999Z", "2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z",
         "2024-13-01T00:00:00Z", "2024-01-15T10:30:00", "2024-01-15T10:30:00+99:99",
         "2024-01-15T10:30:00\\u005a", "", "2024-01-15T10:30:00.1234567891Z"]
NUMBERS = ["0", "-0", "-0.0", "1", "-1", "42", "100.0", "3.14", "1e19", "-1e30", "1e21", "1e-7",
           "9007199254740993", "-9223372036854775808", "9223372036854775807", "123456789012345678",
           "2.5e-324", "1.7976931348623157e308", "0.1", "1E5", "1e+2", "0.000001", "12345.678901"]
RARE_NUMBERS = ["1e400", "-1e999"]
STRINGS = ["plain", "with space", "tab\\there", "quote\\\"d", "back\\\\slash", "caf\u00e9",
           "caf\\u00e9", "\\ud800 lone", "\\udc00 low", "\\ud83d\\ude00", "\\ud800\\u0041", "<b>&</b>",
           "\u2028\u2029", "\\u2028", "nul\\u0000", "ctl\\u0001\\u001f", "new\\nline", "end\\n", "",
           "\u65e5\u672c\u8a9e", "\\/slash", "emoji \U0001F600", "ETW"]
RAW_BAD = [b"\xff", b"\xe2\x82", b"\xc0\xaf", b"\xed\xa0\x80"]


def string():
    s = '"' + rnd.choice(STRINGS) + '"'
    return s.encode("utf-8")


def scalar(depth, rare):
    r = rnd.random()
    if r < 0.35:
        b = string()
        if rnd.random() < 0.05:
            b = b[:-1] + rnd.choice(RAW_BAD) + b'"'
        return b
    if r < 0.65:
        return (rnd.choice(RARE_NUMBERS) if rare and rnd.random() < 0.2 else rnd.choice(NUMBERS)).encode()
    if r < 0.75:
        return rnd.choice([b"true", b"false", b"null"])
    if depth < 3 and r < 0.87:
        return b"[" + b",".join(scalar(depth + 1, rare) for _ in range(rnd.randrange(4))) + b"]"
    if depth < 3:
        return obj(depth + 1, rare)
    return b"null"


def float_text():
    """A float64 as JSON text: Python's repr is the shortest round-trip form
    (the digits Go must print), 17 digits make the decoder round."""
    kind = rnd.randrange(5)
    if kind == 0:
        v = struct.unpack("<d", rnd.getrandbits(64).to_bytes(8, "little"))[0]
    elif kind == 1:
        v = struct.unpack("<d", rnd.getrandbits(rnd.randrange(1, 53)).to_bytes(8, "little"))[0]
    elif kind == 2:
        bits = (rnd.randrange(1, 2047) << 52) + rnd.choice([-2, -1, 0, 1, 2])
        v = struct.unpack("<d", bits.to_bytes(8, "little"))[0]
    elif kind == 3:
        return "%d.%de%d" % (rnd.randrange(10 ** 6), rnd.randrange(10 ** 4), rnd.randrange(-30, 30))
    else:
        return "%.17g" % (rnd.random() * 10 ** rnd.randrange(-8, 25))
    if not math.isfinite(v):
        v = 0.5
    return repr(v).replace("inf", "1e308")


def float_entry():
    fields = [b'"f%d":%s' % (i, float_text().encode()) for i in range(6)]
    fields.append(b'"nested":{"a":[%s,%s]}' % (float_text().encode(), float_text().encode()))
    return b'{"time":"2024-01-15T10:30:00Z","level":"info","msg":"floats",' + b",".join(fields) + b"}\n"


if floats_only:
    sys.stdout.buffer.write(b"".join(float_entry() for _ in range(count)))
    sys.exit(0)


def obj(depth, rare):
    members = []
    for _ in range(rnd.randrange(5)):
        members.append(b'"' + rnd.choice(KEYS).encode() + b'":' + scalar(depth, rare))
    return b"{" + b",".join(members) + b"}"


def entry(rare):
    members = []
    if rnd.random() < 0.9:
        members.append(b'"time":"' + rnd.choice(TIMES if rare else TIMES[:11]).encode() + b'"')
    if rnd.random() < 0.8:
        members.append(b'"level":"' + rnd.choice(LEVELS if rare else LEVELS[:11]).encode() + b'"')
    if rnd.random() < 0.9:
        members.append(b'"msg":' + (scalar(1, rare) if rare and rnd.random() < 0.3 else string()))
    if rnd.random() < 0.15:
        members.append(b'"Source":"ETW"')
    for _ in range(rnd.randrange(6)):
        key = rnd.choice(KEYS)
        if not rare and key.lower() in ("time", "level", "msg", "m\u017fg"):
            key = "other"
        members.append(b'"' + key.encode() + b'":' + scalar(1, rare))
    rnd.shuffle(members)
    return b"{" + b",".join(members) + b"}"


out = []
for i in range(count):
    rare = rnd.random() < 0.08
    r = rnd.random()
    if rare and r < 0.15:
        piece = rnd.choice([b"null", b"123", b'"str"', b"[1,2]", b"true", b"{}"])
    elif rare and r < 0.2:
        piece = rnd.choice([b"panic: boom\n\tgoroutine 1", b"{\"a\":1,}", b"\x0b", b"{\"a\" 1}"])
    else:
        piece = entry(rare)
    out.append(piece)
    out.append(rnd.choice([b"\n", b"\n", b"\n", b" ", b"\t", b"\r\n", b""]))
if rnd.random() < 0.2:
    last = entry(False)
    out.append(last[: rnd.randrange(1, len(last))])
sys.stdout.buffer.write(b"".join(out))
