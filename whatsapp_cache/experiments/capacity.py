"""Capacity and cost of the seed's cache fleet: its arithmetic reproduced exactly, its slips made visible.

    data per type --> + buffer --> RAM --> / RAM per server, ceil --> masters --> x (1 + replicas)
                                                                                   --> cache servers --> $/month
    database servers before and after (loadmodel) --> database $/month saved --> net of the cache fleet

The seed's plan prices every server at a flat $200 whatever its RAM, lets data fill all of it, and
sizes the database on writes alone; model_inputs() states those three inputs instead (RAM priced per
GB-month, a usable fraction of RAM, a database sized on misses plus writes), and compare_models() sets
the two plans side by side.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Mapping

from ..errors import InvalidInput
from ..tables import Column, table_lines
from .loadmodel import LoadInputs, checked_count, checked_number, evaluate, positive_number, servers_needed
from .loadmodel import seed_inputs as seed_load_inputs

GB_PER_TB = 1_000  # the seed's: its 15 TB are 15,000 GB, and "~20 TB" is "20,000 GB" in its division
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
    # Its LRU section: "maxmemory 512gb", on its 512 GB servers. Binary in Redis' units (512 x 2^30
    # bytes), it leaves the server nothing for the OS or a fork; `usable_fraction` lowers what a master holds.
    "maxmemory_gb": 512,
})

# What a Redis host needs besides the data, as shares (sources in usable_ram_fraction's docstring).
MODEL_FRAGMENTATION = 1.2  # RSS / used memory; INFO's mem_fragmentation_ratio, healthy about 1.0-1.5
MODEL_FORK_COPY_SHARE = 0.5  # pages copied while a fork (RDB save, AOF rewrite, full resync) runs
MODEL_RESERVED_SHARE = 0.05  # the OS, client and replica output buffers, the replication backlog
# The seed's own price of RAM: Q1's $80,000 a month for 20 TB is $4 per GB-month.
MODEL_RAM_PRICE_GB_MONTH = SEED_STATED["ram_monthly"] / SEED_STATED["ram_gb"]
# The seed gives one capacity per database server (10,000 writes/s); with no other figure, a read
# is taken to cost what a write does. Raise it if your reads are cheaper.
MODEL_DB_READS_PER_SERVER = 10_000


def usable_ram_fraction(fragmentation: float = MODEL_FRAGMENTATION, fork_copy_share: float = MODEL_FORK_COPY_SHARE,
                        reserved_share: float = MODEL_RESERVED_SHARE) -> float:
    """The share of a server's RAM that `maxmemory` may give to data, so that a fork never runs it out.

    A GB of data takes `fragmentation` GB of the process' RAM; a fork (BGSAVE, an AOF rewrite, and
    the RDB a master makes for a replica's full resync) copies every page written while it runs,
    `fork_copy_share` more at most (1.0 is the Redis docs' worst case, "up to 2 times the memory");
    and `reserved_share` of the RAM stays for the OS and the buffers `maxmemory` does not count.
    So data <= RAM x (1 - reserved) / (fragmentation x (1 + fork copy)). Sources:
    https://redis.io/docs/latest/operate/oss_and_stack/management/admin/ (fork and copy-on-write),
    https://redis.io/docs/latest/operate/oss_and_stack/management/optimization/memory-optimization/
    (provision for the peak; maxmemory counts the data's allocations, not the allocator's waste),
    https://redis.io/docs/latest/operate/oss_and_stack/management/replication/ (full resync forks).
    """
    fragmentation = checked_number(fragmentation, "fragmentation", 1, 10)
    copy = checked_number(fork_copy_share, "fork_copy_share", 0, 1)
    reserved = checked_number(reserved_share, "reserved_share", 0, 0.99)
    return (1 - reserved) / (fragmentation * (1 + copy))


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
    data (the seed: all of it; usable_ram_fraction derives one). `load` gives the database servers
    before and after (loadmodel). `ram_price_gb_month`, if given, prices a server by its RAM and
    replaces the flat `cache_server_monthly` (the seed's $200 whatever the RAM); to price an
    instance type instead, give its RAM and its monthly price. `db_reads_per_server`, if given,
    sizes the database on the reads reaching it (the misses) plus the writes; None is the seed's
    sizing on writes alone.
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
    ram_price_gb_month: float | None = None
    db_reads_per_server: float | None = None

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
            "ram_price_gb_month": None if self.ram_price_gb_month is None
            else checked_number(self.ram_price_gb_month, "ram_price_gb_month"),
            "db_reads_per_server": None if self.db_reads_per_server is None
            else positive_number(self.db_reads_per_server, "db_reads_per_server"),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)


    @property
    def server_monthly(self) -> float:
        """One cache server's monthly price: its RAM at the GB-month price, else the flat price."""
        if self.ram_price_gb_month is None:
            return self.cache_server_monthly
        return self.ram_per_server_gb * self.ram_price_gb_month


def seed_inputs() -> CapacityInputs:
    """The seed's inputs (the defaults): five sizes, 20% buffer, 512 GB servers, 2 replicas, $200 and $500.

    Seed, "Capacity Planning: How Many Redis Servers?": "20,000 GB ÷ 512 GB = 40 servers", "40 masters",
    "80 replica nodes (2 replicas per master)", "120 Redis servers"; "Cost Savings": database server
    $500/month, cache server $200/month, 70 -> 14 database servers, "56 × $500 = $28,000/month".
    """
    return CapacityInputs()


def model_inputs() -> CapacityInputs:
    """The seed's data, servers and replicas, with the three inputs it leaves out stated.

    RAM at $4 per GB-month (the seed's own Q1 price, so a 512 GB server costs $2,048, not $200),
    usable_ram_fraction() of each server for data (52.8%, not 100%), and a database sized on
    reads plus writes at 10,000 queries/s per server. The database server stays at the seed's $500
    (it gives no other figure); CapacityPlan.break_even_db_server_monthly says what it would need to be.
    """
    return CapacityInputs(usable_fraction=usable_ram_fraction(), ram_price_gb_month=MODEL_RAM_PRICE_GB_MONTH,
                          db_reads_per_server=MODEL_DB_READS_PER_SERVER)


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
    def data_per_master_gb(self) -> float:
        """The data each master holds (the seed: 17,000 GB / 40 = 425 GB)."""
        return self.data_gb / self.masters if self.masters else 0.0

    @property
    def ram_budget_per_master_gb(self) -> float:
        """Data plus buffer per master (the seed: 510 GB, of a 512 GB server)."""
        return self.ram_gb / self.masters if self.masters else 0.0

    @property
    def headroom_per_master_gb(self) -> float:
        """A master's RAM left beyond its budget: nothing for a fork, fragmentation or buffers in the seed's plan."""
        return self.inputs.ram_per_server_gb - self.ram_budget_per_master_gb

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
        return self.cache_servers * self.inputs.server_monthly

    @property
    def break_even_db_server_monthly(self) -> float | None:
        """The database server price at which the servers saved pay for the cache fleet (None: none saved)."""
        saved = self.db_servers_before - self.db_servers_after
        return self.cache_monthly / saved if saved > 0 else None

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
    before, after = load.db_servers_before, load.db_servers_after
    if inputs.db_reads_per_server is not None:
        before = database_servers(load.reads_per_s, load.writes_per_s, inputs)
        after = database_servers(load.db_reads_after, load.writes_to_db, inputs)
    return CapacityPlan(inputs, data, buffer, data + buffer, per_master, masters,
                        masters * inputs.replicas_per_master, before, load.seed_db_servers_after, after)


def database_servers(reads_per_s: float, writes_per_s: float, inputs: CapacityInputs) -> int:
    """Servers for reads and writes together: each server's time is shared, so the two loads add."""
    reads = reads_per_s / inputs.db_reads_per_server if inputs.db_reads_per_server else 0.0
    return servers_needed(reads + writes_per_s / inputs.load.db_writes_per_server, 1)


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
        ("cache fleet ($/month)", f"{p.cache_monthly:,.0f}", f"{p.cache_servers} x ${i.server_monthly:,.0f}"
         + ("" if i.ram_price_gb_month is None else f" ({i.ram_per_server_gb:,.0f} GB at ${i.ram_price_gb_month:g}/GB)")),
        ("database servers before", f"{p.db_servers_before}",
         "all writes" if i.db_reads_per_server is None else "all reads + all writes"),
        ("database servers after", f"{p.db_servers_after}",
         ("writes" if i.db_reads_per_server is None else "misses + writes")
         + f" reaching the database (the seed: {p.seed_db_servers_after})"),
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
    digits: int = 0


def compare_costs(inputs: CapacityInputs | None = None) -> list[Claim]:
    """The seed's capacity and cost claims, each beside the honest figure and why they differ."""
    p = plan(inputs)
    i, said = p.inputs, SEED_STATED
    said_masters = servers_needed(said["ram_gb"], p.ram_per_master_gb)
    stated_buffer_masters = servers_needed(p.data_gb + said["buffer_gb"], p.ram_per_master_gb)
    installed_gb = p.cache_servers * i.ram_per_server_gb
    fleet_per_gb = p.cache_monthly / installed_gb if installed_gb else 0.0
    server_price = f"${i.server_monthly:,.0f}"
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
              f"{server_price} = ${fleet_per_gb:.2f}/GB installed"),
        Claim("database servers after", p.seed_db_servers_after, p.db_servers_after,
              f"writes stay; {p.seed_db_servers_after} needs <= {write_share:.1%} of them to reach the database"),
        Claim("database saved ($/month)", p.seed_db_savings, p.db_savings,
              f"{p.db_servers_before - p.seed_db_servers_after} vs "
              f"{p.db_servers_before - p.db_servers_after} servers x ${i.db_server_monthly:,.0f}"),
        Claim("net saved ($/month)", p.seed_db_savings, p.net_savings,
              f"less the cache fleet; with the seed's servers: {p.seed_net_savings:,.0f}"),
    ]


