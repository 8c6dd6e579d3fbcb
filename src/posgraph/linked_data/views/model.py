"""The data classes readable pages are built from: references, literals, and the view of one page."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

__all__ = [
    "Value",
    "Ref",
    "Lit",
    "Detail",
    "QuantityView",
    "ConditionView",
    "TermView",
    "ReportView",
    "SourceItem",
    "PositionItem",
    "Step",
    "VersionItem",
    "PageView",
]


# ------------------------------------------------------------------------------------------ data classes
@dataclass(frozen=True)
class Ref:
    """A resource a page names: its IRI and the best label known for it (its compact IRI when none)."""

    iri: str
    label: str


@dataclass(frozen=True)
class Lit:
    """A literal as stored: lexical form, datatype IRI (None for a plain or language string) and language."""

    text: str
    datatype: str | None = None
    language: str | None = None


Value = Union[Ref, Lit]


@dataclass(frozen=True)
class Detail:
    """One property of a node and its values, with the property's label from the ontology."""

    label: str
    values: tuple[Value, ...]


@dataclass(frozen=True)
class QuantityView:
    """A figure as a term states it: a value, a range or alternatives, with qualifier, unit and whose count."""

    values: tuple[Lit, ...] = ()
    minimum: Lit | None = None
    maximum: Lit | None = None
    alternatives: tuple[Lit, ...] = ()
    qualifier: Ref | None = None
    distribution: Ref | None = None
    party: Ref | None = None
    kind: Ref | None = None
    unit: Ref | None = None
    according_to: tuple[Ref, ...] = ()


@dataclass(frozen=True)
class ConditionView:
    """A condition: its type, what it requires (terms, positions, events) and its wording."""

    kind: Ref | None
    requires: tuple[Ref, ...]
    wording: tuple[Lit, ...]
    according_to: tuple[Ref, ...] = ()


@dataclass(frozen=True)
class TermView:
    """A term in parts that read as words: who is to act, the action (and whether it is negated), the source's
    wording, other details (regions, alliance, dates …), figures and conditions."""

    iri: str | None
    kind: Ref | None
    action: Ref | None
    negative: bool
    obligated: tuple[Ref, ...]
    wording: tuple[Lit, ...]
    details: tuple[Detail, ...]
    quantities: tuple[QuantityView, ...]
    conditions: tuple[ConditionView, ...]
    according_to: tuple[Ref, ...] = ()


@dataclass(frozen=True)
class ReportView:
    """One source's account of a position."""

    source: Ref | None
    sourcing: Ref | None
    rank: Ref | None
    confidence: Lit | None
    via: tuple[Ref, ...]
    quotes: tuple[Lit, ...]
    summaries: tuple[Lit, ...]


@dataclass(frozen=True)
class SourceItem:
    """A source as a list shows it: title, publisher, date, syndication and where to read it."""

    ref: Ref
    publishers: tuple[Ref, ...]
    syndicated_from: tuple[Ref, ...]
    date: Lit | None
    urls: tuple[str, ...]


@dataclass(frozen=True)
class PositionItem:
    """A position as a list shows it: summary, kind, holders, date, issues and (where it matters) change type."""

    ref: Ref
    kinds: tuple[Ref, ...]
    holders: tuple[Ref, ...]
    addressees: tuple[Ref, ...]
    date: Lit | None
    issues: tuple[Ref, ...]
    change: Ref | None = None


@dataclass(frozen=True)
class Step:
    """A dated lifecycle step of a document version, or an event's participant role."""

    stage: Ref | None
    date: Lit | None
    by: tuple[Ref, ...]


@dataclass(frozen=True)
class VersionItem:
    """A document version: label, point count, lifecycle steps and the positions stated in it."""

    ref: Ref
    version_label: tuple[Lit, ...]
    point_count: Lit | None
    steps: tuple[Step, ...]
    revises: tuple[Ref, ...]
    positions: tuple[PositionItem, ...]


@dataclass
class PageView:
    """Everything a readable page shows. ``kind`` names the page (position, party, person, issue, event, source,
    document or resource); ``facts`` are labelled values for the page's head; the lists are the kind's own
    (empty where they do not apply); ``capped`` names the lists cut at ``LIST_CAP``."""

    kind: str
    iri: str
    title: str
    types: tuple[Ref, ...] = ()
    description: tuple[Lit, ...] = ()
    facts: list[Detail] = field(default_factory=list)
    # position
    holders: tuple[Ref, ...] = ()
    addressees: tuple[Ref, ...] = ()
    date: Lit | None = None
    date_notes: tuple[Lit, ...] = ()
    terms: tuple[TermView, ...] = ()
    conditions: tuple[ConditionView, ...] = ()
    supersedes: tuple[PositionItem, ...] = ()
    superseded_by: tuple[PositionItem, ...] = ()
    responds_to: tuple[PositionItem, ...] = ()
    responses: tuple[PositionItem, ...] = ()
    reports: tuple[ReportView, ...] = ()
    sources: tuple[SourceItem, ...] = ()
    quotes: tuple[Lit, ...] = ()
    stated_in: tuple[Ref, ...] = ()
    change: Ref | None = None
    issues: tuple[Ref, ...] = ()
    # party, person, issue, event, source, document
    people: tuple[tuple[Ref, tuple[Lit, ...]], ...] = ()
    bodies: tuple[Ref, ...] = ()
    by_issue: tuple[tuple[Ref, tuple[PositionItem, ...]], ...] = ()
    positions: tuple[PositionItem, ...] = ()
    delegates: tuple[Step, ...] = ()
    resulting: tuple[PositionItem, ...] = ()
    implements: tuple[PositionItem, ...] = ()
    quantities: tuple[QuantityView, ...] = ()
    events: tuple[Ref, ...] = ()
    versions: tuple[VersionItem, ...] = ()
    steps: tuple[Step, ...] = ()
    links: tuple[Detail, ...] = ()
    mentioned_by: tuple[Ref, ...] = ()
    capped: tuple[str, ...] = ()
