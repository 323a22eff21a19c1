"""Plots the notebooks show; each takes plain results and returns the matplotlib Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt

from ..metrics import TypeSummary
from ..experiments.workload import SEED_HIT_RATIOS


def hit_ratio_bars(rows: list[TypeSummary], claims: dict[str, float] = SEED_HIT_RATIOS, title: str = ""):
    """Measured hit ratio per data type beside the seed's claimed one."""
    rows = [r for r in rows if r.data_type != "overall"]
    names = [r.data_type for r in rows]
    positions = range(len(rows))
    figure, axes = plt.subplots(figsize=(7, 3.2))
    axes.bar([p - 0.2 for p in positions], [r.hit_ratio for r in rows], width=0.4, label="measured")
    axes.bar([p + 0.2 for p in positions], [claims.get(n, 0) for n in names], width=0.4, label="seed claims",
             color="lightgray", edgecolor="gray")
    for p, row in zip(positions, rows):
        axes.annotate(f"{row.hit_ratio:.0%}", (p - 0.2, row.hit_ratio), ha="center", va="bottom", fontsize=8)
    axes.set_xticks(list(positions), names)
    axes.set_ylim(0, 1.1)
    axes.set_ylabel("hit ratio of reads")
    axes.set_title(title or "Hit ratio per data type")
    axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    return figure


def pattern_panels(rows):
    """Per pattern: database writes, share of stale reads, and average write and read latency."""
    names = [r.pattern for r in rows]
    panels = (("database writes", [r.db_writes for r in rows], "{:,.0f}"),
              ("stale reads", [r.stale_share for r in rows], "{:.1%}"),
              ("avg write ms (simulated)", [r.avg_write_ms for r in rows], "{:.0f}"),
              ("avg read ms (simulated)", [r.avg_read_ms for r in rows], "{:.0f}"))
    figure, axes = plt.subplots(1, len(panels), figsize=(12, 3.2))
    for ax, (title, values, fmt) in zip(axes, panels):
        bars = ax.barh(names, values, color="tab:blue")
        ax.bar_label(bars, [fmt.format(v) for v in values], fontsize=7, padding=2)
        ax.set_title(title, fontsize=9)
        ax.invert_yaxis()
        ax.tick_params(labelsize=8)
        ax.margins(x=0.3)
    for ax in axes[1:]:
        ax.set_yticklabels([])
    figure.tight_layout()
    return figure


