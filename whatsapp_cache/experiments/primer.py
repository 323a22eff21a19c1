"""The Redis primer's round-trip lesson: the same reads sent three ways, counted on the wire and priced.

    100 x GET        -> 100 round trips
    one pipeline     ->   1 round trip (100 commands in one write, replies read together)
    one MGET         ->   1 round trip (one command, many keys: they must share a slot on a cluster)

Round trips are counted by wire.count_round_trips; each is priced by a seeded LatencyModel (the seed's
1-5 ms a cache call by default), so the simulated cost is the same on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidInput
from ..latency import LatencyModel
from .wire import count_round_trips

WAYS = ("one GET per key", "one pipeline", "one MGET")


@dataclass(frozen=True)
class RoundTripCost:
    way: str
    commands: int
    round_trips: int
    simulated_ms: float
    values: int


def round_trip_costs(client, keys: list[str], cache_ms: tuple[float, float] = (1.0, 5.0),
                     seed: int = 0) -> list[RoundTripCost]:
    """Read `keys` each of the three ways (WAYS) and price each round trip with a fresh seeded model."""
    if not isinstance(keys, (list, tuple)) or not keys or not all(isinstance(key, str) for key in keys):
        raise InvalidInput("keys must be a non-empty list of strings")
    return [_cost(client, way, keys, LatencyModel(cache_ms=cache_ms, seed=seed)) for way in WAYS]


def describe(rows: list[RoundTripCost]) -> str:
    lines = [f"{'way':<16} {'commands':>8} {'round trips':>11} {'simulated ms':>12} {'values':>6}"]
    lines += [f"{r.way:<16} {r.commands:>8} {r.round_trips:>11} {r.simulated_ms:>12.1f} {r.values:>6}" for r in rows]
    return "\n".join(lines)


def _cost(client, way: str, keys: list[str], model: LatencyModel) -> RoundTripCost:
    with count_round_trips(client) as wire:
        values = _read(client, way, keys)
    simulated = sum(model.cache_round_trip() for _ in range(wire.round_trips))
    return RoundTripCost(way, wire.commands, wire.round_trips, round(simulated, 1),
                         sum(value is not None for value in values))


def _read(client, way: str, keys: list[str]) -> list:
    if way == "one GET per key":
        return [client.get(key) for key in keys]
    if way == "one pipeline":
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.get(key)
        return pipe.execute()
    return client.mget(keys)
