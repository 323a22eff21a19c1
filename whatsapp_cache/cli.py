"""Command line: `python -m whatsapp_cache <command>` (also installed as `whatsapp-cache`)."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import socket
import sys
import threading
from dataclasses import asdict
from pathlib import Path

import redis
from sqlalchemy.exc import ProgrammingError, SQLAlchemyError

from .backends import describe_failure, make_engine, make_redis
from .clock import SystemClock
from .config import DATABASE_URL_ENV, REDIS_URL_ENV, BackendConfig, failure_text
from .db import Repository
from .db.dataset import SIZES, generate
from .errors import ConfigError, InvalidInput, WhatsAppCacheError
from .eviction import workloads
from .eviction.simulator import POLICIES, format_results, simulate
from .eviction.workloads import WORKLOADS
from .experiments.workload import WorkloadSpec
from .keys import KeySchema
from .latency import DatabaseCapacity, LatencyModel
from .patterns.write_behind import WriteBehindWorker, block_limit_ms
from .resilience import FailurePolicy
from .ttl import TTLs
from .world import World

# The course's, the lab's and chaos' commands import what they run inside their functions: the course's
# modules pull in nbformat and Jupyter (seconds to load), which `--help`, `tour` or `worker` never need.


def _tour(args: argparse.Namespace) -> str:
    from .experiments.tour import tour

    spec = WorkloadSpec(actions=args.actions, duration_s=int(args.hours * 3600), user_skew=args.skew, seed=args.seed)
    ttls = TTLs().with_(**{name: value for name, value in (("messages", args.messages_ttl),
                                                           ("profiles", args.profiles_ttl)) if value is not None})
    return tour(spec, redis_url=args.redis_url, database_url=args.database_url, size=args.size, ttls=ttls,
                progress=not args.no_progress, as_json=args.json, reset=args.reset, measured=args.measured)


def _course(args: argparse.Namespace) -> str:
    from .course.chapters import build, refresh_navigation

    if args.action == "open":
        from .course.chapters import open_command, prepare_workspace, workspace_dir

        made = prepare_workspace()
        print(f"workspace: {workspace_dir()} ({len(made)} notebook(s) copied; your edits there are kept)")
        command, url = open_command(args.notebooks)
        if url:
            print(f"open chapter 00 at: {url}", flush=True)
        os.execv(command[0], command)
    if args.action == "reset":
        from .course.chapters import reset_chapters

        restored = reset_chapters(args.notebooks)
        return "restored from the tracked notebooks: " + ", ".join(str(p) for p in restored)
    if args.action == "nav":
        changed = refresh_navigation()
        return f"navigation refreshed in {len(changed)} notebook(s)"
    if args.action == "doctor":
        return _doctor()
    if args.action == "demo":
        return _demo(args.notebooks)
    if args.action == "cheatsheet":
        return _cheatsheet(args.notebooks)
    if args.action == "glossary":
        from .course.glossary import write

        return f"glossary written to {write()}"
    if args.action == "slides":
        return _slides(args.notebooks)
    if args.action == "progress":
        from .course.chapters import workspace_dir
        from .course.exercises import format_progress, progress

        folder = workspace_dir()
        return f"exercises passed, from the notebooks in {folder}:\n" + format_progress(progress(folder))
    built = build(args.notebooks)
    from .course.slides import TALKS, apply

    talks = [path.stem for path in built if path.stem in TALKS]
    if talks:
        apply(talks)  # a cell added to a talk's chapter since: marked "skip", so the talk stays as chosen
    return "executed and stored: " + ", ".join(p.name for p in built)


def _demo(names: list[str]) -> str:
    """Serve one dashboard with Voila in the foreground (Ctrl-C stops it); without a name, list them."""
    from .course.demos import DEMOS, find, free_port, voila_command

    if not names:
        return "demos (whatsapp-cache course demo NAME):\n" + "\n".join(
            f"  {demo.name:<9} {demo.title}" for demo in DEMOS.values())
    demo, port = find(names[0]), free_port()
    command = voila_command(demo, port, browser="--no-browser" not in names[1:])
    print(f"serving the {demo.name} dashboard at http://127.0.0.1:{port}/ (Ctrl-C stops it)", flush=True)
    os.execv(command[0], command)


def _slides(words: list[str]) -> str:
    """Write the talks' slide metadata (all, or the chapters named); with --html DIR also build the pages."""
    from .course import slides

    parser = argparse.ArgumentParser(prog="whatsapp-cache course slides")
    parser.add_argument("chapters", nargs="*", help="chapter numbers or stems (default: every talk)")
    parser.add_argument("--html", type=Path, help="also write reveal.js pages into this folder (nbconvert)")
    parser.add_argument("--reveal", default=slides.REVEAL_CDN,
                        help="where the pages load reveal.js 4 from (default: a CDN; a local copy works offline)")
    options = parser.parse_args(words)
    talks = [slides.find(name) for name in options.chapters] if options.chapters else list(slides.TALKS.values())
    changed = slides.apply([talk.chapter for talk in talks])
    lines = [f"slide metadata written in {len(changed)} notebook(s); present in JupyterLab with RISE "
             "(the toolbar's slideshow button, or /rise/notebooks/<chapter>.ipynb)"]
    for talk in talks:
        lines.append(f"{talk.chapter} (about {talk.minutes} min): "
                     f"{sum(kind in ('slide', 'subslide') for _, kind in talk.cells)} slides")
    if options.html:
        pages = slides.build_html([talk.chapter for talk in talks], options.html, options.reveal)
        lines.append("pages: " + ", ".join(str(page) for page in pages))
    return "\n".join(lines)


