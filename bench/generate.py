"""A deterministic generator of synthetic negotiation graphs in the posgraph ontology, for benchmarks.

Every entity it writes conforms to the shapes (tests check a sample), so benchmarks validate and query data
shaped like the real thing: parties, people with roles, media, sources, rounds, and positions with terms,
quantities, conditions and supersession chains.

    python -m bench.generate 100000 > graph.nt
"""

from __future__ import annotations

import random
import sys
from datetime import date as _date_cls
from datetime import timedelta
from typing import Iterator, TextIO

PG = "https://w3id.org/posgraph/ns#"
PGI = "https://w3id.org/posgraph/issue/"
ID = "https://w3id.org/posgraph/id/"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
SKOS = "http://www.w3.org/2004/02/skos/core#"
SCHEMA = "https://schema.org/"
XSD = "http://www.w3.org/2001/XMLSchema#"

_EPOCH = _date_cls(2022, 1, 1)
MOVES = ("Demand", "Offer", "Proposal", "Statement")
ISSUES = {  # issue -> (term class, its required statements)
    "territory": (
        "TerritorialTerm",
        lambda r: [(PG + "wording", '"more territory"@en'), (PG + "regionScope", f"<{PG}unspecifiedScope>")],
    ),
    "armed-forces-size": ("ArmedForcesTerm", lambda r: [(PG + "quantityKind", f"<{PG}personnel>")]),
    "ceasefire": (
        "CeasefireTerm",
        lambda r: [(PG + "unconditional", f'"{str(r.random() < 0.5).lower()}"^^<{XSD}boolean>')],
    ),
    "prisoner-exchange": ("PrisonerExchangeTerm", lambda r: [(PG + "exchangeOf", f"<{PG}prisonersOfWar>")]),
    "sanctions": ("SanctionsTerm", lambda r: [(PG + "sanctionsTarget", '"trading partners"@en')]),
    "language-identity": (
        "LanguageTerm",
        lambda r: [(PG + "language", f'"ru"^^<{XSD}language>'), (PG + "languageStatus", f"<{PG}officialLanguage>")],
    ),
}


def _iri(value: str) -> str:
    return f"<{value}>"


def _date(r: random.Random) -> str:
    return f'"20{r.randint(22, 25)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"^^<{XSD}date>'


