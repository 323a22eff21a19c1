"""The course around the library: the notebook series, its widget panels and its plots.

    chapters   the chapters in order, their navigation bars, `course open|nav|build`
    widgets    the "run live to explore" panels (ipywidgets) over the experiments
    plots      the matplotlib figures the notebooks and panels draw
"""
