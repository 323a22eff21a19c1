"""Command line: `python -m whatsapp_cache <command>` (also installed as `whatsapp-cache`)."""

from __future__ import annotations

import argparse
import sys

from .config import DATABASE_URL_ENV, REDIS_URL_ENV
from .errors import WhatsAppCacheError
from .ttl import TTLs
from .workload import WorkloadSpec


def _tour(args: argparse.Namespace) -> str:
    from .tour import tour

    spec = WorkloadSpec(actions=args.actions, duration_s=int(args.hours * 3600), user_skew=args.skew, seed=args.seed)
    ttls = TTLs().with_(**{name: value for name, value in (("messages", args.messages_ttl),
                                                           ("profiles", args.profiles_ttl)) if value})
    return tour(spec, redis_url=args.redis_url, database_url=args.database_url, size=args.size, ttls=ttls,
                progress=not args.no_progress, as_json=args.json, reset=args.reset, measured=args.measured)


def _course(args: argparse.Namespace) -> str:
    from .course import build, jupyter_lab_command, refresh_navigation

    if args.action == "open":
        import os

        command = jupyter_lab_command(args.notebooks)
        os.execv(command[0], command)
    if args.action == "nav":
        changed = refresh_navigation()
        return f"navigation refreshed in {len(changed)} notebook(s)"
    built = build(args.notebooks)
    return "executed and stored: " + ", ".join(p.name for p in built)


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
    tour.add_argument("--hours", type=float, default=2.0, help="simulated hours they spread over (default 2)")
    tour.add_argument("--skew", type=float, default=1.0, help="Zipf skew of user activity, 0 = uniform (default 1.0)")
    tour.add_argument("--seed", type=int, default=0, help="random seed for data set and workload (default 0)")
    tour.add_argument("--size", choices=("tiny", "small", "large"), default="small",
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
                                 description="open: start JupyterLab on the first chapter (extra arguments go "
                                             "to JupyterLab); nav: rewrite every notebook's navigation cells; "
                                             "build: nav, then execute notebooks in place so their stored "
                                             "outputs are fresh.")
    course.add_argument("action", choices=("open", "nav", "build"))
    course.add_argument("notebooks", nargs=argparse.REMAINDER,
                        help="with build: only these (e.g. 01_what_to_cache); with open: JupyterLab options")
    course.set_defaults(run=_course)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        print(args.run(args))
    except WhatsAppCacheError as exc:
        print(f"whatsapp-cache: error: {exc}", file=sys.stderr)
        return 2
    return 0
