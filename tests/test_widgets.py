"""The widget panels rerun their experiment when a control moves."""

from matplotlib.figure import Figure

import whatsapp_cache.course.widgets as widgets
from whatsapp_cache import TTLs
from whatsapp_cache.metrics import format_summary


def test_ttl_explorer_replays_with_the_slider_values(monkeypatch):
    calls = []
    monkeypatch.setattr(widgets, "measure", lambda ttls, spec, size: calls.append((ttls, spec, size)) or [])
    monkeypatch.setattr(widgets, "hit_ratio_bars", lambda rows, title: Figure())
    panel = widgets.ttl_explorer(size="tiny", seed=3)
    messages_slider = next(c for c in panel.children if getattr(c, "description", "") == "messages TTL (min)")
    messages_slider.value = 10
    assert len(calls) == 2
    first, second = calls
    assert first[0] == TTLs() and first[1].seed == 3 and first[2] == "tiny"
    assert second[0].messages == 600 and second[0].profiles == TTLs().profiles


# Each explorer below: move a control, then check the panel printed what the library function it
# wraps computes for the new settings (the notebooks call those same functions).

def test_ttl_explorer_shows_the_summary_of_the_workload_under_the_new_ttl(capsys):
    from whatsapp_cache.experiments.workload import WorkloadSpec, measure

    controls = _controls(widgets.ttl_explorer(size="tiny", seed=3))
    controls["actions"].value = 300
    before = capsys.readouterr().out
    controls["messages TTL (min)"].value = 10
    after = capsys.readouterr().out
    expected = format_summary(measure(TTLs(messages=600), WorkloadSpec(actions=300, seed=3), "tiny"))
    assert expected in after and expected not in before
    assert "on fakeredis (in process) + SQLite (in memory)\ndata type" in after


def test_pattern_explorer_shows_every_pattern_under_the_new_mix(capsys):
    from whatsapp_cache.patterns.compare import MixSpec, compare, format_comparison

    controls = _controls(widgets.pattern_explorer(seed=1))
    controls["operations"].value = 300
    capsys.readouterr()
    controls["write share"].value = 0.6
    rows = compare(MixSpec(operations=300, write_share=0.6, ttl_s=60, jitter=0.0, clients=16, seed=1))
    assert format_comparison(rows) in capsys.readouterr().out
    assert [row.writes for row in rows] == [rows[0].writes] * 5 and rows[0].writes > 0.5 * 300


def test_fleet_explorer_shows_the_fleet_with_the_new_servers_and_outage(capsys):
    from whatsapp_cache.invalidation.fleet import FleetSpec, compare_fleet, format_fleet

    controls = _controls(widgets.fleet_explorer(seed=2))
    capsys.readouterr()
    controls["app servers"].value = 5
    with_outage = compare_fleet(FleetSpec(servers=5, operations=1_500, outage_s=(60.0, 120.0), seed=2))
    assert format_fleet(with_outage) in capsys.readouterr().out
    controls["cut app0 off pub/sub from 60 s to 120 s"].value = False
    without = compare_fleet(FleetSpec(servers=5, operations=1_500, outage_s=None, seed=2))
    assert format_fleet(without) in capsys.readouterr().out
    assert with_outage[0].flushes == 1 and without[0].flushes == 0


def test_eviction_explorer_shows_the_chosen_policy_at_the_chosen_size(capsys):
    from whatsapp_cache.eviction import workloads
    from whatsapp_cache.eviction.simulator import POLICIES, format_results, simulate

    controls = _controls(widgets.eviction_explorer(keys=1_000, requests=5_000))
    controls["policy"].value = "redis-lfu"
    capsys.readouterr()
    controls["cache size (keys)"].value = 200
    out = capsys.readouterr().out
    trace = workloads.zipf(1_000, 5_000, alpha=1.0, seed=0)
    results = [simulate(trace, name, 200) for name in POLICIES]
    chosen = results[list(POLICIES).index("redis-lfu")]
    assert f"redis-lfu at 200 keys: hit ratio {chosen.hit_ratio:.4f}" in out and format_results(results) in out
    assert 0 < chosen.hit_ratio < 1


