"""Interactive panels for the notebooks; each calls a pure library function the notebook also calls."""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import display

from .metrics import format_summary
from .plots import hit_ratio_bars
from .ttl import TTLs
from .workload import WorkloadSpec, measure

# TTL choices per data type, in minutes (the seed's default is always among them)
_TTL_CHOICES = {
    "sessions": (60, 360, 1440, 2880, 4320, 10080, 20160),
    "presence": (1, 2, 3, 5, 10, 15, 30),
    "messages": (1, 5, 10, 15, 30, 60, 120, 240, 360),
    "profiles": (5, 15, 60, 240, 720, 1440, 2880),
    "groups": (5, 15, 60, 120, 360, 720, 1440),
}
_STYLE = {"description_width": "160px"}


def ttl_explorer(size: str = "small", seed: int = 0):
    """Sliders for each data type's TTL (minutes), the workload's size and skew; shows hit ratios."""
    defaults = TTLs()
    sliders = {name: widgets.SelectionSlider(options=choices, value=getattr(defaults, name) // 60,
                                             description=f"{name} TTL (min)", continuous_update=False,
                                             style=_STYLE, layout={"width": "520px"})
               for name, choices in _TTL_CHOICES.items()}
    actions = widgets.IntSlider(value=3000, min=500, max=10_000, step=500, description="actions",
                                continuous_update=False, style=_STYLE)
    skew = widgets.FloatSlider(value=1.0, min=0.0, max=2.0, step=0.1, description="user skew",
                               continuous_update=False, style=_STYLE)
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


def pattern_explorer(seed: int = 0):
    """Sliders for the read/write mix, TTL, jitter and concurrency; shows every pattern side by side."""
    from .patterns.compare import MixSpec, compare, format_comparison
    from .plots import pattern_panels

    style = _STYLE
    controls = {
        "write_share": widgets.FloatSlider(value=0.2, min=0.0, max=0.9, step=0.05, description="write share",
                                           continuous_update=False, style=style),
        "ttl_s": widgets.IntSlider(value=60, min=5, max=600, step=5, description="TTL (s)",
                                   continuous_update=False, style=style),
        "jitter": widgets.FloatSlider(value=0.0, min=0.0, max=0.5, step=0.05, description="TTL jitter",
                                      continuous_update=False, style=style),
        "clients": widgets.IntSlider(value=16, min=1, max=64, description="clients",
                                     continuous_update=False, style=style),
        "operations": widgets.IntSlider(value=1000, min=200, max=5000, step=200, description="operations",
                                        continuous_update=False, style=style),
    }
    output = widgets.Output()

    def redraw(_change=None) -> None:
        spec = MixSpec(seed=seed, **{name: control.value for name, control in controls.items()})
        rows = compare(spec)
        with output:
            output.clear_output(wait=True)
            print(format_comparison(rows))
            figure = pattern_panels(rows)
            display(figure)
            plt.close(figure)

    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HTML("<b>Run live to explore:</b> each change reruns every pattern."),
                         *controls.values(), output])
