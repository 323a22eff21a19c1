"""The seed's Q4 stampede code, run as written, to be shown failing beside the library's fixes.

    seed-lock   SET lock "locked" NX EX 10; the winner loads and SETs the value with NO TTL and
                never releases the lock; a loser sleeps 100 ms and returns one GET, maybe nothing
    seed-early  "10% chance to refresh if < 5 min left", whatever the load time or the traffic

Neither is in STRATEGIES (the library's choices); make_strategy() accepts their names so the
herd runner and the lessons can run them. `early_refresh_model` compares the seed's early
refresh with XFetch for one hot key across read rates.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from ..errors import InvalidInput
from ..tables import Column, format_table
from .base import Entry, Loader, Read, Strategy

NEVER_MS = 2 ** 62          # an entry the seed SET without a TTL: it never expires
SEED_LOCK_S = 10            # EX 10
SEED_WAIT_MS = 100          # await sleep(100)
SEED_WINDOW_S = 300         # timeLeft < 300
SEED_CHANCE = 0.1           # refreshProbability < 0.1
EARLY_RULES = ("seed", "xfetch", "xfetch+lock")


class SeedLock(Strategy):
    """The seed's lock path on a miss, line by line (its value loaded, encoded as our JSON entry)."""

    name = "seed-lock"

    def get(self, name: str, load: Loader) -> Read:
        entry = self.fetch(name)
        if entry is not None and entry.fresh(self.now()):
            return Read(entry.value, "hit")
        if self.redis.set(self.keys.lock(name), "locked", nx=True, ex=SEED_LOCK_S):
            started = self.now()
            value = load()
            # redis.set('user:123', data): no EX, so the entry never expires; the lock is never released
            self.redis.set(self.key(name), Entry(value, NEVER_MS, self.now() - started).encode())
            return Read(value, "loaded")
        self.sleep(SEED_WAIT_MS)
        entry = self.fetch(name)
        if entry is not None and entry.fresh(self.now()):
            return Read(entry.value, "waited", SEED_WAIT_MS)
        return Read(None, "nothing", SEED_WAIT_MS)  # return await redis.get('user:123'): nil


def seed_should_refresh(ttl_left_ms: float, rng: random.Random,
                        window_ms: float = SEED_WINDOW_S * 1000, chance: float = SEED_CHANCE) -> bool:
    """The seed's rule for one read: refresh with a flat 10% chance once less than 5 minutes are left."""
    return ttl_left_ms < window_ms and rng.random() < chance


class SeedEarlyRefresh(Strategy):
    """Cache-aside with the seed's early refresh; the window and chance scale down for short TTLs."""

    name = "seed-early"

    def __init__(self, *args, window_ms: int = SEED_WINDOW_S * 1000, chance: float = SEED_CHANCE, **kwargs):
        super().__init__(*args, **kwargs)
        if isinstance(window_ms, bool) or not isinstance(window_ms, int) or window_ms <= 0:
            raise InvalidInput("window_ms must be a positive integer")
        if isinstance(chance, bool) or not isinstance(chance, (int, float)) or not 0 < chance <= 1:
            raise InvalidInput("chance must be a number above 0 and at most 1")
        self.window_ms, self.chance = window_ms, float(chance)

    def get(self, name: str, load: Loader) -> Read:
        entry = self.fetch(name)
        now = self.now()
        if entry is None or not entry.fresh(now):
            return self.load_and_store(name, load)
        if seed_should_refresh(entry.expires_ms - now, self.rng, self.window_ms, self.chance):
            return self.load_and_store(name, load, "early")
        return Read(entry.value, "hit")


def reader_during_load(strategy: Strategy, name: str, value, load_ms: int) -> tuple[Read, Read]:
    """One reader misses and loads for `load_ms`; a second reader arrives as the load starts.

    Deterministic on a SimulatedClock (the strategy's sleep moves it): the second reader runs
    inside the first one's load. Returns (first reader's Read, second reader's Read).
    """
    clock = strategy.clock
    second = []

    def load():
        second.append(strategy.get(name, _must_not_load))
        clock.advance(max(0, load_ms - (clock.now_ms() - started)))
        return value

    started = clock.now_ms()
    first = strategy.get(name, load)
    return first, second[0]


def _must_not_load():
    raise AssertionError("the second reader loaded too")


# -- the seed's early refresh against XFetch, for one hot key ---------------------------------

