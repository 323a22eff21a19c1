"""Where fakeredis is faster than a real Redis over loopback, and where it is slower.

    python benchmarks/fakeredis_vs_redis.py [--rounds 15] [--redis-url redis://127.0.0.1:6379/11]

Three operations, each timed on both in alternating rounds (medians of the rounds, wall-clock):
a lone GET (one round trip: fakeredis has no socket to cross), a pipeline of 100 GETs (per
command: fakeredis parses and answers each in Python), and a small Lua script (fakeredis runs
Lua through lupa, calling back into Python for every redis.call). Beside plain fakeredis, the
library's embedded default (backends.embedded: the same fakeredis server, with its per-call
plumbing done once). Chapter 07 quotes the ratios.
"""

from __future__ import annotations

import argparse
import statistics
import time

import fakeredis
import redis

from _live import answers
from whatsapp_cache.backends import embedded

KEY, SCRIPT = "bench_fake:key", "redis.call('SET', KEYS[1], ARGV[1]) return redis.call('GET', KEYS[1])"


def per_call_us(call, repeats: int) -> float:
    started = time.perf_counter()
    for _ in range(repeats):
        call()
    return (time.perf_counter() - started) / repeats * 1e6


def operations(client) -> dict:
    client.set(KEY, "v")
    script = client.register_script(SCRIPT)
    pipe_size = 100

    def pipeline():
        pipe = client.pipeline(transaction=False)
        for _ in range(pipe_size):
            pipe.get(KEY)
        pipe.execute()

    return {"GET (one round trip)": (lambda: client.get(KEY), 1, 400),
            "GET inside a 100-command pipeline": (pipeline, pipe_size, 20),
            "Lua script (SET + GET)": (lambda: script(keys=[KEY], args=["w"]), 1, 300)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    args = parser.parse_args()
    if not answers(args.redis_url):
        return
    clients = {"fakeredis": fakeredis.FakeRedis(decode_responses=True),
               "embedded": embedded.make_client(decode_responses=True),
               "redis": redis.Redis.from_url(args.redis_url, decode_responses=True)}
    ops = {name: operations(client) for name, client in clients.items()}
    times = {(name, op): [] for name in clients for op in ops["redis"]}
    for _ in range(args.rounds):
        for op in ops["redis"]:
            for name in clients:  # alternating, so drift in machine load hits both
                call, per, repeats = ops[name][op]
                times[name, op].append(per_call_us(call, repeats) / per)
    print(f"{'operation':<36} {'fakeredis µs':>12} {'embedded µs':>12} {'redis µs':>9} {'fakeredis / redis':>18} "
          f"{'embedded / redis':>17}")
    for op in ops["redis"]:
        fake, lean, real = (statistics.median(times[name, op]) for name in ("fakeredis", "embedded", "redis"))
        print(f"{op:<36} {fake:>12.1f} {lean:>12.1f} {real:>9.1f} {fake / real:>17.2f}x {lean / real:>16.2f}x")
    clients["redis"].delete(KEY)
    for client in clients.values():
        client.close()


if __name__ == "__main__":
    main()