class Generator:
    """Writes N-Triples lines; ``prefix`` keeps the IRIs of separate runs (store vs. batch) apart."""

    def __init__(
        self, seed: int = 1, prefix: str = "bench", parties: int = 40, people: int = 200, sources: int = 2000
    ) -> None:
        self.r = random.Random(seed)
        self.prefix = prefix
        self.n_parties, self.n_people, self.n_sources = parties, people, sources
        self._bnode = 0
        self.triples = 0

    def party(self, i: int) -> str:
        return _iri(f"{ID}party/bench-{i}")

    def source(self, i: int) -> str:
        return _iri(f"{ID}source/bench-{i}")

    def person(self, i: int) -> str:
        return _iri(f"{ID}person/bench-{i}")

    def _t(self, s: str, p: str, o: str) -> str:
        self.triples += 1
        return f"{s} <{p}> {o} .\n"

    def _b(self) -> str:
        self._bnode += 1
        return f"_:{self.prefix}b{self._bnode}"

    def actors(self) -> Iterator[str]:
        """Parties, people with roles, one media organisation, and sources."""
        t = self._t
        for i in range(self.n_parties):
            s = self.party(i)
            yield t(s, RDF_TYPE, _iri(PG + "Party"))
            yield t(s, RDF_TYPE, _iri(PG + "State"))
            yield t(s, SKOS + "prefLabel", f'"Party {i}"@en')
            yield t(s, PG + "wikidata", _iri(f"http://www.wikidata.org/entity/Q{1000 + i}"))
        for i in range(self.n_people):
            s, role = self.person(i), self._b()
            yield t(s, RDF_TYPE, _iri(PG + "Person"))
            yield t(s, SKOS + "prefLabel", f'"Person {i}"@en')
            yield t(s, PG + "holdsRole", role)
            yield t(role, RDF_TYPE, _iri(PG + "Role"))
            yield t(role, PG + "roleTitle", '"Negotiator"@en')
            yield t(role, PG + "roleFor", self.party(i % self.n_parties))
        media = _iri(f"{ID}org/bench-wire")
        yield t(media, RDF_TYPE, _iri(PG + "MediaOrganization"))
        yield t(media, SKOS + "prefLabel", '"Bench Wire"@en')
        for i in range(self.n_sources):
            s = self.source(i)
            yield t(s, RDF_TYPE, _iri(PG + "Source"))
            yield t(s, SCHEMA + "headline", f'"Synthetic report {i}"@en')
            yield t(s, SCHEMA + "publisher", media)
            yield t(s, SCHEMA + "datePublished", _date(self.r))

    def positions(self, count: int, start: int = 0) -> Iterator[str]:
        """``count`` positions; about a third supersede the party's previous position on the same issue."""
        t, r = self._t, self.r
        latest: dict[tuple[int, str], tuple[str, str]] = {}
        for i in range(start, start + count):
            s = _iri(f"{ID}position/{self.prefix}-{i}")
            party = r.randrange(self.n_parties)
            issue = r.choice(list(ISSUES))
            # Thirty positions a day from 2022: later positions are never dated before what they supersede.
            date = f'"{(_EPOCH + timedelta(days=i // 30)).isoformat()}"^^<{XSD}date>'
            yield t(s, RDF_TYPE, _iri(PG + r.choice(MOVES)))
            yield t(s, PG + "heldBy", self.party(party))
            yield t(s, PG + "addressedTo", self.party((party + 1) % self.n_parties))
            yield t(s, PG + "statedBy", self.person(r.randrange(self.n_people)))
            yield t(s, PG + "statedOn", date)
            yield t(s, PG + "concerns", _iri(PGI + issue))
            yield t(s, PG + "source", self.source(r.randrange(self.n_sources)))
            yield t(s, PG + "summary", f'"Synthetic position {i} on {issue}"@en')
            cls, extra = ISSUES[issue]
            term = self._b()
            yield t(s, PG + "hasTerm", term)
            yield t(term, RDF_TYPE, _iri(PG + cls))
            yield t(term, PG + "obligatedParty", self.party((party + 1) % self.n_parties))
            for p, o in extra(r):
                yield t(term, p, o)
            if cls == "ArmedForcesTerm":
                quantity = self._b()
                yield t(term, PG + "quantity", quantity)
                yield t(quantity, RDF_TYPE, _iri(PG + "Quantity"))
                yield t(quantity, PG + "value", f'"{r.randrange(50, 250) * 1000}"^^<{XSD}integer>')
            previous = latest.get((party, issue))
            if previous is not None and r.random() < 0.6:
                yield t(s, PG + "supersedes", previous[0])
                yield t(s, PG + "changeType", _iri(PG + r.choice(("reiterated", "hardened", "softened"))))
            if r.random() < 0.1:
                condition = self._b()
                yield t(s, PG + "hasCondition", condition)
                yield t(condition, RDF_TYPE, _iri(PG + "Condition"))
                yield t(condition, PG + "conditionType", _iri(PG + "precondition"))
                yield t(condition, PG + "requires", term)
            latest[(party, issue)] = (s, date)


def write_graph(out: TextIO, triples: int, seed: int = 1) -> int:
    """Write about ``triples`` triples (actors, then positions) and return how many were written."""
    gen = Generator(seed)
    for line in gen.actors():
        out.write(line)
    i = 0
    while gen.triples < triples:
        for line in gen.positions(1000, start=i):
            out.write(line)
        i += 1000
    return gen.triples


if __name__ == "__main__":
    written = write_graph(sys.stdout, int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
    print(f"{written} triples", file=sys.stderr)
