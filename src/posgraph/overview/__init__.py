"""Overviews for people: the timeline of positions and the gap matrix between parties, as view models built from
the saved queries' rows, and as Vega-Lite charts (rendered to SVG and PNG in a worker process)."""

from posgraph.overview.charts import Caption, gaps_spec, render_png, render_svg, timeline_spec
from posgraph.overview.gaps import RELATIONS, GapMatrix, build_gaps, load_gaps
from posgraph.overview.timeline import (
    PAGE,
    TIMELINE_PAGE,
    Filters,
    Timeline,
    build_timeline,
    load_choices,
    load_timeline,
    period,
)

__all__ = [
    "PAGE",
    "TIMELINE_PAGE",
    "Caption",
    "Filters",
    "GapMatrix",
    "RELATIONS",
    "Timeline",
    "build_gaps",
    "build_timeline",
    "gaps_spec",
    "load_choices",
    "load_gaps",
    "load_timeline",
    "period",
    "render_png",
    "render_svg",
    "timeline_spec",
]