def _doctor() -> str:
    from .course.doctor import checks, healthy, report

    found = checks()
    if not healthy(found):
        print(report(found))
        raise ConfigError("the course cannot run here until the required checks above pass")
    return report(found)
def _cheatsheet(extra: list[str]) -> str:
    """`course cheatsheet [--output FILE]`: the sheet on stdout, or written to FILE."""
    from .course.cheatsheet import cheatsheet

    parser = argparse.ArgumentParser(prog="whatsapp-cache course cheatsheet")
    parser.add_argument("--output", help="write the Markdown here instead of printing it")
    options = parser.parse_args(extra)
    text = cheatsheet()
    if not options.output:
        return text
    Path(options.output).write_text(text)
    return f"cheat sheet written to {options.output}"


WORKER_DESCRIPTION = """\
Drain the write-behind queue into the database (the worker half of the write-behind
pattern; the write half is WriteBehind, which puts each status update in Redis and in the
stream <namespace>:{writes}:status in one Lua script).

Every pass of the worker:
  1. XAUTOCLAIM  takes over entries another worker read but never acknowledged and that
                 have been idle longer than --claim-idle-ms (that worker crashed or hangs);
  2. XREADGROUP  reads new entries as consumer --consumer of the group "db-writers"
                 (waiting up to --block-ms for some to arrive);
  3. coalesces   keeps only the newest version per user, so many writes cost one UPDATE;
  4. applies     UPDATE users ... WHERE version < new, in one transaction: a redelivered
                 or late entry can never overwrite a newer status;
  5. XACK + XDEL acknowledges and deletes the batch, only after the database committed.
Entries that cannot be stored (malformed) are acknowledged and dropped with a warning.
If Redis or the database fails (down, hung, restarted empty), the worker logs each kind
of failure once, waits (redis-py's backoff, up to 5 s), recreates the consumer group if
it is gone, and goes on; what a failed pass read stays pending and is read back first.

Run as many workers as you like, each with its own --consumer name; if one dies, the
others pick up its entries after --claim-idle-ms. Without --once or --drain the worker
runs until SIGTERM or SIGINT, finishes the batch in hand, and prints its totals as one
JSON line (a second signal leaves at once; what it held is redelivered to another worker).

Backends: --redis-url / --database-url, else $%s / $%s.
Both must be live; the database must already hold the course tables (a World or
`whatsapp-cache tour` creates them). Passwords in URLs are never printed.
""" % (REDIS_URL_ENV, DATABASE_URL_ENV)


class WorkerError(WhatsAppCacheError):
    """A backend the worker needs failed; the message names it, with any password masked."""


