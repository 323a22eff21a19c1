"""Which workload gives the seed's hit ratios? A search over the workload's parameters, scored per data type.

The seed asserts per-type hit ratios (sessions 95%, online status 100%, messages 70%, profiles 90%,
groups 85%) without saying what traffic they assume. With the seed's TTLs, the library's workload
(3,000 actions over 2 simulated hours, user skew 1.0) gives lower figures. The search below keeps
the seed's TTLs and the action mix and varies what the seed leaves open: how skewed activity is
across users and how long the actions are spread over (so how often each user and chat comes back
within a TTL). Each candidate is replayed on a fresh embedded World (measure()); the score is the
root-mean-square gap to the seed's five figures, in percentage points.

    fit_workload(fit_grid(), progress=True)   the search that found SEED_FIT (minutes: 30 replays)
    measure(TTLs(), SEED_FIT)                 one replay with the fitted workload (seconds)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from ..errors import InvalidInput
from ..metrics import TypeSummary
from ..tables import Column, format_table
from ..ttl import TTLs
from .workload import SEED_HIT_RATIOS, WorkloadSpec, measure

DEFAULT_SPEC = WorkloadSpec(actions=3_000, seed=0)  # chapter 01's measured run
FIT_SKEWS = (1.6, 1.7, 1.8, 1.9)
FIT_DURATIONS_S = (8 * 3_600, 16 * 3_600, 24 * 3_600)
# The best of fit_grid() (the search's result, kept so the chapter replays it in seconds).
SEED_FIT = WorkloadSpec(actions=3_000, duration_s=24 * 3_600, user_skew=1.8, seed=0)  # rms gap 2.3 points


def fit_grid(base: WorkloadSpec = DEFAULT_SPEC, skews: Sequence[float] = FIT_SKEWS,
             durations_s: Sequence[int] = FIT_DURATIONS_S) -> list[WorkloadSpec]:
    """The candidates: `base` with every combination of user skew and duration."""
    return [replace(base, user_skew=skew, duration_s=duration) for skew, duration in
            itertools.product(skews, durations_s)]


def ratios(rows: Sequence[TypeSummary]) -> dict[str, float]:
    """Hit ratio per data type of a measured summary (the overall row left out)."""
    return {row.data_type: row.hit_ratio for row in rows if row.data_type in SEED_HIT_RATIOS}


def gap_points(measured: Mapping[str, float], claims: Mapping[str, float] = SEED_HIT_RATIOS) -> float:
    """Root-mean-square difference from the claimed ratios, in percentage points."""
    missing = set(claims) - set(measured)
    if missing:
        raise InvalidInput(f"no measured hit ratio for {sorted(missing)}")
    return 100 * math.sqrt(sum((measured[name] - claim) ** 2 for name, claim in claims.items()) / len(claims))


@dataclass(frozen=True)
class Fit:
    """The candidate closest to the claims, with every candidate's score."""

    best: WorkloadSpec
    ratios: dict[str, float]
    gap: float
    tried: tuple[tuple[WorkloadSpec, float], ...]


def fit_workload(candidates: Iterable[WorkloadSpec], ttls: TTLs | None = None, size: str = "small",
                 claims: Mapping[str, float] = SEED_HIT_RATIOS, progress: bool = False) -> Fit:
    """Replay each candidate on a fresh embedded World; keep the one nearest the claims (first wins ties)."""
    candidates = list(candidates)
    if not candidates or not all(isinstance(spec, WorkloadSpec) for spec in candidates):
        raise InvalidInput("candidates must be a non-empty sequence of WorkloadSpec")
    ttls = TTLs() if ttls is None else ttls
    if progress:
        from tqdm.auto import tqdm
        candidates = tqdm(candidates, desc="fitting", unit="workload")
    scored = []
    for spec in candidates:
        measured = ratios(measure(ttls, spec, size))
        scored.append((spec, measured, gap_points(measured, claims)))
    best, measured, gap = min(scored, key=lambda item: item[2])
    return Fit(best, measured, gap, tuple((spec, gap) for spec, _, gap in scored))


def active_users(rows: Sequence[TypeSummary]) -> int:
    """Users who acted at least once: each one's first authentication misses (the session TTL outlasts the run)."""
    return next(row.misses for row in rows if row.data_type == "sessions")


def format_fit(default: Sequence[TypeSummary], fitted: Sequence[TypeSummary], spec: WorkloadSpec = SEED_FIT,
               claims: Mapping[str, float] = SEED_HIT_RATIOS) -> str:
    """The seed's claims beside the default workload's and the fitted workload's ratios, per type."""
    before, after = ratios(default), ratios(fitted)
    columns = (Column("", "<", width=16), Column("seed", width=6), Column("default", width=8),
               Column("fitted", width=8))
    rows = [("user skew", None, f"{DEFAULT_SPEC.user_skew:g}", f"{spec.user_skew:g}"),
            ("spread over", None, _hours(DEFAULT_SPEC.duration_s), _hours(spec.duration_s)),
            ("users who acted", None, f"{active_users(default):,}", f"{active_users(fitted):,}"),
            ("actions per user", None, f"{DEFAULT_SPEC.actions / active_users(default):.1f}",
             f"{spec.actions / active_users(fitted):.1f}"),
            *((name, f"{claim:.0%}", f"{before[name]:.1%}", f"{after[name]:.1%}") for name, claim in claims.items()),
            ("gap (rms)", None, f"{gap_points(before, claims):.1f} pt", f"{gap_points(after, claims):.1f} pt")]
    return format_table(columns, rows)


def _hours(seconds: int) -> str:
    return f"{seconds / 3_600:g} h"
