"""Plots the notebooks show; each takes plain results and returns the matplotlib Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt

from .metrics import TypeSummary
from .workload import SEED_HIT_RATIOS


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
    from .stampede.xfetch import recompute_probability

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


def chaos_timeline(reports: dict, title: str = ""):
    """Hit ratio, mean simulated latency and database queries per bucket, the outage shaded; one line per run."""
    metrics = (("hit ratio of reads", lambda b: b.hit_ratio),
               ("mean latency (simulated ms)", lambda b: b.mean_simulated_ms),
               ("database queries per second", None))
    figure, axes = plt.subplots(len(metrics), 1, figsize=(9, 6.4), sharex=True)
    for label, report in reports.items():
        bucket_s = report.spec["bucket_s"]
        starts = [b.start_s for b in report.timeline]
        for ax, (_, value) in zip(axes, metrics):
            values = [value(b) if value else b.db_queries / bucket_s for b in report.timeline]
            ax.step(starts, values, where="post", label=label)
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