@dataclass(frozen=True)
class EarlyRefresh:
    """One rule at one read rate, averaged over many expiry cycles of one key."""

    rule: str
    reads_per_s: float
    loads_per_cycle: float   # database loads per refresh or expiry: 1 is ideal
    seconds_early: float     # how long before its expiry the entry was replaced (cache life thrown away)
    expired_share: float     # cycles in which no read refreshed in time: a miss (and a herd if hot)


def _intensity_integral(rule: str, rate: float, delta_s: float, beta: float, high_s: float, low_s: float) -> float:
    """Expected refreshing reads while the time left falls from high_s to low_s (both >= 0)."""
    if rule == "seed":
        high, low = min(high_s, SEED_WINDOW_S), min(low_s, SEED_WINDOW_S)
        return rate * SEED_CHANCE * max(0.0, high - low)
    scale = delta_s * beta
    return rate * scale * (math.exp(-low_s / scale) - math.exp(-high_s / scale))


def _first_refresh_s(rule: str, rate: float, delta_s: float, beta: float, rng: random.Random) -> float:
    """Time left when the first read decides to refresh (<= 0: none did before expiry).

    Reads arrive as a Poisson process; those that refresh form one whose intensity is rate x
    the rule's chance at that time left, so the first one comes where its integral reaches Exp(1).
    """
    target = rng.expovariate(1.0)
    if rule == "seed":
        total = rate * SEED_CHANCE * SEED_WINDOW_S
        return -1.0 if target >= total else SEED_WINDOW_S - target / (rate * SEED_CHANCE)
    total = rate * delta_s * beta
    return -1.0 if target >= total else -delta_s * beta * math.log(target / total)


def early_refresh_cycle(rule: str, rate: float, delta_s: float, beta: float, rng: random.Random) -> tuple[float, float]:
    """(database loads, seconds early) for one cycle; concurrent readers run the rule independently,
    except with "xfetch+lock", where only the reader that takes the lock refreshes (the library's default)."""
    left = _first_refresh_s("seed" if rule == "seed" else "xfetch", rate, delta_s, beta, rng)
    if left <= 0:  # expired: every read during the miss's load misses too
        return 1.0 + rate * delta_s, 0.0
    during = 0.0 if rule == "xfetch+lock" else _intensity_integral(rule, rate, delta_s, beta, left,
                                                                  max(0.0, left - delta_s))
    after_expiry = rate * max(0.0, delta_s - left)
    return 1.0 + during + after_expiry, left


def early_refresh_model(rule: str, reads_per_s: float, *, delta_ms: float = 100, beta: float = 1.0,
                        cycles: int = 2_000, seed: int = 0) -> EarlyRefresh:
    """The seed's rule ("seed"), XFetch ("xfetch") or XFetch with single flight ("xfetch+lock") on one key.

    Each cycle samples when the first refreshing read comes (or that none does), then adds the
    expected reads that also refresh (or miss) while its load of `delta_ms` runs. The seed's
    window is its own (300 s); the TTL only has to be longer than that.
    """
    if rule not in EARLY_RULES:
        raise InvalidInput(f"rule must be one of {', '.join(EARLY_RULES)}")
    if not 0 < reads_per_s <= 10_000_000 or not 0 < delta_ms <= 60_000 or not beta > 0:
        raise InvalidInput("need 0 < reads_per_s <= 10,000,000, 0 < delta_ms <= 60,000 and beta > 0")
    rng = random.Random(seed)
    results = [early_refresh_cycle(rule, reads_per_s, delta_ms / 1000, beta, rng) for _ in range(cycles)]
    expired = sum(early == 0.0 for _, early in results)
    return EarlyRefresh(rule, reads_per_s, sum(loads for loads, _ in results) / cycles,
                        sum(early for _, early in results) / cycles, expired / cycles)


def describe_early_refresh(rows: list[EarlyRefresh]) -> str:
    """A table: one line per rule and read rate."""
    columns = (Column("rule", "<", width=12), Column("reads/s", width=10),
               Column("loads per refresh", format=",.1f", width=18), Column("s early", format=".2f", width=8),
               Column("expired", format=".0%", width=8))
    return format_table(columns, [(r.rule, _rate(r.reads_per_s), r.loads_per_cycle, r.seconds_early, r.expired_share)
                                  for r in rows])


def _rate(reads_per_s: float) -> str:
    return f"{reads_per_s:,.0f}" if reads_per_s >= 1 else f"{reads_per_s:g}"


def early_refresh_table(rates=(0.01, 1, 100, 10_000, 1_000_000), delta_ms: float = 100) -> list[EarlyRefresh]:
    """Every rule at every read rate, for the plot and the table."""
    return [early_refresh_model(rule, rate, delta_ms=delta_ms) for rule in EARLY_RULES for rate in rates]
