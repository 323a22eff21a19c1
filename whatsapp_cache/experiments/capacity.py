"""Capacity and cost of the seed's cache fleet: its arithmetic reproduced exactly, its slips made visible.

    data per type --> + buffer --> RAM --> / RAM per server, ceil --> masters --> x (1 + replicas)
                                                                                   --> cache servers --> $/month
    database servers before and after (loadmodel) --> database $/month saved --> net of the cache fleet

Seed, "Capacity Planning: How Many Redis Servers?": sessions 500 GB, recent messages 15 TB, online
status 250 GB, profiles 500 GB, groups 750 GB, "Buffer (20%): 3.5 TB", "Total: ~20 TB", "20,000 GB
÷ 512 GB = 40 servers", "40 masters", "80 replica nodes (2 replicas per master)", "120 Redis servers".
"Cost Savings": database server $500/month, cache server $200/month, 70 -> 14 database servers,
"56 × $500 = $28,000/month". Interview Q1: "20 TB RAM costs $80,000/month".

Units: the seed counts 1 TB = 1,000 GB (its 15 TB are 15,000 GB, its ~20 TB are "20,000 GB"), and so
does this module. (Its LRU section's `maxmemory 512gb` is binary in Redis' units, 512 x 2^30 bytes,
and leaves the 512 GB server nothing for the OS or a fork; `usable_fraction` lowers what a master holds.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from ..errors import InvalidInput
from .loadmodel import LoadInputs, checked_count, checked_number, evaluate, positive_number, servers_needed
from .loadmodel import seed_inputs as seed_load_inputs

GB_PER_TB = 1_000  # the seed's: "~20 TB" is "20,000 GB" in its division
MAX_BUFFER = 10.0
MAX_REPLICAS = 10
# Seed, "Capacity Planning": the five sizes in GB (1 TB = 1,000 GB), in the seed's order.
SEED_DATA_GB = MappingProxyType({"sessions": 500, "messages": 15_000, "presence": 250, "profiles": 500,
                                 "groups": 750})
# What the seed's text states; compared against, never used to compute a result.
SEED_STATED = MappingProxyType({
    "step1_ram_gb": 19_000,  # "From our estimations (Step 1), we need 19 TB of cache RAM"
    "buffer_gb": 3_500,  # "Buffer (20%): 3.5 TB"
    "ram_gb": 20_000,  # "Total: ~20 TB"; "20,000 GB ÷ 512 GB = 40 servers"
    "ram_monthly": 80_000,  # Interview Q1: "20 TB RAM costs $80,000/month"
})


def _data_sizes(value: object) -> Mapping[str, float]:
    """GB per named kind of data: non-blank names, finite sizes of at least zero, read-only."""
    if not isinstance(value, Mapping) or not value:
        raise InvalidInput(f"data_gb must be a non-empty mapping of data type to GB, got {value!r}")
    for name in value:
        if not isinstance(name, str) or not name.strip():
            raise InvalidInput(f"data_gb names must be non-blank strings, got {name!r}")
    return MappingProxyType({name: checked_number(gb, f"data_gb[{name}]") for name, gb in value.items()})


@dataclass(frozen=True)
class CapacityInputs:
    """Every input of the plan; the defaults are the seed's.

    `buffer` is a fraction of the data (0.2: the seed's 20%); `buffer_gb`, if given, replaces it with a
    stated size (the seed writes 3,500). `usable_fraction` is the share of a server's RAM that holds
    data (the seed: all of it). `load` gives the database servers before and after (loadmodel).
    """

    data_gb: Mapping[str, float] = field(default_factory=lambda: dict(SEED_DATA_GB))
    buffer: float = 0.20
    buffer_gb: float | None = None
    ram_per_server_gb: float = 512
    usable_fraction: float = 1.0
    replicas_per_master: int = 2
    cache_server_monthly: float = 200
    db_server_monthly: float = 500
    load: LoadInputs = field(default_factory=seed_load_inputs)

    def __post_init__(self) -> None:
        if not isinstance(self.load, LoadInputs):
            raise InvalidInput(f"load must be LoadInputs, got {type(self.load).__name__}")
        checked = {
            "data_gb": _data_sizes(self.data_gb),
            "buffer": checked_number(self.buffer, "buffer", 0, MAX_BUFFER),
            "buffer_gb": None if self.buffer_gb is None else checked_number(self.buffer_gb, "buffer_gb"),
            "ram_per_server_gb": positive_number(self.ram_per_server_gb, "ram_per_server_gb"),
            "usable_fraction": positive_number(checked_number(self.usable_fraction, "usable_fraction", 0, 1),
                                               "usable_fraction"),
            "replicas_per_master": checked_count(self.replicas_per_master, "replicas_per_master", MAX_REPLICAS),
            "cache_server_monthly": checked_number(self.cache_server_monthly, "cache_server_monthly"),
            "db_server_monthly": checked_number(self.db_server_monthly, "db_server_monthly"),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)


def seed_inputs() -> CapacityInputs:
    """The seed's inputs (the defaults): five sizes, 20% buffer, 512 GB servers, 2 replicas, $200 and $500."""
    return CapacityInputs()


@dataclass(frozen=True)
class CapacityPlan:
    """The fleet the inputs need, its monthly cost, and the database servers it does (or does not) save."""

    inputs: CapacityInputs
    data_gb: float
    buffer_gb: float
    ram_gb: float
    ram_per_master_gb: float
    masters: int
    replicas: int
    db_servers_before: int
    seed_db_servers_after: int
    db_servers_after: int

    @property
    def ram_tb(self) -> float:
        return self.ram_gb / GB_PER_TB

    @property
    def masters_exact(self) -> float:
        """RAM over RAM per master, before rounding up (the seed: 20,000 / 512 = 39.06)."""
        return self.ram_gb / self.ram_per_master_gb

    @property
    def cache_servers(self) -> int:
        return self.masters + self.replicas

    @property
    def cache_monthly(self) -> float:
        return self.cache_servers * self.inputs.cache_server_monthly

    @property
    def seed_db_savings(self) -> float:
        """The seed's claim: database servers saved when writes drop by the read hit ratio, x their price."""
        return (self.db_servers_before - self.seed_db_servers_after) * self.inputs.db_server_monthly

    @property
    def seed_net_savings(self) -> float:
        """The seed's database savings less the cache fleet it forgot."""
        return self.seed_db_savings - self.cache_monthly

    @property
    def db_savings(self) -> float:
        """Database servers really saved: the writes that still reach the database set the count."""
        return (self.db_servers_before - self.db_servers_after) * self.inputs.db_server_monthly

    @property
    def net_savings(self) -> float:
        return self.db_savings - self.cache_monthly


def plan(inputs: CapacityInputs | None = None) -> CapacityPlan:
    """Size the cache fleet and the database for `inputs` (default: the seed's)."""
    inputs = seed_inputs() if inputs is None else inputs
    data = sum(inputs.data_gb.values())
    buffer = data * inputs.buffer if inputs.buffer_gb is None else inputs.buffer_gb
    per_master = inputs.ram_per_server_gb * inputs.usable_fraction
    masters = servers_needed(data + buffer, per_master)
    load = evaluate(inputs.load)
    return CapacityPlan(inputs, data, buffer, data + buffer, per_master, masters,
                        masters * inputs.replicas_per_master, load.db_servers_before,
                        load.seed_db_servers_after, load.db_servers_after)


def format_plan(result: CapacityPlan) -> str:
    """Each step of the plan as a fixed-width table: value, then how it was reached."""
    p, i = result, result.inputs
    sizes = " + ".join(f"{name} {gb:,.0f}" for name, gb in i.data_gb.items())
    rows = [
        ("data (GB)", f"{p.data_gb:,.0f}", sizes),
        ("buffer (GB)", f"{p.buffer_gb:,.0f}", _buffer_how(p)),
        ("RAM (GB)", f"{p.ram_gb:,.0f}", f"{p.ram_tb:.1f} TB at {GB_PER_TB:,} GB per TB"),
        ("RAM per master (GB)", f"{p.ram_per_master_gb:,.0f}",
         f"{i.ram_per_server_gb:,.0f} GB x {i.usable_fraction:.0%} usable"),
        ("masters", f"{p.masters}", f"ceil({p.ram_gb:,.0f} / {p.ram_per_master_gb:,.0f} = {p.masters_exact:.2f})"),
        ("replicas", f"{p.replicas}", f"{i.replicas_per_master} per master"),
        ("cache servers", f"{p.cache_servers}", "masters + replicas"),
        ("cache fleet ($/month)", f"{p.cache_monthly:,.0f}", f"{p.cache_servers} x ${i.cache_server_monthly:,.0f}"),
        ("database servers before", f"{p.db_servers_before}", "all writes"),
        ("database servers after", f"{p.db_servers_after}",
         f"writes reaching the database (the seed: {p.seed_db_servers_after})"),
        ("database saved ($/month)", f"{p.db_savings:,.0f}",
         f"{p.db_servers_before - p.db_servers_after} x ${i.db_server_monthly:,.0f}"),
        ("net saved ($/month)", f"{p.net_savings:,.0f}", "database saved - cache fleet"),
    ]
    return _table(("step", "value", "how"), rows)


@dataclass(frozen=True)
class Claim:
    """One of the seed's figures beside the figure the inputs give."""

    figure: str
    seed: float
    honest: float
    note: str


def compare_costs(inputs: CapacityInputs | None = None) -> list[Claim]:
    """The seed's capacity and cost claims, each beside the honest figure and why they differ."""
    p = plan(inputs)
    i, said = p.inputs, SEED_STATED
    said_masters = servers_needed(said["ram_gb"], p.ram_per_master_gb)
    stated_buffer_masters = servers_needed(p.data_gb + said["buffer_gb"], p.ram_per_master_gb)
    installed_gb = p.cache_servers * i.ram_per_server_gb
    fleet_per_gb = p.cache_monthly / installed_gb if installed_gb else 0.0
    write_share = evaluate(i.load).write_fraction_for_seed_servers
    return [
        Claim("RAM, Step 1's estimate (GB)", said["step1_ram_gb"], p.ram_gb,
              f"the section's own sizes: {p.data_gb / GB_PER_TB:g} TB of data, {p.ram_tb:g} TB with the buffer"),
        Claim("buffer (GB)", said["buffer_gb"], p.buffer_gb, _buffer_how(p)),
        Claim("RAM (GB)", said["ram_gb"], p.ram_gb, f"the seed divides its rounded ~{said['ram_gb'] / GB_PER_TB:g} TB"),
        Claim("masters", said_masters, p.masters,
              f"ceil({said['ram_gb'] / p.ram_per_master_gb:.2f}) vs ceil({p.masters_exact:.2f}); "
              f"its own {said['buffer_gb'] / GB_PER_TB:g} TB buffer needs {stated_buffer_masters}"),
        Claim("cache servers", said_masters * (1 + i.replicas_per_master), p.cache_servers,
              f"{i.replicas_per_master} replicas per master"),
        Claim("cache fleet ($/month)", said["ram_monthly"], p.cache_monthly,
              f"Q1: ${said['ram_monthly'] / said['ram_gb']:.2f}/GB; fleet: {p.cache_servers} x "
              f"${i.cache_server_monthly:,.0f} = ${fleet_per_gb:.2f}/GB installed"),
        Claim("database servers after", p.seed_db_servers_after, p.db_servers_after,
              f"writes stay; {p.seed_db_servers_after} needs <= {write_share:.1%} of them to reach the database"),
        Claim("database saved ($/month)", p.seed_db_savings, p.db_savings,
              f"{p.db_servers_before - p.seed_db_servers_after} vs "
              f"{p.db_servers_before - p.db_servers_after} servers x ${i.db_server_monthly:,.0f}"),
        Claim("net saved ($/month)", p.seed_db_savings, p.net_savings,
              f"less the cache fleet; with the seed's servers: {p.seed_net_savings:,.0f}"),
    ]


def format_claims(claims: list[Claim]) -> str:
    """The claims as a fixed-width table: figure, the seed's number, the honest number, why."""
    return _table(("figure", "seed", "honest", "why"),
                  [(c.figure, f"{c.seed:,.0f}", f"{c.honest:,.0f}", c.note) for c in claims])


def _buffer_how(p: CapacityPlan) -> str:
    """How the buffer was reached, for the tables."""
    if p.inputs.buffer_gb is not None:
        return f"stated {p.buffer_gb:,.0f} GB"
    return f"{p.inputs.buffer:.0%} of {p.data_gb:,.0f} GB"


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """First column left-aligned, the number columns right-aligned, the last (prose) column left."""
    widths = [max(len(row[k]) for row in [header, *rows]) for k in range(len(header))]

    def line(row: tuple[str, ...]) -> str:
        cells = [row[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(row[1:-1], widths[1:-1])), row[-1]]
        return "  ".join(cells).rstrip()

    text = [line(header), "-" * (sum(widths) + 2 * (len(widths) - 1)), *map(line, rows)]
    return "\n".join(text)
