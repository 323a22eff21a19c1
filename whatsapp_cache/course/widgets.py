"""Interactive panels for the notebooks; each calls a pure library function the notebook also calls.

    controls --change--> [cache by settings] --miss--> render() -> (text, figure)
                                  |                       figure -> PNG bytes (Agg), closed
                                  v
    status line: "running..." (panel has CSS class wc-busy) | "no change: ..." | ""
    output: the text, then the PNG, replaced in one go (clear_output(wait=True))

Every panel also carries a static copy of its first output (HTML with the PNG inlined): the
notebook shows it where the live widget cannot render (before the kernel runs it), so a
stored notebook never shows a widget error or a raw widget repr (chapters.execute stores it).
"""

from __future__ import annotations

import base64
import html
import io
import time

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import Image, display

from ..metrics import format_summary
from .plots import hit_ratio_bars
from ..ttl import TTLs
from ..experiments.workload import WorkloadSpec, measure

BUSY_CLASS = "wc-busy"
PANEL_CLASS = "wc-panel"
# while a panel computes, its old output fades and its status line ("running...") is bold
_BUSY_STYLE = (f"<style>.{BUSY_CLASS} .widget-output {{opacity: 0.45}} "
               f".{BUSY_CLASS} .wc-status {{font-weight: bold}}</style>")
CACHED_RENDERINGS = 64  # per panel: revisiting settings redraws at once
# Wide enough to drag a slider to a value and to read every label whole (ipywidgets' default is
# 300 px for label, track and readout together, which left a ~45 px track).
_STYLE = {"description_width": "210px"}
_WIDE = {"width": "95%", "max_width": "720px"}

# TTL choices per data type, in minutes (the seed's default is always among them)
_TTL_CHOICES = {
    "sessions": (60, 360, 1440, 2880, 4320, 10080, 20160),
    "presence": (1, 2, 3, 5, 10, 15, 30),
    "messages": (1, 5, 10, 15, 30, 60, 120, 240, 360),
    "profiles": (5, 15, 60, 240, 720, 1440, 2880),
    "groups": (5, 15, 60, 120, 360, 720, 1440),
}


def escape_dollars(text: str) -> str:
    r"""`text` with every `$` written `\$`, so JupyterLab's MathJax never reads money as LaTeX."""
    out, previous = [], ""
    for char in text:
        out.append("\\$" if char == "$" and previous != "\\" else char)
        previous = char
    return "".join(out)


def _slider(kind, description: str, value, low, high, step=1, **options):
    """A wide slider that reports only when released (each change reruns an experiment)."""
    return kind(value=value, min=low, max=high, step=step, description=description,
                continuous_update=False, style=_STYLE, layout=_WIDE, **options)


def _choice_slider(description: str, options, value):
    """A slider over a few chosen values (e.g. sizes on a log scale): every stop is a value worth seeing."""
    return widgets.SelectionSlider(options=options, value=value, description=description,
                                   continuous_update=False, style=_STYLE, layout=_WIDE)


def _checkbox(value: bool, description: str):
    """A checkbox whose whole label shows (the default width cuts long labels off)."""
    return widgets.Checkbox(value=value, description=description, style=_STYLE, layout=_WIDE)


def figure_png(figure) -> bytes:
    """The figure drawn completely into PNG bytes (Agg), then closed: the panel never shows a half-drawn plot."""
    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, format="png", dpi=90)
    finally:
        plt.close(figure)
    return buffer.getvalue()


class Panel(widgets.VBox):
    """A live panel; displayed, it also offers a static HTML copy of its current output."""

    static_html = ""

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = "A widget panel: run this cell in JupyterLab to use its controls."
        bundle["text/html"] = self.static_html
        return bundle


def _static_html(headline: str, text: str, png: bytes) -> str:
    """The panel as plain HTML: headline, the text and the picture of its default settings."""
    picture = base64.b64encode(png).decode()
    return (f'<div class="wc-static"><p><b>Run live to explore:</b> {escape_dollars(html.escape(headline))} '
            "<i>(below: the panel's default settings; run the cell to move its controls)</i></p>"
            f"<pre>{html.escape(text).replace('$', '&#36;')}</pre>"  # MathJax skips <pre>; keep it literal
            f'<img src="data:image/png;base64,{picture}" alt="the panel\'s plot at its default settings"/></div>')