def test_herd_explorer_runs_real_herds_with_the_new_readers(monkeypatch, capsys):
    import whatsapp_cache.stampede.herd as herd

    real_run = herd.run_herd
    # one expiry instead of the panel's two: the same herds, half the wall-clock time
    monkeypatch.setattr(herd, "run_herd", lambda name, client, **kwargs: real_run(name, client, **{**kwargs,
                                                                                                 "expiries": 1}))
    controls = _controls(widgets.herd_explorer())
    capsys.readouterr()
    controls["readers (threads)"].value = 10
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if "readers=" in line}
    assert sorted(lines) == ["jitter", "lock", "none", "xfetch"]
    assert all("readers=10 " in line and " 0 errors" in line for line in lines.values())
    assert "max 1 concurrent loads" in lines["lock"] and "1 loads in 1 expiries" in lines["lock"]


def test_chaos_explorer_shows_the_report_of_the_run_with_the_new_policy(monkeypatch, capsys):
    import whatsapp_cache.experiments.chaos as chaos
    from whatsapp_cache import World
    from whatsapp_cache.resilience import FailurePolicy

    small = chaos.ChaosSpec(actions=80, duration_s=60, outage_from_s=20, outage_until_s=40, bucket_s=5,
                            recovery_window_s=5, seed=2)
    real_run = chaos.run_chaos
    # the panel's 1,200 actions replaced by 80 (its outage and policy kept): the same report, quicker
    monkeypatch.setattr(chaos, "run_chaos", lambda world, outage, spec: real_run(world, outage, small))
    controls = _controls(widgets.chaos_explorer(seed=2))
    capsys.readouterr()
    controls["circuit breaker on"].value = False
    out = capsys.readouterr().out
    with World(dataset="tiny", seed=2, failure_policy=FailurePolicy(breaker=False)) as world:
        expected = chaos.format_report(real_run(world, chaos.FakeOutage(world, "down"), small))
    assert expected in out and "circuit breaker OFF" in expected


def test_herd_explorer_runs_one_herd_per_strategy_with_the_slider_values(monkeypatch):
    import whatsapp_cache.stampede.herd as herd

    calls = []

    class Result:
        def __init__(self, name, **kwargs):
            calls.append((name, kwargs))
            self.strategy, self.loads, self.timeline = name, 1, [("r1", "load_start", 0.0), ("r1", "load_end", 5.0)]

        def summary(self):
            return self.strategy

    monkeypatch.setattr(herd, "run_herd", lambda name, client, **kwargs: Result(name, **kwargs))
    panel = widgets.herd_explorer()
    readers = next(c for c in panel.children if getattr(c, "description", "") == "readers (threads)")
    readers.value = 20
    # the four herds run side by side, so within one change their order is free
    assert [sorted(name for name, _ in calls[i:i + 4]) for i in (0, 4)] == [["jitter", "lock", "none", "xfetch"]] * 2
    xfetch = [kwargs for name, kwargs in calls[4:] if name == "xfetch"][0]
    assert xfetch["readers"] == 20 and xfetch["options"] == {"beta": 1.0}


def test_chaos_explorer_replays_with_the_policy_and_outage_on_the_controls(monkeypatch):
    import whatsapp_cache.experiments.chaos as chaos

    calls = []
    real_run = chaos.run_chaos

    def spy(world, outage, spec):
        calls.append((world.failure_policy, outage.mode, spec))
        return real_run(world, outage, chaos.ChaosSpec(actions=50, duration_s=30, outage_from_s=10,
                                                      outage_until_s=20, bucket_s=5, recovery_window_s=5))

    monkeypatch.setattr(chaos, "run_chaos", spy)
    panel = widgets.chaos_explorer(seed=2)
    control = {getattr(c, "description", ""): c for c in panel.children}
    control["hung (timeouts), not refused"].value = True
    control["circuit breaker on"].value = False
    control["outage (simulated s)"].value = 40
    (first_policy, first_mode, first_spec), *_, (policy, mode, spec) = calls
    assert len(calls) == 4 and first_mode == "down" and first_policy.breaker and first_spec.seed == 2
    assert (mode, policy.breaker, spec.outage_until_s - spec.outage_from_s) == ("hung", False, 40)


