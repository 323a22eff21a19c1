"""The widget panels rerun their experiment when a control moves."""

from matplotlib.figure import Figure

import whatsapp_cache.widgets as widgets
from whatsapp_cache import TTLs


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


def test_every_explorer_builds_and_rerenders_when_a_control_moves():
    from whatsapp_cache.invalidation.fleet import FleetSpec  # noqa: F401 - the fleet panel's module imports

    panel = widgets.eviction_explorer(keys=1_000, requests=5_000)
    policy = next(c for c in panel.children if getattr(c, "description", "") == "policy")
    policy.value = "redis-lfu"
    size = next(c for c in panel.children if getattr(c, "description", "") == "cache size (keys)")
    size.value = 200
    assert policy.value == "redis-lfu" and size.value == 200


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
    assert [name for name, _ in calls] == ["none", "jitter", "lock", "xfetch"] * 2
    assert calls[-1][1]["readers"] == 20 and calls[-1][1]["options"] == {"beta": 1.0}


def test_chaos_explorer_replays_with_the_policy_and_outage_on_the_controls(monkeypatch):
    import whatsapp_cache.chaos as chaos

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
    from whatsapp_cache.chaos import ChaosSpec, FakeOutage, run_chaos
    from whatsapp_cache.plots import chaos_timeline

    spec = ChaosSpec(actions=60, duration_s=30, outage_from_s=10, outage_until_s=20, bucket_s=5, recovery_window_s=5)
    with World(dataset="tiny") as world:
        report = run_chaos(world, FakeOutage(world, "down"), spec)
    figure = chaos_timeline({"a": report, "b": report})
    assert len(figure.axes) == 3 and all(len(ax.get_lines()) == 2 for ax in figure.axes)