def _count_arg(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def _positive_number(text: str) -> float:
    """A finite number above zero (float() alone lets nan and inf through)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text!r}")
    return value


def _utilisation(text: str) -> float:
    """A share of capacity in (0, 1]."""
    value = _positive_number(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be a share of capacity in (0, 1], got {text!r}")
    return value


def _describe(exc: BaseException, config) -> str:
    """One line naming the backend (masked URL) and the driver's complaint (secrets scrubbed)."""
    return describe_failure(exc, config)


def _worker(args: argparse.Namespace) -> str:
    config = BackendConfig.resolve(args.redis_url, args.database_url)
    if config.redis_url is None or config.database_url is None:
        raise ConfigError("the worker needs a live Redis and a live database: pass --redis-url and "
                          f"--database-url, or set ${REDIS_URL_ENV} and ${DATABASE_URL_ENV}")
    keys = KeySchema(args.namespace)
    consumer = args.consumer if args.consumer is not None else f"{socket.gethostname()}-{os.getpid()}"
    if not consumer.strip():
        raise ConfigError("--consumer must not be empty")

    @contextlib.contextmanager
    def backend_errors(doing: str):
        try:
            yield
        except (redis.RedisError, SQLAlchemyError) as exc:
            raise WorkerError(f"{doing}: {_describe(exc, config)}") from None

    stop = threading.Event()

    def on_signal(signum, _frame):
        if stop.is_set():
            raise SystemExit(128 + signum)  # second signal: leave now; unacknowledged entries are redelivered
        stop.set()

    client = make_redis(config)
    engine = None
    previous = {}
    try:
        block_limit = block_limit_ms(client)
        if block_limit is not None and args.block_ms > block_limit:
            raise ConfigError(f"--block-ms must be at most {block_limit}: Redis may end a BLOCK 100 ms late, and "
                              f"the client gives up after {client.get_connection_kwargs()['socket_timeout']} s")
        engine = make_engine(config)
        repo = Repository(engine)
        with backend_errors("cannot start the worker"):
            client.ping()
            try:
                repo.status("")  # the users table with its version column is there
            except ProgrammingError as exc:
                raise WorkerError(f"cannot start the worker: {_describe(exc, config)} (the database needs the "
                                  "course tables: a World or `whatsapp-cache tour` creates them)") from None
            worker = WriteBehindWorker(client, repo, keys, SystemClock(), consumer=consumer, batch=args.batch,
                                       claim_idle_ms=args.claim_idle_ms)
        if threading.current_thread() is threading.main_thread():
            previous = {signum: signal.signal(signum, on_signal) for signum in (signal.SIGTERM, signal.SIGINT)}
        if args.once:
            with backend_errors("worker pass failed"):
                result = worker.run_once()
            return json.dumps({**asdict(result), "coalesced": result.coalesced})
        if args.drain:
            with backend_errors("worker pass failed"):
                while not stop.is_set() and worker.run_once().read:
                    pass
            return json.dumps(asdict(worker.totals))
        print(f"write-behind worker {consumer}: stream {worker.stream} -> {config.database_label} "
              f"(Redis {config.redis_label}); SIGTERM or Ctrl-C to stop", file=sys.stderr, flush=True)
        return json.dumps(asdict(worker.run(stop, block_ms=args.block_ms)))
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        client.close()
        if engine is not None:
            engine.dispose()


def _simulate(args: argparse.Namespace) -> str:


    if args.trace:
        trace = workloads.load_trace(args.trace)
    else:
        trace = _generated_trace(args, workloads)
    options = {}
    if args.samples is not None:
        if not args.policy.startswith("redis-"):
            raise InvalidInput(f"--samples applies to redis-lru and redis-lfu only, not {args.policy}")
        options["samples"] = args.samples
    result = simulate(trace, args.policy, args.size, **options)
    return json.dumps(result.to_dict()) if args.json else format_results([result])


SKEWED_WORKLOADS = ("zipf", "scan_mix", "shifting_zipf")  # the generators that take --alpha


def _generated_trace(args: argparse.Namespace, workloads):
    name = "whatsapp_mix" if args.workload == "whatsapp" else args.workload  # "whatsapp": the older name
    if name == "whatsapp_mix":
        return workloads.whatsapp_mix(generate("small", args.seed), args.requests, seed=args.seed)
    if name in SKEWED_WORKLOADS:
        return workloads.WORKLOADS[name](args.keys, args.requests, alpha=args.alpha, seed=args.seed)
    return workloads.WORKLOADS[name](args.keys, args.requests, seed=args.seed)


CHAOS_DESCRIPTION = """\
Take Redis away in the middle of a seeded workload and report what users saw and what
the system kept: the seed's Q2 ("What happens if Redis crashes?") measured, not claimed.

The workload (the tour's mix plus a few status-message changes) runs on simulated time;
from --outage-from to --outage-until seconds Redis is away:
  kill   a throw-away redis-server is SIGKILLed, then restarted empty on the same port
  pause  it is SIGSTOPped, then continued (its data survives; clients wait out timeouts)
  down   an in-process fakeredis refuses every call (its data survives: a network cut)
  hung   every call to the fakeredis times out
  failover  a local Redis Cluster (3 masters, 1 replica each, node timeout 1000 ms) runs
         the workload; the master with the most keys is SIGKILLed and the replay waits,
         at the window's end, until its replica is promoted (the old master is restarted
         empty after the run); then raw writes acknowledged by a master and lost on the
         promoted replica are counted without and with WAIT 1
Without --mode: kill if a redis-server binary is on the PATH, else down (with a note).

The report: per phase (before, during, after the outage) requests, hit ratio, reads
served from the database, failed requests, database queries per simulated second and
simulated latency; the totals; how long the hit ratio took to come back; writes that were
acknowledged but are not in the database (lost); entries the cache serves that differ from
the database (stale); the circuit breaker's changes. --naive turns the circuit breaker and
the repair of missed writes off, to compare (with pause, it waits out every timeout for real).

The database is embedded SQLite unless --database-url names one; $%s and
$%s are not used: the experiment breaks a Redis of its own.
""" % (REDIS_URL_ENV, DATABASE_URL_ENV)


def _chaos(args: argparse.Namespace) -> str:
    from .lab import process
    from .experiments.chaos import ChaosSpec, FakeOutage, ServerOutage, format_report, run_chaos, run_failover

    outage_from = args.duration // 3 if args.outage_from is None else args.outage_from
    outage_until = 2 * args.duration // 3 if args.outage_until is None else args.outage_until
    spec = ChaosSpec(actions=args.actions, duration_s=args.duration, outage_from_s=outage_from,
                     outage_until_s=outage_until, seed=args.seed)
    mode = args.mode or ("kill" if process.available() else "down")
    if mode == "failover":
        if not process.available():
            raise ConfigError("--mode failover runs a local Redis Cluster: no redis-server binary on the PATH")
        if args.naive:
            raise ConfigError("--naive is not available with --mode failover")
        with _without_backend_env():
            report = run_failover(spec, args.database_url, args.reset, progress=not args.no_progress)
        return json.dumps(report.to_dict(), indent=2) if args.json else format_report(report, measured=True)
    if args.mode is None and mode == "down":
        print("whatsapp-cache chaos: no redis-server binary on the PATH, so an in-process fakeredis is "
              "cut off instead (--mode down)", file=sys.stderr)
    policy = _chaos_policy(args)
    server = process.RedisProcess() if mode in ServerOutage.MODES else None
    try:
        with _chaos_world(server.start().url if server else None, args, policy) as world:
            if args.reset:
                world.reset("small")
            outage = ServerOutage(server, mode) if server else FakeOutage(world, mode)
            report = run_chaos(world, outage, spec, progress=not args.no_progress)
    finally:
        if server is not None:
            server.stop()
    return json.dumps(report.to_dict(), indent=2) if args.json else format_report(report, measured=bool(server))


@contextlib.contextmanager
def _without_backend_env():
    """$WHATSAPP_CACHE_REDIS_URL and $WHATSAPP_CACHE_DATABASE_URL set aside meanwhile (chaos breaks its own Redis)."""
    saved = {name: os.environ.pop(name) for name in (REDIS_URL_ENV, DATABASE_URL_ENV) if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def _chaos_policy(args: argparse.Namespace) -> FailurePolicy:
    """--naive, or the library's policy with the stale-if-error options; their combinations checked."""
    if args.shed_reads_at is not None and args.db_capacity is None:
        raise ConfigError("--shed-reads-at needs --db-capacity (shedding is relative to a capacity)")
    if args.stale_first and args.stale_if_error_ms is None:
        raise ConfigError("--stale-first needs --stale-if-error-ms (how old a copy may be)")
    if args.naive:
        if args.stale_if_error_ms is not None:
            raise ConfigError("--stale-if-error-ms is not available with --naive (no breaker to fall back from)")
        return FailurePolicy(breaker=False, repair=False)
    return FailurePolicy(stale_if_error_ms=args.stale_if_error_ms, stale_first=args.stale_first)


def _chaos_world(redis_url: str | None, args: argparse.Namespace, policy):
    """A World on the given Redis (None: fakeredis) and --database-url, ignoring the environment;
    with --db-capacity, its simulated database can saturate."""
    database = (None if args.db_capacity is None
                else DatabaseCapacity(args.db_capacity, shed_reads_at=args.shed_reads_at))
    with _without_backend_env():
        return World(redis_url, args.database_url, seed=args.seed, dataset=None if args.reset else "small",
                     failure_policy=policy, latency=LatencyModel(seed=args.seed, database=database))


CLUSTER_DESCRIPTION = """\
A local lab of real redis-server processes on free ports of 127.0.0.1, for replication,
failover and Redis Cluster:
  up      start a cluster (default 3 masters with 1 replica each, every node with
          cluster-node-timeout 1000 ms), wait until all 16384 slots are served, and
          print its nodes; with --sentinel, one master with replicas (default 2) and
          3 sentinels (quorum 2, down after 1000 ms) instead
  status  nodes, pids and whether each runs, roles, slots, keys per node
  down    stop the lab's own processes (by pid, each checked to still be a
          redis-server on its port), remove its temporary directory and state file
The processes outlive `up`; a JSON state file remembers them (default
$TMPDIR/whatsapp_cache_lab-<uid>/cluster.json, or sentinel.json; --state PATH to choose).
A second `up` while a lab runs is refused. Persistence is off: a killed node comes back empty.
"""


def _cluster(args: argparse.Namespace) -> str:
    from .lab.cluster import lab_down, lab_status, lab_up

    kind = "sentinel" if args.sentinel else "cluster"
    if args.action == "status":
        return lab_status(kind, args.state)
    if args.action == "down":
        return lab_down(kind, args.state)
    masters = 1 if args.sentinel else (3 if args.masters is None else args.masters)
    replicas = (2 if args.sentinel else 1) if args.replicas is None else args.replicas
    if args.sentinel and args.masters not in (None, 1):
        raise InvalidInput("--sentinel runs one master; leave out --masters")
    if not 1 <= masters <= 10:
        raise InvalidInput(f"--masters must be from 1 to 10, got {masters}")
    if not 0 <= replicas <= 3:
        raise InvalidInput(f"--replicas must be from 0 to 3, got {replicas}")
    return lab_up(kind, masters, replicas, args.state)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="whatsapp-cache", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    tour = commands.add_parser(
        "tour", help="replay a seeded workload and print per-type hit ratios and simulated latency",
        description="Replay a seeded day-in-the-life workload (log-ins, presence, chats, profiles, groups) "
                    "on simulated time and print, per data type, requests, hit ratio, database queries "
                    f"and average simulated latency. Backends: --redis-url / --database-url, else "
                    f"${REDIS_URL_ENV} / ${DATABASE_URL_ENV}, else embedded fakeredis + SQLite.")
    tour.add_argument("--actions", type=int, default=3000, help="user actions to replay (default 3000)")
    tour.add_argument("--hours", type=_positive_number, default=2.0, help="simulated hours they spread over (default 2)")
    tour.add_argument("--skew", type=float, default=1.0, help="Zipf skew of user activity, 0 = uniform (default 1.0)")
    tour.add_argument("--seed", type=int, default=0, help="random seed for data set and workload (default 0)")
    tour.add_argument("--size", choices=tuple(SIZES), default="small",
                      help="synthetic data set to load into an empty database (default small)")
    tour.add_argument("--messages-ttl", type=int, help="TTL of recent messages in seconds (default 3600)")
    tour.add_argument("--profiles-ttl", type=int, help="TTL of profiles in seconds (default 86400)")
    tour.add_argument("--redis-url", help=f"Redis URL (default: ${REDIS_URL_ENV}, else fakeredis)")
    tour.add_argument("--database-url", help=f"SQLAlchemy URL (default: ${DATABASE_URL_ENV}, else SQLite)")
    tour.add_argument("--reset", action="store_true",
                      help="drop and reload the course tables first (repeatable figures on a live database)")
    tour.add_argument("--measured", action="store_true",
                      help="add a column of the real measured time per request on this machine")
    tour.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    tour.add_argument("--no-progress", action="store_true", help="no progress bar")
    tour.set_defaults(run=_tour)

    course = commands.add_parser("course", help="open the course in JupyterLab, or maintain its notebooks",
                                 description="open: copy the notebooks into your workspace (git ignores it; "
                                             "copies already there are kept), then start JupyterLab on its first "
                                             "chapter (extra arguments go to JupyterLab; with --no-browser it "
                                             "prints the URL of chapter 00); reset NN: put the tracked chapter NN "
                                             "back over your copy; nav: rewrite every notebook's navigation cells; "
                                             "build: nav, then execute notebooks in place so their stored "
                                             "outputs are fresh; progress: the exercises passed in your "
                                             "own copies of the notebooks (the workspace); doctor: what this "
                                             "machine has and lacks for the course, and how to get it; demo NAME: "
                                             "serve a dashboard for projection with Voila (no NAME: list them); "
                                             "cheatsheet [--output FILE]: a one-page Markdown sheet of the numbers "
                                             "and rules to quote, generated from the library's models; glossary: "
                                             "write notebooks/glossary.md from course/glossary.py; slides [NN] "
                                             "[--html DIR]: mark the cells of a chapter's talk for RISE, and build "
                                             "reveal.js pages.")
    course.add_argument("action", choices=("open", "reset", "nav", "build", "progress", "doctor", "demo", "cheatsheet",
                                           "glossary", "slides"))
    course.add_argument("notebooks", nargs=argparse.REMAINDER,
                        help="with build: only these (e.g. 01_what_to_cache); with reset: the chapters (e.g. 03); "
                             "with open: JupyterLab options")
    course.set_defaults(run=_course)

    worker = commands.add_parser("worker", help="drain the write-behind queue into the database (run one or more)",
                                 description=WORKER_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    worker.add_argument("--redis-url", help=f"Redis URL (default: ${REDIS_URL_ENV})")
    worker.add_argument("--database-url", help=f"SQLAlchemy URL (default: ${DATABASE_URL_ENV})")
    worker.add_argument("--namespace", default="wc", help="key namespace the writers use (default wc)")
    worker.add_argument("--consumer", help="this worker's name in the consumer group; give each worker its own "
                                           "(default: hostname-pid)")
    worker.add_argument("--batch", type=_count_arg(1), default=200,
                        help="entries read (and claimed) per pass (default 200)")
    worker.add_argument("--claim-idle-ms", type=_count_arg(0), default=5000,
                        help="take over another consumer's unacknowledged entries once idle this long "
                             "(default 5000; 0 takes everything pending)")
    worker.add_argument("--block-ms", type=_count_arg(1), default=1000,
                        help="how long a pass waits for new entries when there are none (default 1000)")
    mode = worker.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true",
                      help="one pass without waiting; print what it did as one JSON line and exit")
    mode.add_argument("--drain", action="store_true",
                      help="pass until a pass finds nothing; print the totals as one JSON line and exit")
    worker.set_defaults(run=_worker)

    simulate = commands.add_parser(
        "simulate", help="replay a key trace against an eviction policy and cache size",
        description="Replay a trace (a file: one key per line, '#' comments, or CSV with a header whose first "
                    "column is the key; or a seeded generated workload) against one eviction policy at one "
                    "cache size (in keys) and print policy, size, requests, hits, misses, hit ratio and "
                    "evictions. redis-lru and redis-lfu model Redis' sampled approximations.")
    simulate.add_argument("--policy", required=True, choices=POLICIES)
    simulate.add_argument("--size", required=True, type=int, help="cache size in keys")
    source = simulate.add_mutually_exclusive_group(required=True)
    source.add_argument("--trace", help="a trace file")
    source.add_argument("--workload", choices=(*WORKLOADS, "whatsapp"),
                        help="generate a seeded workload instead (eviction.workloads.WORKLOADS; "
                             "'whatsapp' is whatsapp_mix's older name)")
    simulate.add_argument("--alpha", type=float, default=1.0, help="Zipf skew (default 1.0)")
    simulate.add_argument("--keys", type=int, default=100_000, help="distinct keys (default 100,000)")
    simulate.add_argument("--requests", type=int, default=300_000, help="requests (default 300,000)")
    simulate.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    simulate.add_argument("--samples", type=int, help="maxmemory-samples for the redis-* models (default 5)")
    simulate.add_argument("--json", action="store_true", help="print one JSON object")
    simulate.set_defaults(run=_simulate)

    chaos = commands.add_parser("chaos", help="kill Redis mid-workload: failed requests, database load, "
                                              "recovery, lost writes, stale entries",
                                description=CHAOS_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    chaos.add_argument("--mode", choices=("kill", "pause", "down", "hung", "failover"),
                       help="kill|pause a throw-away redis-server, down|hung an in-process fakeredis, or "
                            "failover: SIGKILL a master of a local 3 x 1 Redis Cluster "
                            "(default: kill if redis-server is installed, else down)")
    chaos.add_argument("--actions", type=_count_arg(1), default=3000, help="user actions to replay (default 3000)")
    chaos.add_argument("--seed", type=int, default=0, help="random seed for data set and workload (default 0)")
    chaos.add_argument("--duration", type=_count_arg(2), default=600,
                       help="simulated seconds the actions spread over (default 600)")
    chaos.add_argument("--outage-from", type=_count_arg(0),
                       help="simulated second the outage begins (default: a third of --duration)")
    chaos.add_argument("--outage-until", type=_count_arg(1),
                       help="simulated second it ends (default: two thirds of --duration)")
    chaos.add_argument("--database-url", help="SQLAlchemy URL of the database (default: embedded SQLite)")
    chaos.add_argument("--reset", action="store_true",
                       help="drop and reload the course tables first (for a live database an earlier run wrote to)")
    chaos.add_argument("--naive", action="store_true",
                       help="no circuit breaker and no repair of missed writes, to compare")
    chaos.add_argument("--db-capacity", type=_positive_number, metavar="QPS",
                       help="give the simulated database a capacity in queries/s: it slows down near it and "
                            "fails past it (default: none, it answers everything; the default workload runs "
                            "about 6 queries/s before the outage)")
    chaos.add_argument("--shed-reads-at", type=_utilisation, metavar="RHO",
                       help="with --db-capacity: refuse a read at once when it would lift the database above "
                            "this share of its capacity, e.g. 0.8 (load shedding)")
    chaos.add_argument("--stale-if-error-ms", type=_count_arg(1), metavar="MS",
                       help="answer a profile, group or chat read from this process's last copy (at most MS "
                            "old) when Redis and the database both fail")
    chaos.add_argument("--stale-first", action="store_true",
                       help="with --stale-if-error-ms: while the circuit is open, a young enough copy answers "
                            "before the database is asked")
    chaos.add_argument("--json", action="store_true", help="print one JSON object instead of the report")
    chaos.add_argument("--no-progress", action="store_true", help="no progress bar")
    chaos.set_defaults(run=_chaos)

    cluster = commands.add_parser("cluster", help="start, inspect or stop a local Redis Cluster (or Sentinel) lab",
                                  description=CLUSTER_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    cluster.add_argument("action", choices=("up", "status", "down"))
    cluster.add_argument("--masters", type=int, help="masters, 1-10 (default 3)")
    cluster.add_argument("--replicas", type=int, help="replicas per master, 0-3 (default 1; with --sentinel 2)")
    cluster.add_argument("--sentinel", action="store_true",
                         help="one master, its replicas and 3 sentinels instead of a cluster")
    cluster.add_argument("--state", help="the lab's state file (default: one per kind under $TMPDIR)")
    cluster.set_defaults(run=_cluster)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        print(args.run(args))
    except WhatsAppCacheError as exc:
        print(f"whatsapp-cache: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if not _is_backend_error(exc):
            raise  # a bug: its traceback is wanted
        print(f"whatsapp-cache: error: {_backend_failure(exc, args)}", file=sys.stderr)
        return 2
    return 0


def _is_backend_error(exc: Exception) -> bool:
    """Redis or the database failed mid-command (the command's own checks passed): no bug, no traceback."""
    return isinstance(exc, (redis.RedisError, SQLAlchemyError))


def _backend_failure(exc: Exception, args: argparse.Namespace) -> str:
    """The error in one line, with every secret of every URL the command may have used scrubbed."""


    urls = (getattr(args, "redis_url", None), getattr(args, "database_url", None),
            os.environ.get(REDIS_URL_ENV), os.environ.get(DATABASE_URL_ENV))
    return f"a backend failed: {failure_text(exc, *urls)}"