def _settings(controls: list) -> tuple:
    return tuple(control.value for control in controls)


def _live_panel(headline: str, controls: list, render) -> Panel:
    """Controls above an output that `render()` -> (text, figure) refills whenever one of them moves.

    Results are cached per tuple of control values; while computing, the panel has the CSS class
    wc-busy and says "running..."; a change whose result equals what is shown says "no change".
    """
    output, status = widgets.Output(), widgets.HTML()
    status.add_class("wc-status")
    panel = Panel([widgets.HTML(f"{_BUSY_STYLE}<b>Run live to explore:</b> {escape_dollars(html.escape(headline))}"),
                   *controls, status, output])
    panel.add_class(PANEL_CLASS)
    cache: dict[tuple, tuple[str, bytes]] = {}
    shown: list = [None]

    def compute(settings: tuple) -> tuple[str, bytes]:
        if settings not in cache:
            panel.add_class(BUSY_CLASS)
            status.value = "<i>running...</i>"
            try:
                text, figure = render()
                cache[settings] = (text, figure_png(figure))
            finally:
                panel.remove_class(BUSY_CLASS)
            while len(cache) > CACHED_RENDERINGS:
                cache.pop(next(iter(cache)))
        return cache[settings]

    def redraw(_change=None) -> None:
        started = time.perf_counter()
        text, png = compute(_settings(controls))
        if (text, png) == shown[0]:
            status.value = "<i>no change: these settings give the same result as the ones before</i>"
            return
        with output:
            output.clear_output(wait=True)
            print(text)
            display(Image(data=png, format="png"))
        shown[0] = (text, png)
        status.value = f"<i>updated in {time.perf_counter() - started:.1f} s</i>"

    for control in controls:
        control.observe(redraw, names="value")
    redraw()
    panel.static_html = _static_html(headline, *shown[0])
    return panel


