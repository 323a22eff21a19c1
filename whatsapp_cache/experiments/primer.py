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
from ..tables import Column, format_table
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
    columns = (Column("way", "<", width=16), Column("commands"), Column("round trips"),
               Column("simulated ms", format=".1f"), Column("values"))
    return format_table(columns, [(r.way, r.commands, r.round_trips, r.simulated_ms, r.values) for r in rows])


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
