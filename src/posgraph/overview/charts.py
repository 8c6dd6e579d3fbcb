"""Vega-Lite specs of the timeline and the gap matrix, built from their view models, and their rendering to SVG and
PNG with vl-convert (no browser). Rendering runs V8: call ``render_svg``/``render_png`` through a worker pool,
never on the event loop. Every chart carries a caption naming the data version and the sources behind it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Callable
from urllib.parse import urlencode, urlsplit

from posgraph.namespaces import compact_iri
from posgraph.overview.gaps import RELATIONS, GapMatrix
from posgraph.overview.timeline import Timeline, period

__all__ = ["Caption", "timeline_spec", "gaps_spec", "render_svg", "render_png", "SHAPES", "RELATION_COLOURS"]

_SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"  # the major version npm installs for the browser
# Shape by kind of move; kinds not named here (a newer subclass) take Vega-Lite's next shape.
SHAPES = {
    "Demand": "triangle-up",
    "Offer": "circle",
    "Proposal": "triangle-right",
    "Concession": "triangle-left",
    "Acceptance": "square",
    "Rejection": "cross",
    "Threat": "triangle-down",
    "Agreement": "diamond",
    "Statement": "M-1,-0.35H1V0.35H-1Z",  # a bar: Vega takes an SVG path as a shape
}
RELATION_COLOURS = {
    "meet": "#1a9850",
    "partly": "#a6d96a",
    "open": "#fee08b",
    "collide": "#d73027",
    "no-position": "#e0e0e0",
}
_MAX_SOURCES = 4
Link = Callable[[str], str]


@dataclass(frozen=True)
class Caption:
    """What a chart's caption names: the data version, and the URL of the page the chart shows."""

    version: str
    url: str = ""


def _href(link: Link, iri: str) -> str | None:
    target = link(iri)
    return target if urlsplit(target).scheme.lower() in ("http", "https") else None


def _sources_line(sources: tuple[str, ...]) -> str:
    if not sources:
        return "Sources: none recorded for these marks."
    shown = ", ".join(compact_iri(s) for s in sources[:_MAX_SOURCES])
    more = f" and {len(sources) - _MAX_SOURCES} more" if len(sources) > _MAX_SOURCES else ""
    return f"Sources: {shown}{more} (each mark's page lists its own)."


def _subtitle(caption: Caption, sources: tuple[str, ...], *lines: str) -> list[str]:
    head = f"posgraph data version {caption.version}"
    return [line for line in (head + (f" · {caption.url}" if caption.url else ""), *lines, _sources_line(sources))]


def _midpoint(first: str, last: str) -> str:
    a, b = date.fromisoformat(first), date.fromisoformat(last)
    return (a + (b - a) / 2).isoformat()


def _day_after(day: str) -> str:
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


def timeline_spec(timeline: Timeline, caption: Caption, link: Link) -> dict:
    """Return the Vega-Lite spec of ``timeline``: a lane per issue, a point per position (colour party, shape
    kind, link to its page through ``link``), its date's whole period as a bar, supersession as dashed lines,
    events as rules and the "as of" date as a red rule."""
    lane_of = {lane.issue: lane.label for lane in timeline.lanes}
    marks = []
    at: dict[tuple[str, str], str] = {}
    for m in timeline.marks:
        point = _midpoint(m.first, m.last)
        at[(m.issue, m.position)] = point
        marks.append(
            {
                "position": m.position,
                "href": _href(link, m.position),
                "party": m.party_label,
                "issue": lane_of[m.issue],
                "kind": m.kind_label,
                "stated": m.stated,
                "precision": m.precision,
                "start": m.first,
                "end": _day_after(m.last),
                "at": point,
                "summary": m.summary,
                "inForce": "yes" if m.in_force else "no" if m.in_force is False else "",
                "faded": m.in_force is False,
            }
        )
    links = [
        {"issue": lane_of[k.issue], "from": at[(k.issue, k.older)], "to": at[(k.issue, k.newer)]}
        for k in timeline.links
        if (k.issue, k.older) in at and (k.issue, k.newer) in at
    ]
    events = [
        {
            "event": e.label,
            "start": e.first,
            "end": _day_after(e.last),
            "round": "round" if e.round else "event",
            "stated": e.stated,
        }
        for e in timeline.events
    ]
    kinds = sorted({m["kind"] for m in marks})
    shape_scale = {"domain": kinds, "range": [SHAPES.get(k, "circle") for k in kinds]} if kinds else {}
    y = {"field": "issue", "type": "nominal", "title": None, "sort": [lane.label for lane in timeline.lanes]}
    x = {"field": "start", "type": "temporal", "title": "Date stated (a bar: the whole month or year)"}
    # Screen readers get the marks that carry a position (each labelled from its encodings); the spans, links, rules
    # and labels only draw what those marks and the tables below the chart already say.
    layers: list[dict] = [
        {
            "data": {"values": events},
            "mark": {"type": "rule", "color": "#888", "strokeDash": [2, 2], "aria": False},
            "encoding": {
                "x": {"field": "start", "type": "temporal"},
                "tooltip": [{"field": "event", "title": "Event"}, {"field": "stated", "title": "Date"}],
            },
        },
        {
            "data": {"values": [m for m in marks if m["precision"] != "day"]},
            "mark": {"type": "bar", "opacity": 0.25, "height": 8, "aria": False},
            "encoding": {"x": x, "x2": {"field": "end"}, "y": y, "color": {"field": "party", "type": "nominal"}},
        },
        {
            "data": {"values": links},
            "mark": {"type": "rule", "color": "#555", "strokeDash": [4, 3], "aria": False},
            "encoding": {"x": {"field": "from", "type": "temporal"}, "x2": {"field": "to"}, "y": y},
        },
        {
            "data": {"values": marks},
            "mark": {"type": "point", "filled": True, "size": 110, "cursor": "pointer"},
            "encoding": {
                "x": {"field": "at", "type": "temporal"},
                "y": y,
                "color": {"field": "party", "type": "nominal", "title": "Party"},
                "shape": {"field": "kind", "type": "nominal", "title": "Kind", "scale": shape_scale},
                "opacity": {"condition": {"test": "datum.faded", "value": 0.3}, "value": 1},
                "href": {"field": "href"},
                "tooltip": [
                    {"field": "party", "title": "Party"},
                    {"field": "kind", "title": "Kind"},
                    {"field": "stated", "title": "Stated"},
                    {"field": "summary", "title": "Summary"},
                    {"field": "inForce", "title": "In force"},
                ],
            },
        },
    ]
    if timeline.as_of:
        _, last, _ = period(timeline.as_of)
        layers.append(
            {
                "data": {"values": [{"asOf": last, "label": f"as of {timeline.as_of}"}]},
                "mark": {"type": "rule", "color": "#c00", "strokeWidth": 2, "aria": False},
                "encoding": {"x": {"field": "asOf", "type": "temporal"}, "tooltip": [{"field": "label"}]},
            }
        )
    notes = [f"Faded marks are not in force on {timeline.as_of}." if timeline.as_of else ""]
    if timeline.truncated:
        notes.append("Only the most recent positions are drawn: narrow the filters or the period to see earlier ones.")
    return {
        "$schema": _SCHEMA,
        "title": {
            "text": "Positions over time",
            "subtitle": _subtitle(caption, timeline.sources, *(n for n in notes if n)),
            "anchor": "start",
        },
        "width": 760,
        "height": {"step": 34},
        "layer": layers,
        "config": {"font": "sans-serif"},
    }


