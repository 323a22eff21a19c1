"""The course around the library: the notebook series, its widget panels and its plots.

    chapters   the chapters in order, their navigation bars, `course open|nav|build`
    widgets    the "run live to explore" panels (ipywidgets) over the experiments
    plots      the matplotlib figures the notebooks and panels draw
    banner     show_backends(): each notebook's first output names the backends it runs on
"""

from .banner import backends_line, show_backends

__all__ = ["backends_line", "show_backends"]
