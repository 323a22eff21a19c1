"""Interactive panels for the notebooks; each calls a pure library function the notebook also calls."""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import display

from .metrics import format_summary
from .plots import hit_ratio_bars
from .ttl import TTLs
from .workload import WorkloadSpec, measure

_MINUTES = {"sessions": (5, 7 * 24 * 60), "presence": (1, 30), "messages": (1, 6 * 60),
            "profiles": (5, 48 * 60), "groups": (5, 24 * 60)}


def ttl_explorer(size: str = "small", seed: int = 0):
    """Sliders for each data type's TTL (minutes), the workload's size and skew; shows hit ratios."""
    defaults = TTLs()
    sliders = {name: widgets.IntSlider(value=min(getattr(defaults, name) // 60, high), min=low, max=high,
                                       step=max(1, (high - low) // 100), description=f"{name} TTL (min)",
                                       continuous_update=False, style={"description_width": "130px"},
                                       layout={"width": "480px"})
               for name, (low, high) in _MINUTES.items()}
    actions = widgets.IntSlider(value=2000, min=200, max=10_000, step=200, description="actions",
                                continuous_update=False, style={"description_width": "130px"})
    skew = widgets.FloatSlider(value=1.0, min=0.0, max=2.0, step=0.1, description="user skew",
                               continuous_update=False, style={"description_width": "130px"})
    output = widgets.Output()

    def redraw(_change=None) -> None:
        ttls = TTLs().with_(**{name: slider.value * 60 for name, slider in sliders.items()})
        rows = measure(ttls, WorkloadSpec(actions=actions.value, user_skew=skew.value, seed=seed), size)
        with output:
            output.clear_output(wait=True)
            print(format_summary(rows))
            figure = hit_ratio_bars(rows, title="Hit ratio per data type (this run)")
            display(figure)
            plt.close(figure)

    for control in (*sliders.values(), actions, skew):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HTML("<b>Run live to explore:</b> each change replays the workload."),
                         *sliders.values(), actions, skew, output])