def expiry_histograms(expiries_s: dict[str, list[float]], bin_s: float = 10.0):
    """When entries filled in one instant expire, one panel per jitter setting (seconds after the fill)."""
    figure, axes = plt.subplots(1, len(expiries_s), figsize=(5 * len(expiries_s), 3), sharey=True)
    axes = [axes] if len(expiries_s) == 1 else axes
    for ax, (label, times) in zip(axes, expiries_s.items()):
        low, high = min(times), max(times)
        bins = max(1, int((high - low) // bin_s) + 1)
        ax.hist(times, bins=bins, range=(low, low + bins * bin_s), color="tab:orange")
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("seconds after the fill")
    axes[0].set_ylabel(f"entries expiring per {bin_s:g} s")
    figure.tight_layout()
    return figure


def fleet_panels(rows):
    """Per invalidation mode: share of stale reads and the longest staleness window."""
    names = [r.mode for r in rows]
    figure, axes = plt.subplots(1, 2, figsize=(9, 2.6))
    for ax, title, values, fmt in ((axes[0], "stale reads", [r.stale_share for r in rows], "{:.1%}"),
                                   (axes[1], "longest stale window (s)", [r.longest_stale_ms / 1000 for r in rows],
                                    "{:.1f}")):
        bars = ax.barh(names, values, color="tab:purple")
        ax.bar_label(bars, [fmt.format(v) for v in values], fontsize=8, padding=2)
        ax.set_title(title, fontsize=9)
        ax.invert_yaxis()
        ax.margins(x=0.3)
    axes[1].set_yticklabels([])
    figure.tight_layout()
    return figure


def eviction_curves(sizes: list[int], results: dict[str, dict[str, list[float]]]):
    """Hit ratio against cache size, one panel per workload, one line per policy."""
    figure, axes = plt.subplots(1, len(results), figsize=(3.2 * len(results), 3), sharey=True)
    axes = [axes] if len(results) == 1 else axes
    for ax, (workload, by_policy) in zip(axes, results.items()):
        for policy, ratios in by_policy.items():
            ax.plot(sizes, ratios, marker="o", markersize=3, label=policy)
        ax.set_xscale("log")
        ax.set_title(workload, fontsize=9)
        ax.set_xlabel("cache size (keys)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("hit ratio")
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    return figure


def herd_timelines(results):
    """Who loaded the hot key when: one row per reader that loaded, one panel per strategy."""
    figure, axes = plt.subplots(len(results), 1, figsize=(8, 1.3 * len(results) + 0.6), sharex=True)
    axes = [axes] if len(results) == 1 else axes
    for ax, result in zip(axes, results):
        starts = {}
        rows = {}
        for reader, event, at in sorted(result.timeline, key=lambda item: item[2]):
            if event == "load_start":
                starts[reader] = at
            elif event == "load_end" and reader in starts:
                row = rows.setdefault(reader, len(rows))
                began = starts.pop(reader)
                ax.broken_barh([(began, at - began)], (row, 0.8), color="tab:red")
        ax.set_ylabel(f"{result.strategy}\n{result.loads} loads", fontsize=8, rotation=0, ha="right", va="center")
        ax.set_yticks([])
    axes[-1].set_xlabel("milliseconds since the herd started (each bar: one reader loading from the database)")
    figure.tight_layout()
    return figure


def xfetch_curves(delta_ms: float, ttl_ms: float, betas=(0.5, 1.0, 2.0)):
    """XFetch's chance that one read recomputes early, against the time left before expiry."""
    from ..stampede.xfetch import recompute_probability

    left = [ttl_ms * i / 200 for i in range(201)]
    figure, axes = plt.subplots(figsize=(6, 3))
    for beta in betas:
        axes.plot(left, [recompute_probability(delta_ms, beta, t) for t in left], label=f"beta {beta:g}")
    axes.invert_xaxis()
    axes.set_xlabel("time left before expiry (ms)")
    axes.set_ylabel("P(recompute on this read)")
    axes.set_title(f"XFetch with a {delta_ms:g} ms recompute", fontsize=9)
    axes.legend(fontsize=8)
    figure.tight_layout()
    return figure


def early_refresh_panels(rows):
    """The seed's "10% when under 5 minutes" against XFetch, across read rates of one key:
    database loads per refresh (log) and seconds of cache life thrown away (the refresh's lead)."""
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for rule in dict.fromkeys(row.rule for row in rows):
        mine = [row for row in rows if row.rule == rule]
        rates = [row.reads_per_s for row in mine]
        axes[0].plot(rates, [row.loads_per_cycle for row in mine], marker="o", label=rule)
        axes[1].plot(rates, [row.seconds_early for row in mine], marker="o", label=rule)
    for ax, label in zip(axes, ("database loads per refresh or expiry", "seconds before expiry it refreshed")):
        ax.set_xscale("log")
        ax.set_xlabel("reads per second of the key")
        ax.set_ylabel(label, fontsize=8)
    axes[0].set_yscale("log")
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    return figure


def chaos_timeline(reports: dict, title: str = "", answers: bool = False):
    """Hit ratio, mean simulated latency and database queries per bucket, the outage shaded; one line per run.

    `answers` adds a fourth panel: failed requests (solid) and stale answers served (dotted) per second.
    """
    metrics = (("hit ratio of reads", lambda b: b.hit_ratio),
               ("mean latency (simulated ms)", lambda b: b.mean_simulated_ms),
               ("database queries per second", None))
    if answers:
        metrics += (("failed (solid), served stale\n(dotted) per second", None),)
    figure, axes = plt.subplots(len(metrics), 1, figsize=(9, 6.4 + 1.8 * answers), sharex=True)
    for label, report in reports.items():
        bucket_s = report.spec["bucket_s"]
        starts = [b.start_s for b in report.timeline]
        for ax, (_, value) in zip(axes[:3], metrics):
            values = [value(b) if value else b.db_queries / bucket_s for b in report.timeline]
            line, = ax.step(starts, values, where="post", label=label)
        if answers:
            axes[3].step(starts, [b.failed / bucket_s for b in report.timeline], where="post", color=line.get_color())
            axes[3].step(starts, [b.served_stale / bucket_s for b in report.timeline], where="post",
                         color=line.get_color(), linestyle=":")
    first = next(iter(reports.values()))
    for ax, (name, _) in zip(axes, metrics):
        ax.axvspan(first.spec["outage_from_s"], first.spec["outage_until_s"], color="tab:red", alpha=0.12)
        ax.set_ylabel(name, fontsize=8)
    axes[0].set_ylim(0, 1)
    axes[0].annotate("Redis away", (first.spec["outage_from_s"], 0.92), fontsize=8, color="tab:red")
    axes[-1].set_xlabel("simulated seconds")
    axes[0].legend(loc="lower left", fontsize=8)
    axes[0].set_title(title or "The workload through a Redis outage")
    figure.tight_layout()
    return figure


def latency_histogram(samples_ms: dict[str, list[float]], bins: int = 60, title: str = "", log_x: bool = True):
    """Stepped histograms of simulated latencies, one per run, with each run's mean, p50 and p99 marked."""
    import numpy as np

    from ..errors import InvalidInput

    if not samples_ms or not all(len(s) for s in samples_ms.values()):
        raise InvalidInput("latency_histogram needs at least one run, each with at least one sample")
    values = {name: np.asarray(samples, dtype=float) for name, samples in samples_ms.items()}
    low, high = min(v.min() for v in values.values()), max(v.max() for v in values.values())
    log_x = log_x and low > 0 and high > low
    edges = np.geomspace(low, high, bins + 1) if log_x else np.linspace(low, max(high, low + 1), bins + 1)
    figure, axes = plt.subplots(figsize=(8, 3.4))
    for (name, v), color in zip(values.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        axes.hist(v, bins=edges, histtype="step", color=color, linewidth=1.5, label=f"{name} ({len(v):,})")
        for what, at, style in (("mean", v.mean(), "-"), ("p50", np.quantile(v, 0.5), "--"),
                                ("p99", np.quantile(v, 0.99), ":")):
            axes.axvline(at, color=color, linestyle=style, linewidth=1, label=f"{name} {what} {at:.1f} ms")
    if log_x:
        axes.set_xscale("log")
    axes.set_xlabel("latency (simulated ms)")
    axes.set_ylabel("requests")
    axes.set_title(title or "Latency: the mean, the median and the tail")
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    figure.tight_layout()
    return figure


def latency_cdf(inputs=None, title: str = ""):
    """The load model's exact CDF of a read with and without the cache; each mean marked, and how few reads are near."""
    import numpy as np

    from ..experiments import loadmodel

    inputs = loadmodel.seed_inputs() if inputs is None else inputs
    report = loadmodel.evaluate(inputs)
    curves = {"with the cache": loadmodel.read_latency(inputs, report.hit_ratio),
              "without (every read a query)": loadmodel.uncached_latency(inputs)}
    highest = max(sum(hi for _, hi in path) for mixture in curves.values() for _, path in mixture)
    lowest = max(0.1, min(sum(lo for lo, _ in path) for mixture in curves.values() for _, path in mixture))
    x = np.geomspace(lowest * 0.8, max(highest, lowest) * 1.1, 400)
    figure, axes = plt.subplots(figsize=(9.5, 3.4))
    for (name, mixture), color in zip(curves.items(), ("tab:blue", "tab:gray")):
        mean = loadmodel.mean_ms(mixture)
        near = loadmodel.cdf(mixture, 1.5 * mean) - loadmodel.cdf(mixture, 0.5 * mean)
        axes.plot(x, [loadmodel.cdf(mixture, t) for t in x], color=color, label=name)
        axes.axvline(mean, color=color, linestyle="--", linewidth=1,
                     label=f"mean {mean:.1f} ms: {near:.0%} of reads within ±50% of it")
    axes.axvline(report.seed_after_ms, color="tab:red", linestyle=":", linewidth=1,
                 label=f"the seed's {report.seed_after_ms:.0f} ms (worst case per tier)")
    axes.set_xscale("log")
    axes.set_ylim(0, 1.02)
    axes.set_xlabel("read latency (ms)")
    axes.set_ylabel("share of reads at or below")
    axes.set_title(title or f"Reads at hit ratio {report.hit_ratio:.0%}: two clusters, the mean in the gap")
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    figure.tight_layout()
    return figure


def _dollars(value: float) -> str:
    """$1,234 or -$1,234."""
    return f"-${-value:,.0f}" if value < 0 else f"${value:,.0f}"


def capacity_bars(plan, title: str = ""):
    """Monthly cost before the cache and after it (the seed's arithmetic, the model): database and cache fleets."""
    price = plan.inputs.db_server_monthly
    columns = ["before the cache", "after: seed's arithmetic", "after: model"]
    database = [plan.db_servers_before * price, plan.seed_db_servers_after * price, plan.db_servers_after * price]
    cache = [0.0, plan.cache_monthly, plan.cache_monthly]
    figure, axes = plt.subplots(figsize=(7, 3.6))
    axes.bar(columns, database, color="tab:blue", label="database fleet")
    totals = axes.bar(columns, cache, bottom=database, color="tab:orange", label="cache fleet")
    axes.bar_label(totals, [_dollars(d + c) for d, c in zip(database, cache)], fontsize=8)
    servers = [plan.db_servers_before, plan.seed_db_servers_after, plan.db_servers_after]
    for p, (count, cost) in enumerate(zip(servers, database)):
        if count:
            axes.annotate(f"{count} db", (p, cost / 2), ha="center", va="center", fontsize=8,
                          color="white")
    note = (f"seed claims {_dollars(plan.seed_db_savings)}/month saved (database only)\n"
            f"less its own cache fleet: {_dollars(plan.seed_net_savings)}\n"
            f"model, net: {_dollars(plan.net_savings)}")
    axes.annotate(note, (0.02, 0.97), xycoords="axes fraction", va="top", fontsize=8)
    axes.set_ylim(0, max(d + c for d, c in zip(database, cache)) * 1.5 or 1)
    axes.yaxis.set_major_formatter("${x:,.0f}")
    axes.set_ylabel("per month")
    axes.set_title(title or "Monthly cost: database and cache fleets")
    axes.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    return figure


def hit_ratio_timelines(ratios: dict[str, list[float]], requests: int, shift_at: float | None = None, title: str = ""):
    """Hit ratio per window of requests, one line per policy; a dashed line where popularity shifted."""
    figure, ax = plt.subplots(figsize=(6.4, 3))
    for policy, series in ratios.items():
        ends = [(i + 1) * requests / len(series) for i in range(len(series))]
        ax.plot(ends, series, marker="o", markersize=3, label=policy)
    if shift_at is not None:
        ax.axvline(shift_at * requests, color="grey", linestyle="--", linewidth=1, label="popularity shifts")
    ax.set_xlabel("requests replayed (end of window)")
    ax.set_ylabel("hit ratio in the window")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    figure.tight_layout()
    return figure