def compare_models(seed: CapacityInputs | None = None, model: CapacityInputs | None = None) -> list[Claim]:
    """The seed's plan beside the model's, figure by figure (defaults: seed_inputs() and model_inputs())."""
    s, m = plan(seed), plan(model if model is not None else model_inputs())
    si, mi = s.inputs, m.inputs
    even = m.break_even_db_server_monthly
    return [
        Claim("usable share of RAM (%)", 100 * si.usable_fraction, 100 * mi.usable_fraction,
              "fragmentation, fork copies, buffers", 1),
        Claim("maxmemory per master (GB)", SEED_STATED["maxmemory_gb"], m.ram_per_master_gb,
              f"seed: all of the {si.ram_per_server_gb:,.0f} GB host"),
        Claim("masters", s.masters, m.masters, f"ceil({m.ram_gb:,.0f} / {m.ram_per_master_gb:,.1f})"),
        Claim("cache servers", s.cache_servers, m.cache_servers, f"{mi.replicas_per_master} replicas per master"),
        Claim("price per cache server ($/month)", si.server_monthly, mi.server_monthly, _price_how(si, mi)),
        Claim("cache fleet ($/month)", s.cache_monthly, m.cache_monthly, "servers x price"),
        Claim("database servers before", s.db_servers_before, m.db_servers_before, _db_how(mi, "reads")),
        Claim("database servers after", s.db_servers_after, m.db_servers_after, _db_how(mi, "misses")),
        Claim("database saved ($/month)", s.db_savings, m.db_savings,
              f"{m.db_servers_before - m.db_servers_after} servers x ${mi.db_server_monthly:,.0f} (the seed's price)"),
        Claim("net saved ($/month)", s.net_savings, m.net_savings,
              f"servers saved x ${mi.db_server_monthly:,.0f} - fleet"),
        Claim("break-even database server ($/month)", s.break_even_db_server_monthly or 0, even or 0,
              "fleet / servers saved (0: none saved)"),
    ]