def ttl_explorer(size: str = "tiny", seed: int = 0):
    """Sliders for each data type's TTL (minutes), the workload's size and skew; shows hit ratios.

    The default is the tiny data set and 500 actions, so a change replays in about a second;
    the chapter's own cells show the full-size run.
    """
    defaults = TTLs()
    sliders = {name: _choice_slider(f"{name} TTL (min)", choices, getattr(defaults, name) // 60)
               for name, choices in _TTL_CHOICES.items()}
    actions = _slider(widgets.IntSlider, "actions", 500, 100, 5_000, 100)
    skew = _slider(widgets.FloatSlider, "user skew", 1.0, 0.0, 2.0, 0.1)

    def render():
        ttls = TTLs().with_(**{name: slider.value * 60 for name, slider in sliders.items()})
        rows = measure(ttls, WorkloadSpec(actions=actions.value, user_skew=skew.value, seed=seed), size)
        return format_summary(rows), hit_ratio_bars(rows, title="Hit ratio per data type (this run)")

    return _live_panel("each change replays the workload (a TTL longer than the run changes nothing).",
                       [*sliders.values(), actions, skew], render)


def pattern_explorer(seed: int = 0):
    """Sliders for the read/write mix, TTL, jitter and concurrency; shows every pattern side by side."""
    from ..patterns.compare import MixSpec, compare, format_comparison
    from .plots import pattern_panels

    controls = {
        "write_share": _slider(widgets.FloatSlider, "write share", 0.2, 0.0, 0.9, 0.05),
        "ttl_s": _slider(widgets.IntSlider, "TTL (s)", 60, 5, 600, 5),
        "jitter": _slider(widgets.FloatSlider, "TTL jitter", 0.0, 0.0, 0.5, 0.05),
        "clients": _slider(widgets.IntSlider, "clients", 16, 1, 64),
        "operations": _slider(widgets.IntSlider, "operations", 200, 100, 5000, 100),
    }

    def render():
        rows = compare(MixSpec(seed=seed, **{name: control.value for name, control in controls.items()}))
        return format_comparison(rows), pattern_panels(rows)

    return _live_panel("each change reruns every pattern.", list(controls.values()), render)


def fleet_explorer(seed: int = 0, operations: int = 1_500):
    """Sliders for the number of servers, local TTL, delivery delay and write share; an outage switch.

    1,500 operations (about 150 simulated seconds, the outage inside them) keep a change near a second.
    """
    from ..invalidation.fleet import FleetSpec, compare_fleet, format_fleet
    from .plots import fleet_panels

    controls = {
        "servers": _slider(widgets.IntSlider, "app servers", 3, 1, 10),
        "local_ttl_s": _slider(widgets.IntSlider, "local TTL (s)", 30, 1, 120),
        "poll_every_ms": _slider(widgets.IntSlider, "delivery (ms)", 100, 10, 2000, 10),
        "write_share": _slider(widgets.FloatSlider, "write share", 0.05, 0.0, 0.5, 0.01),
    }
    outage = _checkbox(True, "cut app0 off pub/sub from 60 s to 120 s")

    def render():
        spec = FleetSpec(seed=seed, operations=operations, outage_s=(60.0, 120.0) if outage.value else None,
                         **{name: control.value for name, control in controls.items()})
        rows = compare_fleet(spec)
        return format_fleet(rows), fleet_panels(rows)

    return _live_panel("each change reruns the fleet.", [*controls.values(), outage], render)


# cache sizes worth seeing, on a log scale (a 10-5,000 linear slider cannot be dragged to a value)
_CACHE_SIZES = (10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000)


def eviction_explorer(keys: int = 10_000, requests: int = 50_000, seed: int = 0):
    """A policy, the Zipf skew and the cache size; the policy's hit ratio beside the others, and LRU's curve.

    The trace and LRU's curve depend on the skew only, so they are kept per skew: a new policy
    or size replays the policies on the same trace.
    """
    from functools import lru_cache

    from ..eviction import workloads
    from ..eviction.curve import hit_ratio_curve
    from ..eviction.simulator import POLICIES, format_results, simulate

    policy = widgets.Dropdown(options=POLICIES, value="lru", description="policy", style=_STYLE)
    skew = _slider(widgets.FloatSlider, "Zipf skew", 1.0, 0.0, 2.0, 0.1)
    sizes = [s for s in _CACHE_SIZES if s <= keys // 2]
    size = _choice_slider("cache size (keys)", sizes, min(sizes, key=lambda s: abs(s - 500)))

    @lru_cache(maxsize=8)
    def trace_and_curve(alpha: float):
        trace = workloads.zipf(keys, requests, alpha=alpha, seed=seed)
        return trace, hit_ratio_curve(trace, list(range(10, keys // 2 + 1, 10)))

    @lru_cache(maxsize=64)
    def results(alpha: float, cache_size: int):
        trace = trace_and_curve(alpha)[0]
        return {name: simulate(trace, name, cache_size) for name in POLICIES}

    def render():
        chosen = results(skew.value, size.value)[policy.value]
        text = (f"{policy.value} at {size.value:,} keys: hit ratio {chosen.hit_ratio:.4f}\n\n"
                + format_results(list(results(skew.value, size.value).values())))
        sizes_, ratios = trace_and_curve(skew.value)[1]
        figure, axes = plt.subplots(figsize=(6, 3))
        axes.plot(sizes_, ratios, label="exact LRU, every size")
        axes.scatter([size.value], [chosen.hit_ratio], color="tab:red", zorder=3, label=policy.value)
        axes.set_xscale("log")
        axes.set_xlabel("cache size (keys, log scale)")
        axes.set_ylabel("hit ratio")
        axes.legend(fontsize=8)
        figure.tight_layout()
        return text, figure

    return _live_panel("each change replays every policy on the trace (a new skew rebuilds it).",
                       [policy, skew, size], render)


def herd_explorer(strategies=("none", "jitter", "lock", "xfetch")):
    """Sliders for readers, TTL, load time and XFetch's beta; runs a real threaded herd per strategy.

    The herds run side by side (each on its own fakeredis server) over one expiry, so a change
    takes about 1.5 TTLs of real time, not 2.5 TTLs per strategy one after another.
    """
    from concurrent.futures import ThreadPoolExecutor

    import fakeredis

    from .plots import herd_timelines
    from ..stampede.herd import run_herd

    controls = {
        "readers": _slider(widgets.IntSlider, "readers (threads)", 30, 5, 200, 5),
        "ttl_ms": _slider(widgets.IntSlider, "TTL (ms)", 300, 100, 1000, 50),
        "load_ms": _slider(widgets.IntSlider, "load time (ms)", 50, 10, 200, 10),
        "beta": _slider(widgets.FloatSlider, "XFetch beta", 1.0, 0.5, 3.0, 0.5),
    }

    def herd(name: str, values: dict):
        client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
        return run_herd(name, client, readers=values["readers"], load_ms=values["load_ms"],
                        ttl_s=values["ttl_ms"] / 1000, expiries=1,
                        options={"beta": values["beta"]} if name == "xfetch" else None)

    def render():
        values = {name: control.value for name, control in controls.items()}
        with ThreadPoolExecutor(len(strategies)) as pool:
            results = list(pool.map(lambda name: herd(name, values), strategies))
        return "\n".join(result.summary() for result in results), herd_timelines(results)

    return _live_panel("each change runs a real threaded herd per strategy, side by side (about 1.5 TTLs).",
                       list(controls.values()), render)


def chaos_explorer(seed: int = 0):
    """Sliders for the outage and the breaker; each change replays the chaos workload on a fresh embedded World.

    300 actions on the tiny data set, so a change answers in about a second; the chapter's
    cells replay 3,000 actions.
    """
    from ..experiments.chaos import ChaosSpec, FakeOutage, format_report, run_chaos
    from .plots import chaos_timeline
    from ..resilience import FailurePolicy
    from ..world import World

    controls = {
        "outage_s": _slider(widgets.IntSlider, "outage (simulated s)", 100, 10, 200, 10),
        "hung": _checkbox(False, "hung (timeouts), not refused"),
        "threshold": _slider(widgets.IntSlider, "failures to open", 3, 1, 20, 1),
        "pause_ms": _slider(widgets.IntSlider, "probe every (ms)", 5_000, 500, 30_000, 500),
        "timeout_ms": _slider(widgets.IntSlider, "timeout (ms)", 500, 50, 2_000, 50),
        "breaker": _checkbox(True, "circuit breaker on"),
    }

    def render():
        values = {name: control.value for name, control in controls.items()}
        policy = FailurePolicy(timeout_s=values["timeout_ms"] / 1000, failure_threshold=values["threshold"],
                               reset_after_ms=values["pause_ms"], breaker=values["breaker"])
        spec = ChaosSpec(actions=300, duration_s=300, outage_from_s=80, outage_until_s=80 + values["outage_s"],
                         seed=seed)
        with World(dataset="tiny", seed=seed, failure_policy=policy, environment=False) as world:
            report = run_chaos(world, FakeOutage(world, "hung" if values["hung"] else "down"), spec)
        return format_report(report), chaos_timeline({"this run": report})

    return _live_panel("each change replays 300 actions with Redis away in the middle.",
                       list(controls.values()), render)


def _invalid(error: Exception):
    """The panel's text and figure for inputs the library rejects: its message, not a traceback."""
    figure, axes = plt.subplots(figsize=(6, 0.5))
    axes.axis("off")
    axes.text(0, 0.5, "no plot: the library rejects these inputs (see above)", va="center", fontsize=9)
    return f"invalid input: {error}", figure


def _load_controls(defaults) -> dict:
    """Sliders for the load model's inputs, at `defaults` (a LoadInputs with one overall hit ratio)."""
    from ..experiments.loadmodel import MAX_CACHE_CHECKS, overall_hit_ratio

    return {
        "hit_ratios": _slider(widgets.FloatSlider, "hit ratio (reads)", overall_hit_ratio(defaults), 0.0, 1.0, 0.01),
        "cache_ms": _slider(widgets.FloatRangeSlider, "cache (ms)", defaults.cache_ms, 0.0, 20.0, 0.5,
                            readout_format=".1f"),
        "database_ms": _slider(widgets.FloatRangeSlider, "database (ms)", defaults.database_ms, 0.0, 300.0, 5.0,
                               readout_format=".0f"),
        "cache_checks_per_miss": _slider(widgets.IntSlider, "cache checks per miss",
                                         defaults.cache_checks_per_miss, 0, MAX_CACHE_CHECKS),
        "reads_per_s": _slider(widgets.IntSlider, "reads/s", int(defaults.reads_per_s), 0, 5_000_000, 100_000),
        "writes_per_s": _slider(widgets.IntSlider, "writes/s", int(defaults.writes_per_s), 0, 2_000_000, 1_000),
        "db_writes_per_server": _slider(widgets.IntSlider, "db writes/s per server",
                                        int(defaults.db_writes_per_server), 0, 50_000, 1_000),
        "write_fraction_to_db": _slider(widgets.FloatSlider, "writes reaching db",
                                        defaults.write_fraction_to_db, 0.0, 1.0, 0.01),
    }


def load_explorer():
    """Sliders for every input of the load model; shows the seed's figures beside the model's, and the CDF."""
    from ..errors import InvalidInput
    from ..experiments.loadmodel import LoadInputs, evaluate, format_report, seed_inputs
    from .plots import latency_cdf

    controls = _load_controls(seed_inputs())

    def render():
        try:
            inputs = LoadInputs(**{name: control.value for name, control in controls.items()})
            return format_report(evaluate(inputs)), latency_cdf(inputs)
        except InvalidInput as error:
            return _invalid(error)

    return _live_panel("each change re-evaluates the model (writes reaching db < 1: write-behind coalescing).",
                       list(controls.values()), render)


def capacity_explorer():
    """Sliders for data sizes, buffer, servers, replicas, prices and the database load; shows the plan and costs."""
    from ..experiments.capacity import SEED_DATA_GB, SEED_STATED, CapacityInputs, format_plan, plan
    from ..errors import InvalidInput
    from ..experiments.loadmodel import LoadInputs
    from .plots import capacity_bars

    defaults = CapacityInputs()
    sizes = {name: _slider(widgets.IntSlider, f"{name} (GB)", gb, 0, 4 * gb, max(50, gb // 20))
             for name, gb in SEED_DATA_GB.items()}
    controls = {
        "buffer": _slider(widgets.FloatSlider, "buffer (share of data)", defaults.buffer, 0.0, 1.0, 0.05),
        "ram_per_server_gb": _slider(widgets.IntSlider, "RAM per server (GB)", int(defaults.ram_per_server_gb),
                                     0, 2_048, 64),
        "usable_fraction": _slider(widgets.FloatSlider, "usable share of RAM", defaults.usable_fraction,
                                   0.0, 1.0, 0.05),
        "replicas_per_master": _slider(widgets.IntSlider, "replicas per master", defaults.replicas_per_master, 0, 5),
        "cache_server_monthly": _slider(widgets.IntSlider, "cache server ($/month)",
                                        int(defaults.cache_server_monthly), 0, 2_000, 25),
        "db_server_monthly": _slider(widgets.IntSlider, "db server ($/month)", int(defaults.db_server_monthly),
                                     0, 2_000, 25),
    }
    load = {name: control for name, control in _load_controls(defaults.load).items()
            if name in ("hit_ratios", "write_fraction_to_db")}
    stated = _checkbox(False, f"the seed's stated buffer ({SEED_STATED['buffer_gb']:,} GB)")

    def render():
        try:
            inputs = CapacityInputs(
                data_gb={name: slider.value for name, slider in sizes.items()},
                buffer_gb=SEED_STATED["buffer_gb"] if stated.value else None,
                load=LoadInputs(**{name: slider.value for name, slider in load.items()}),
                **{name: control.value for name, control in controls.items()})
            result = plan(inputs)
            return format_plan(result), capacity_bars(result)
        except InvalidInput as error:
            return _invalid(error)

    return _live_panel("each change re-plans the fleet and its cost.",
                       [*sizes.values(), *controls.values(), stated, *load.values()], render)