def test_chaos_timeline_draws_one_line_per_run_in_each_panel():
    from whatsapp_cache import World
    from whatsapp_cache.experiments.chaos import ChaosSpec, FakeOutage, run_chaos
    from whatsapp_cache.course.plots import chaos_timeline

    spec = ChaosSpec(actions=60, duration_s=30, outage_from_s=10, outage_until_s=20, bucket_s=5, recovery_window_s=5)
    with World(dataset="tiny") as world:
        report = run_chaos(world, FakeOutage(world, "down"), spec)
    figure = chaos_timeline({"a": report, "b": report})
    assert len(figure.axes) == 3 and all(len(ax.get_lines()) == 2 for ax in figure.axes)


def _controls(panel):
    return {getattr(c, "description", ""): c for c in panel.children}


def test_load_explorer_shows_the_seeds_figures_and_follows_the_hit_ratio(capsys):
    panel = widgets.load_explorer()
    first = capsys.readouterr().out
    assert "latency after (ms)                     24.0               18.0" in first
    assert "hit ratio                             80.0%              80.0%" in first
    assert "database reads/s after              300,000            300,000" in first
    assert "1,500,000" in first
    _controls(panel)["hit ratio (reads)"].value = 0.9
    second = capsys.readouterr().out
    assert "latency after (ms)                     14.5               10.5" in second


def test_load_explorer_shows_write_behind_lowering_the_database_servers(capsys):
    panel = widgets.load_explorer()
    capsys.readouterr()
    _controls(panel)["writes reaching db"].value = 0.2
    assert "database servers after                   14                 14" in capsys.readouterr().out


def test_load_explorer_prints_the_librarys_message_for_an_invalid_setting(capsys):
    panel = widgets.load_explorer()
    capsys.readouterr()
    _controls(panel)["db writes/s per server"].value = 0
    out = capsys.readouterr().out
    assert "invalid input: db_writes_per_server must be greater than zero" in out and "Traceback" not in out


def test_capacity_explorer_shows_the_seeds_fleet_and_follows_the_sliders(capsys):
    panel = widgets.capacity_explorer()
    first = capsys.readouterr().out
    assert "masters                        40" in first and "cache servers                 120" in first
    controls = _controls(panel)
    controls["replicas per master"].value = 1
    assert "cache servers                  80" in capsys.readouterr().out
    controls["the seed's stated buffer (3,500 GB)"].value = True
    assert "masters                        41" in capsys.readouterr().out


def test_capacity_explorer_prints_the_librarys_message_for_an_invalid_setting(capsys):
    panel = widgets.capacity_explorer()
    capsys.readouterr()
    _controls(panel)["usable share of RAM"].value = 0.0
    out = capsys.readouterr().out
    assert "invalid input: usable_fraction must be greater than zero" in out and "masters" not in out


def _simulated_reads(hit_ratio, count=2_000, seed=0):
    import random

    from whatsapp_cache.latency import LatencyModel

    model, chance = LatencyModel(seed=seed), random.Random(seed)
    return [model.cache_round_trip() + (0 if chance.random() < hit_ratio else model.database_query())
            for _ in range(count)]


def test_latency_histogram_marks_mean_p50_and_p99_of_each_run():
    from whatsapp_cache.course.plots import latency_histogram

    figure = latency_histogram({"with cache": _simulated_reads(0.8), "without cache": _simulated_reads(0.0)})
    labels = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert len(figure.axes) == 1 and len(figure.axes[0].get_lines()) == 6
    assert sum("p99" in label for label in labels) == 2 and any(label.startswith("with cache mean") for label in labels)
    assert figure.axes[0].get_xscale() == "log"


def test_latency_cdf_marks_the_mean_where_almost_no_read_is():
    from whatsapp_cache.course.plots import latency_cdf

    figure = latency_cdf()
    labels = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert "mean 18.0 ms: 0% of reads within ±50% of it" in labels
    assert "the seed's 24 ms (worst case per tier)" in labels


def test_capacity_bars_stack_the_fleets_and_state_both_savings():
    from whatsapp_cache.experiments.capacity import plan
    from whatsapp_cache.course.plots import capacity_bars

    figure = capacity_bars(plan())
    axes = figure.axes[0]
    texts = " ".join(t.get_text() for t in axes.texts)
    assert len(axes.containers) == 2 and len(axes.patches) == 6
    assert "$28,000/month saved" in texts and "model, net: -$24,000" in texts
    assert [t.get_text() for t in axes.texts if t.get_text().startswith("$")] == ["$35,000", "$31,000", "$59,000"]


