#!/usr/bin/env python3
"""A guest's side of the GCS log socket, for tests/sh/gcs_listen.sh and the
bench: connects to a forwarder's Unix socket and writes log entries.

  gcs_peer.py entries PATH VMID COUNT [--retry SECONDS] [--delay SECONDS]
                                      [--seed N] [--until FILE]
      COUNT entries {"level":"info","msg":"entry","vm":VMID,"seq":i,...},
      one per line, in writes of random sizes. --retry: keep trying to
      connect while the socket is missing or refuses (vsockexec -r);
      --delay: sleep between entries, each carrying its send time "sent";
      --until FILE: with COUNT 0, write until FILE exists;
      --batch-delay SECONDS: sleep after each write of 100 entries.
  gcs_peer.py replay PATH FILE [--seed N] [--go FILE]
      the bytes of FILE in writes of random sizes; with --go, connected
      first and sent once FILE exists (a bench starts every guest at once).
  gcs_peer.py replay-many DIR FILE... [--seed N]
      each FILE to DIR/case-NAME.sock (NAME: FILE's name without .jsonl),
      all connections open at once and written in turns.
  gcs_peer.py cut PATH
      connection 1: two entries and the start of a third, then closed;
      connection 2: one whole entry.
  gcs_peer.py bind PATH [--hold]
      binds a listening socket at PATH and exits (a stale file), or with
      --hold keeps it open until killed.
"""
import os
import random
import socket
import sys
import time


def connect(path, retry):
    deadline = time.monotonic() + retry
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return s
        except (FileNotFoundError, ConnectionRefusedError):
            s.close()
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def send_chunked(s, data, rnd):
    i = 0
    while i < len(data):
        n = rnd.randint(1, 4096)
        s.sendall(data[i:i + n])
        i += n


def entry(vm, seq, extra=""):
    # The pad's length varies so that entries straddle every write size.
    pad = "p" * (seq % 61)
    return ('{"time":"2024-05-01T10:00:00.%09dZ","level":"info","msg":"entry",'
            '"vm":"%s","seq":%d,"pad":"%s"%s}\n' % (seq % 1000000000, vm, seq, pad, extra)).encode()


def opt(args, name, default, conv=str):
    if name in args:
        i = args.index(name)
        value = conv(args[i + 1])
        del args[i:i + 2]
        return value
    return default


def main():
    args = sys.argv[1:]
    retry = opt(args, "--retry", 0.0, float)
    delay = opt(args, "--delay", 0.0, float)
    seed = opt(args, "--seed", 1, int)
    until = opt(args, "--until", None)
    batch_delay = opt(args, "--batch-delay", 0.0, float)
    go = opt(args, "--go", None)
    hold = "--hold" in args
    if hold:
        args.remove("--hold")
    rnd = random.Random(seed)
    mode, path = args[0], args[1]
    if mode == "entries":
        vm, count = args[2], int(args[3])
        s = connect(path, retry)
        seq = 0
        while (count and seq < count) or (not count and until and not os.path.exists(until)):
            if delay:
                s.sendall(entry(vm, seq, ',"sent":%.6f' % time.time()))
                time.sleep(delay)
                seq += 1
                continue
            batch = b"".join(entry(vm, seq + k, "") for k in range(min(100, count - seq) if count else 100))
            seq += 100 if not count else min(100, count - seq)
            send_chunked(s, batch, rnd)
            if batch_delay:
                time.sleep(batch_delay)
        s.close()
        print(seq)
    elif mode == "replay":
        with open(args[2], "rb") as f:
            data = f.read()
        s = connect(path, retry)
        while go and not os.path.exists(go):
            time.sleep(0.01)
        send_chunked(s, data, rnd)
        s.close()
    elif mode == "replay-many":
        streams = []
        for name in args[2:]:
            with open(name, "rb") as f:
                data = f.read()
            base = os.path.basename(name)[:-len(".jsonl")]
            streams.append([connect(os.path.join(path, "case-%s.sock" % base), retry), data, 0])
        while streams:
            for st in list(streams):
                s, data, i = st
                n = rnd.randint(1, 512)
                s.sendall(data[i:i + n])
                st[2] = i + n
                if st[2] >= len(data):
                    s.close()
                    streams.remove(st)
    elif mode == "cut":
        s = connect(path, retry)
        s.sendall(b'{"msg":"one","level":"info"}\n{"msg":"two","level":"info"}\n{"msg":"partial","n":1')
        s.close()
        s = connect(path, retry)
        s.sendall(b',"glued":true}\n{"msg":"three","level":"info"}\n')
        s.close()
    elif mode == "bind":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        s.listen(1)
        if hold:
            print("ready", flush=True)
            while True:
                time.sleep(60)
        os._exit(0)  # no close: the file stays behind
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