# Server sizes and replica counts to compare: (label, GB of RAM per server, replicas per master).
LAYOUTS = (("512 GB, 2 replicas (seed)", 512, 2), ("512 GB, 1 replica", 512, 1), ("1 TB, 1 replica", 1_024, 1))


def compare_layouts(layouts=LAYOUTS, model: CapacityInputs | None = None) -> str:
    """Each layout's masters, servers and monthly price under the seed's flat price and under the model's."""
    model = model_inputs() if model is None else model
    rows = []
    for label, ram_gb, replicas in layouts:
        seed_plan = plan(CapacityInputs(ram_per_server_gb=ram_gb, replicas_per_master=replicas))
        model_plan = plan(replace(model, ram_per_server_gb=ram_gb, replicas_per_master=replicas))
        rows.append((label, *_layout_cells(seed_plan), *_layout_cells(model_plan), ""))
    header = ("layout", "seed: masters", "servers", "$/month", "model: masters", "servers", "$/month", "")
    return _table(header, rows)


def _layout_cells(p: CapacityPlan) -> tuple[str, str, str]:
    return f"{p.masters}", f"{p.cache_servers}", f"{p.cache_monthly:,.0f}"


def format_claims(claims: list[Claim], columns: tuple[str, str] = ("seed", "honest")) -> str:
    """The claims as a fixed-width table: figure, the seed's number, the honest (or model's) number, why."""
    return _table(("figure", *columns, "why"),
                  [(c.figure, f"{c.seed:,.{c.digits}f}", f"{c.honest:,.{c.digits}f}", c.note) for c in claims])


def _price_how(seed: CapacityInputs, model: CapacityInputs) -> str:
    """How the model prices a server, for the comparison table."""
    if model.ram_price_gb_month is None:
        return "a flat price per server"
    return f"seed: flat; model: {model.ram_per_server_gb:,.0f} GB x ${model.ram_price_gb_month:g}/GB (Q1)"


def _db_how(inputs: CapacityInputs, reads: str) -> str:
    """What sizes the model's database, for the comparison table."""
    if inputs.db_reads_per_server is None:
        return "writes at 10,000/s per server"
    return f"model: {reads} + writes, {inputs.db_reads_per_server:,.0f}/s a server"


def _buffer_how(p: CapacityPlan) -> str:
    """How the buffer was reached, for the tables."""
    if p.inputs.buffer_gb is not None:
        return f"stated {p.buffer_gb:,.0f} GB"
    return f"{p.inputs.buffer:.0%} of {p.data_gb:,.0f} GB"


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """First column left-aligned, the number columns right-aligned, the last (prose) column left.

    Lines are stripped: compare_layouts ends its rows in a blank column (its rule stays as wide).
    """
    columns = [Column(header[0], "<"), *map(Column, header[1:-1]), Column(header[-1], "<")]
    return "\n".join(line.rstrip() for line in table_lines(columns, rows, gap="  ", rule="-"))