# The panel machinery: one complete PNG per redraw, a cache per settings, a busy state, "no change",
# a static copy for the stored notebook, and controls wide enough to use.

def _ttl_panel(monkeypatch, rows_for=lambda ttls: []):
    calls = []

    def fake_measure(ttls, spec, size):
        calls.append((ttls, panel_holder and widgets.BUSY_CLASS in panel_holder[0]._dom_classes))
        return rows_for(ttls)

    panel_holder = []
    monkeypatch.setattr(widgets, "measure", fake_measure)
    monkeypatch.setattr(widgets, "hit_ratio_bars", lambda rows, title: _figure(len(calls)))
    panel_holder.append(widgets.ttl_explorer(size="tiny"))
    return panel_holder[0], calls


def _figure(label):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(2, 1))
    figure.text(0.5, 0.5, f"run {label}")
    return figure


def _status(panel):
    return next(c for c in panel.children if "wc-status" in c._dom_classes).value


def test_a_panel_computes_each_setting_once_and_is_busy_while_it_computes(monkeypatch):
    panel, calls = _ttl_panel(monkeypatch)
    messages = _controls(panel)["messages TTL (min)"]
    messages.value = 10
    messages.value = 60  # back to the default: shown from the cache, no replay
    assert len(calls) == 2 and calls[1][1] is True
    assert widgets.BUSY_CLASS not in panel._dom_classes and "updated" in _status(panel)


def test_a_change_that_changes_nothing_says_so(monkeypatch, capsys):
    from matplotlib.figure import Figure

    monkeypatch.setattr(widgets, "measure", lambda ttls, spec, size: [])
    monkeypatch.setattr(widgets, "hit_ratio_bars", lambda rows, title: Figure(figsize=(2, 1)))
    panel = widgets.ttl_explorer(size="tiny")
    capsys.readouterr()
    _controls(panel)["sessions TTL (min)"].value = 60
    assert "no change" in _status(panel) and capsys.readouterr().out == ""


def test_each_redraw_shows_one_complete_png(monkeypatch):
    import io

    import numpy as np
    from PIL import Image

    panel, _ = _ttl_panel(monkeypatch)
    shown = [o for o in panel.children[-1].outputs if "image/png" in o.get("data", {})]
    assert len(shown) <= 1  # outside a kernel the Output widget does not capture; the cache holds the PNG
    png = widgets.figure_png(_figure("x"))
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)
    assert png.startswith(b"\x89PNG") and pixels.std() > 2


def test_a_displayed_panel_carries_a_static_copy_of_its_first_output():
    panel = widgets.capacity_explorer()
    bundle = panel._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "VBox(" not in bundle["text/plain"]
    static = bundle["text/html"]
    assert '<img src="data:image/png;base64,' in static and "masters" in static
    assert "$" not in static.replace("\\$", "")  # no dollar left for MathJax


def test_controls_are_wide_enough_to_use_and_their_labels_whole():
    for panel in (widgets.load_explorer(), widgets.capacity_explorer(), widgets.fleet_explorer()):
        controls = [c for c in panel.children if hasattr(c, "description") and c.description]
        assert controls
        for control in controls:
            assert control.layout.width == "95%", control.description
            assert control.style.description_width == "210px", control.description
            if hasattr(control, "continuous_update"):
                assert control.continuous_update is False, control.description


def test_the_cache_size_slider_stops_at_sizes_on_a_log_scale():
    panel = widgets.eviction_explorer(keys=1_000, requests=2_000)
    size = _controls(panel)["cache size (keys)"]
    assert list(size.options) == [10, 20, 50, 100, 200, 500] and size.value == 500


def test_a_stored_notebook_keeps_the_static_copy_not_the_widget_view():
    import nbformat

    from whatsapp_cache.course.chapters import WIDGET_VIEW, store_static_panels

    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("panel()")
    cell.outputs = [nbformat.v4.new_output("display_data", data={WIDGET_VIEW: {"model_id": "ab"},
                                                                 "text/html": "<p>static</p>", "text/plain": "p"})]
    notebook.cells.append(cell)
    notebook.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    assert store_static_panels(notebook) == 1
    assert set(cell.outputs[0].data) == {"text/html", "text/plain"} and "widgets" not in notebook.metadata
