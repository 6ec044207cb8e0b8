#!/usr/bin/env python3
"""
A userspace WAN link for `npm run bench:wan` when the kernel has no `sch_netem` (netem is the
first choice; bench/wan.ts falls back to this). It owns two TUN devices and forwards IP packets
between them, each direction through:

    random loss (--loss-pct)  ->  bottleneck queue (drop-tail, --limit-bytes)  ->  serialisation at --rate-mbit  ->  --delay-ms delay line

which is what `tc qdisc add ... netem delay D rate R limit L loss P%` does on each end of a veth pair.
The bench moves one TUN device into each network namespace; TCP runs end to end through it
(this process terminates nothing). Nothing leaves the two namespaces.

Protocol with the bench: prints "ready" on stdout once both devices exist; forwards until stdin
closes or SIGTERM; then prints a one-line JSON summary (packets forwarded / dropped by the queue /
lost at random, per direction). A line `loss <pct>` on stdin changes the random loss of both
directions (answered with `ok` on stdout).
Only Linux, only root (TUNSETIFF).
"""
import argparse
import collections
import fcntl
import json
import os
import random
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
MAX_READS_PER_WAKE = 256


def open_tun(name):
    fd = os.open('/dev/net/tun', os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack('16sH', name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


class Direction:
    """One way of the link: a drop-tail bottleneck queue, a serialiser and a delay line."""

    def __init__(self, out_fd, rate_bps, delay_s, limit_bytes, rng):
        self.out_fd = out_fd
        self.rng = rng
        self.loss = 0.0                # probability that a packet is lost before the queue
        self.lost = 0
        self.rate_bps = rate_bps
        self.delay_s = delay_s
        self.limit_bytes = limit_bytes
        self.busy_until = 0.0          # when the serialiser finishes the last accepted packet
        self.line = collections.deque()  # (deliver_at, packet), deliver_at non-decreasing
        self.forwarded = 0
        self.dropped = 0

    def accept(self, pkt, now):
        if self.loss > 0 and self.rng.random() < self.loss:
            self.lost += 1
            return
        # Bytes still waiting for the serialiser = the bottleneck queue's backlog.
        backlog = max(0.0, self.busy_until - now) * self.rate_bps / 8
        if backlog + len(pkt) > self.limit_bytes:
            self.dropped += 1
            return
        start = max(now, self.busy_until)
        self.busy_until = start + len(pkt) * 8 / self.rate_bps
        self.line.append((self.busy_until + self.delay_s, pkt))

    def deliver(self, now):
        line = self.line
        while line and line[0][0] <= now:
            _, pkt = line.popleft()
            try:
                os.write(self.out_fd, pkt)
                self.forwarded += 1
            except BlockingIOError:
                self.dropped += 1
            except OSError:
                self.dropped += 1

    def next_due(self):
        return self.line[0][0] if self.line else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument('--tun-a', required=True)
    ap.add_argument('--tun-b', required=True)
    ap.add_argument('--delay-ms', type=float, default=25.0, help='one-way delay, each direction')
    ap.add_argument('--rate-mbit', type=float, default=1000.0, help='link rate, each direction')
    ap.add_argument('--limit-bytes', type=int, default=0, help='bottleneck queue (default: one bandwidth-delay product)')
    ap.add_argument('--loss-pct', type=float, default=0.0, help='random loss, each direction, in percent')
    ap.add_argument('--seed', type=int, default=1, help='seed of the random loss (runs are repeatable)')
    args = ap.parse_args()

    rate_bps = args.rate_mbit * 1e6
    delay_s = args.delay_ms / 1000
    limit = args.limit_bytes or max(256 * 1024, int(rate_bps / 8 * 2 * delay_s))
    a = open_tun(args.tun_a)
    b = open_tun(args.tun_b)
    rng = random.Random(args.seed)
    dirs = {a: Direction(b, rate_bps, delay_s, limit, rng), b: Direction(a, rate_bps, delay_s, limit, rng)}
    for d in dirs.values():
        d.loss = args.loss_pct / 100

    stop = [False]
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__(0, True))
    signal.signal(signal.SIGINT, lambda *_: stop.__setitem__(0, True))
    stdin = sys.stdin.fileno()
    print('ready', flush=True)

    watched = [a, b, stdin]
    while not stop[0]:
        now = time.monotonic()
        dues = [d for d in (dirs[a].next_due(), dirs[b].next_due()) if d is not None]
        timeout = max(0.0, min(dues) - now) if dues else 0.5
        try:
            ready, _, _ = select.select(watched, [], [], timeout)
        except InterruptedError:
            continue
        now = time.monotonic()
        for fd in ready:
            if fd == stdin:
                data = os.read(stdin, 4096)
                if not data:
                    stop[0] = True
                for line in data.decode(errors='replace').splitlines():
                    words = line.split()
                    if len(words) == 2 and words[0] == 'loss':
                        for d in dirs.values():
                            d.loss = float(words[1]) / 100
                        print('ok', flush=True)
                continue
            d = dirs[fd]
            for _ in range(MAX_READS_PER_WAKE):
                try:
                    pkt = os.read(fd, 65536)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break
                d.accept(pkt, now)
        now = time.monotonic()
        dirs[a].deliver(now)
        dirs[b].deliver(now)

    summary = {name: {'forwarded': dirs[fd].forwarded, 'dropped': dirs[fd].dropped, 'lost': dirs[fd].lost}
               for name, fd in ((args.tun_a + '->' + args.tun_b, a), (args.tun_b + '->' + args.tun_a, b))}
    print(json.dumps(summary), flush=True)


if __name__ == '__main__':
    main()