def gaps_spec(matrix: GapMatrix, caption: Caption, link: Link) -> dict:
    """Return the Vega-Lite spec of ``matrix``: a cell per party and issue, coloured by the issue's relation,
    with the party's latest position in a few words; a cell links (through ``link``) to the issue's history."""
    labels = dict(matrix.parties)
    cells = []
    for row in matrix.rows:
        history = "/timeline?" + urlencode([("issue", row.issue), *(("party", p) for p, _ in matrix.parties)])
        for cell in row.cells:
            latest = cell.positions[0] if cell.positions else None
            words = f"{latest.kind}: {latest.words}" if latest else "no position"
            cells.append(
                {
                    "issue": row.label,
                    "party": labels[cell.party],
                    "relation": row.relation,
                    "words": words if len(words) <= 40 else words[:39] + "…",
                    "full": f"{latest.kind}, {latest.stated}: {latest.summary}" if latest else "no position",
                    "href": _href(link, history),
                }
            )
    y = {"field": "issue", "type": "nominal", "title": None, "sort": [r.label for r in matrix.rows]}
    x = {
        "field": "party",
        "type": "nominal",
        "title": None,
        "axis": {"orient": "top", "labelAngle": 0},
        "sort": [label for _, label in matrix.parties],
    }
    return {
        "$schema": _SCHEMA,
        "title": {
            "text": f"Where the parties stand, as of {matrix.as_of or 'today'}",
            "subtitle": _subtitle(caption, matrix.sources),
            "anchor": "start",
        },
        "data": {"values": cells},
        "width": {"step": 260},
        "height": {"step": 34},
        "encoding": {"x": x, "y": y},
        "layer": [
            {
                "mark": {"type": "rect", "stroke": "white", "cursor": "pointer"},
                "encoding": {
                    "color": {
                        "field": "relation",
                        "type": "nominal",
                        "title": "Relation",
                        "scale": {"domain": list(RELATIONS), "range": [RELATION_COLOURS[r] for r in RELATIONS]},
                    },
                    "href": {"field": "href"},
                    "tooltip": [{"field": "party"}, {"field": "relation"}, {"field": "full", "title": "Position"}],
                },
            },
            {
                "mark": {"type": "text", "fontSize": 10, "limit": 250, "aria": False},
                "encoding": {"text": {"field": "words"}},
            },
        ],
        "config": {"font": "sans-serif"},
    }


def render_svg(spec: dict) -> str:
    """Return the chart of ``spec`` as SVG text. Raises ValueError when vl-convert cannot render it."""
    import vl_convert  # V8 starts on first use: only in the worker processes that render

    return vl_convert.vegalite_to_svg(spec, vl_version=_version(vl_convert))


def render_png(spec: dict) -> bytes:
    """Return the chart of ``spec`` as PNG bytes at twice the CSS pixel size (for print). Raises ValueError."""
    import vl_convert

    return vl_convert.vegalite_to_png(spec, vl_version=_version(vl_convert), scale=2)


def _version(vl_convert) -> str:
    """The newest Vega-Lite vl-convert bundles (of the spec's major version, as the browser renders it)."""
    return [v for v in vl_convert.get_vegalite_versions() if v.startswith("6.")][-1]
