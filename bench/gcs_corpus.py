#!/usr/bin/env python3
"""Prints a reproducible GCS log stream: the logrus JSON lines a Linux
guest's GCS writes to the host, for the benches and the differential test.

The mix follows a busy guest: bridge requests and their trace spans,
container and process events with ids, pids, paths and exit codes, ETW
events that carry their text under "message" or "Message" with an empty
"msg", now and then an error text, a label object, a ratio, whole numbers
written as floats (3.0), and text with escapes and non-ASCII letters. The
same seed gives the same bytes.

Usage: gcs_corpus.py [--mb SIZE] [--seed N] [--panic] > stream.jsonl
  --mb     size in MiB, approximate (default 64)
  --seed   seed of the random choices (default 1)
  --panic  end with the text of a Go runtime panic, as a crashing GCS
           leaves on its log port
"""
import argparse
import json
import random
import sys

# (level, weight): mostly debug and info, as a guest at its default level.
LEVEL_WEIGHTS = [("trace", 1), ("debug", 10), ("info", 14), ("warning", 3), ("error", 2)]

OPERATIONS = [
    "bridge: create container",
    "bridge: start process",
    "bridge: wait process",
    "bridge: modify settings",
    "bridge: signal process",
    "mounting overlay filesystem",
    "scsi device attached",
    "vsock: connection accepted",
    "network namespace configured",
    "hot-added memory block",
    "layer unpacked: sha256 caf\u00e9 \u2713",
    "bad path \"C:\\\\ProgramData\\\\x\"\tignored",
]
SPAN_NAMES = ["bridge::CreateContainer", "bridge::ExecProcess", "hcsv2::Host.ModifySettings",
              "guest::mountLayers"]
ETW_PROVIDERS = ["Microsoft.Windows.Containers.Guest", "Microsoft-Windows-Hyper-V-Worker"]
ERRORS = ["no such file or directory", "device or resource busy", "context deadline exceeded",
          "permission denied"]


class Stream:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.levels = [name for name, weight in LEVEL_WEIGHTS for _ in range(weight)]
        self.clock = 1_700_000_000 * 10**9
        self.containers = [self.hex(64) for _ in range(8)]

    def hex(self, digits):
        return "%0*x" % (digits, self.rng.getrandbits(4 * digits))

    def timestamp(self):
        # Nanoseconds since the epoch, about 40 entries a second.
        self.clock += int(self.rng.expovariate(40.0) * 1e9) + 1
        seconds, nanos = divmod(self.clock, 10**9)
        days, rest = divmod(seconds, 86400)
        # 2023-11-14 is day 19675 of the epoch; the stream stays within a month.
        day = 14 + days - 19675
        return "2023-11-%02dT%02d:%02d:%02d.%09dZ" % (
            day, rest // 3600, rest // 60 % 60, rest % 60, nanos)

    def container(self):
        # A few containers live long; now and then one is replaced.
        if self.rng.random() < 0.01:
            self.containers[self.rng.randrange(len(self.containers))] = self.hex(64)
        return self.rng.choice(self.containers)

    def entry(self):
        e = {"time": self.timestamp(), "level": self.rng.choice(self.levels)}
        pick = self.rng.random()
        if pick < 0.07:
            self.etw(e)
        elif pick < 0.40:
            self.span(e)
        else:
            self.event(e)
        return e

    def etw(self, e):
        e["msg"] = ""
        e["Source"] = "ETW"
        e["provider"] = self.rng.choice(ETW_PROVIDERS)
        e["message" if self.rng.random() < 0.5 else "Message"] = self.rng.choice(OPERATIONS)
        e["eventID"] = float(self.rng.randrange(1, 1000))
        e["opcode"] = self.rng.randrange(0, 12)

    def span(self, e):
        e["msg"] = "Span"
        e["name"] = self.rng.choice(SPAN_NAMES)
        e["traceID"] = self.hex(32)
        e["spanID"] = self.hex(16)
        e["parentSpanID"] = self.hex(16) if self.rng.random() < 0.6 else "0000000000000000"
        e["startTime"] = e["time"]
        e["duration"] = round(self.rng.lognormvariate(1.0, 1.5), 6)
        e["cid"] = self.container()

    def event(self, e):
        e["msg"] = self.rng.choice(OPERATIONS)
        e["cid"] = self.container()
        e["pid"] = self.rng.randrange(2, 1 << 22)
        e["path"] = "/run/gcs/c/%s/%s" % (e["cid"][:12], self.rng.choice(["rootfs", "config.json", "scratch"]))
        if self.rng.random() < 0.25:
            e["exitCode"] = float(self.rng.choice([0, 0, 0, 1, 2, 137, 143, 255]))
        if self.rng.random() < 0.15:
            e["error"] = "%s: %s" % (e["path"], self.rng.choice(ERRORS))
        if self.rng.random() < 0.08:
            e["labels"] = {"app": "svc-%d" % self.rng.randrange(50), "io.kubernetes.pod.namespace": "default"}
        if self.rng.random() < 0.05:
            e["ratio"] = self.rng.random()


PANIC = """panic: runtime error: index out of range [3] with length 3

goroutine 42 [running]:
github.com/Microsoft/hcsshim/internal/guest/bridge.(*Bridge).handle(0xc0001a2000)
\t/go/src/internal/guest/bridge/bridge.go:417 +0x1d5
created by github.com/Microsoft/hcsshim/internal/guest/bridge.(*Bridge).ListenAndServe
\t/go/src/internal/guest/bridge/bridge.go:301 +0x2a6
"""


def main():
    parser = argparse.ArgumentParser(description="Prints a reproducible GCS log stream.")
    parser.add_argument("--mb", type=float, default=64, help="size in MiB (approximate)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random choices")
    parser.add_argument("--panic", action="store_true", help="end with a Go panic dump")
    args = parser.parse_args()

    stream = Stream(args.seed)
    budget = int(args.mb * 1024 * 1024)
    out = sys.stdout.buffer
    while budget > 0:
        line = (json.dumps(stream.entry(), ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        out.write(line)
        budget -= len(line)
    if args.panic:
        out.write(PANIC.encode())


if __name__ == "__main__":
    main()
