"""docs/modelling.md: every ```turtle block parses and validates offline as the guide says it does.

A block's leading comment lines may say ``# with: seed, NAME …`` (validate it together with the seed data and with
the blocks marked ``# name: NAME``), ``# name: NAME``, and ``# invalid: pgsh:Shape`` (the block shows a mistake: it
must trip exactly that shape). A block carrying amendments (pg:Retraction, pg:Merge) is validated the way a batch
is: its additions and amendment nodes against the context as the amendments leave it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
import rdflib

from posgraph.config import PROJECT_FILES
from posgraph.curation.amendments import may_amend, split_amendments, validate_amended_ntriples
from posgraph.validation import ValidationReport, Validator

DOC = PROJECT_FILES.root / "docs" / "modelling.md"
SEED = "seed"

# Every point of issue #11 has its own heading in the guide.
REQUIRED_HEADINGS = [
    "The core: a position",
    "1. Reports and disputes",
    "How do I say how a source knows, how far I trust it, and which report I prefer?",
    "How do I say that two sources disagree on a figure, a region list or a duration?",
    "2. Documents and versions",
    "How do I say that a plan went through several versions, and record each version's lifecycle?",
    "How do I say that a position is stated in a document?",
    "How do I cite a government or a ministry as the publisher of a source?",
    "3. Quantities, durations and deadlines",
    "How do I say exactly, at least, about or up to — and per side or in total?",
    'How do I say a range, such as "36 to 72 hours" or "two to three days"?',
    'How do I say alternatives, such as "5 or 6 days", and the other qualifiers?',
    "How do I record other kinds of quantity, with units?",
    "How do I say a deadline or a time window, with the time of day and the time zone?",
    "4. Polarity, modality and partial answers",
    'How do I say "no limits on …", "will not recognise" or "not obliged to …"?',
    "How do I say that something was accepted in principle?",
    "How do I say that a party accepted some terms and rejected others?",
    "How do I say that an acceptance is conditional?",
    "How do I say permanent neutrality without naming an alliance?",
    "How do I say that a term lapses if something happens?",
    "5. Wider vocabulary",
    "How do I say which issue a position concerns, with the issues added in 0.2?",
    "How do I use the actions added in 0.2?",
    "How do I say what a ceasefire covers?",
    "How do I say a security guarantee, and how strong it is?",
    "How do I say who was in a delegation, and who led it?",
    "How do I say that an exchange was carried out, with counts per side?",
    "How do I say that an ultimatum lapsed?",
    "6. Places",
    "How do I name a place, and what does the gazetteer hold?",
    "How do I add a place in a batch?",
    "7. Corrections through review",
    "How do I replace a published value?",
    "How do I retract a statement?",
    "How do I merge two IRIs for the same thing?",
    "Migrating a 0.1 store",
]

# The pg: terms the guide must show in a validated block, one or more per point of #11.
REQUIRED_TERMS = [
    "pg:Report", "pg:sourcing", "pg:rank", "pg:confidence", "pg:accordingTo",
    "pg:Document", "pg:DocumentVersion", "pg:revises", "pg:lifecycleStep", "pg:statedIn", "pg:GovernmentBody",
    "pg:qualifier", "pg:minValue", "pg:alternativeValue", "pg:perSide", "pg:inTotal", "pg:unit",
    "pg:windowStart", "pg:deadline",
    "pg:polarity", "pg:inPrinciple", "pg:partialExtent", "pg:acceptsTerm", "pg:rejectsTerm",
    "pg:permanentNeutrality", "pg:resolutory",
    "pg:SecurityGuaranteeTerm", "pg:guaranteeStrength", "pg:Delegate", "pg:headOfDelegation",
    "pg:Implementation", "pg:forParty", "pg:outcomeStatus", "pg:lapsed",
    "pg:Place", "pg:iso3166_2", "pg:Retraction", "pg:Merge", "pg:unspecifiedSourcing",
]  # fmt: skip

_BLOCK = re.compile(r"^```turtle\n(.*?)^```", re.MULTILINE | re.DOTALL)
_HEADING = re.compile(r"^(#{2,3}) (.+?)\s*$", re.MULTILINE)
_MARKER = re.compile(r"^#\s*(with|name|invalid):\s*(.+?)\s*$")


@dataclass
class Block:
    """One ```turtle block: its text, where it starts, and what its leading comments say about it."""

    text: str
    line: int
    heading: str
    name: str | None = None
    uses: list[str] = field(default_factory=list)
    invalid: str | None = None

    @property
    def label(self) -> str:
        return f"line {self.line}: {self.name or self.heading}"


def read_blocks(markdown: str) -> list[Block]:
    """Every ```turtle block of ``markdown`` with its markers (leading ``# with:``/``# name:``/``# invalid:``)."""
    headings = [(m.start(), m.group(2)) for m in _HEADING.finditer(markdown)]
    blocks = []
    for match in _BLOCK.finditer(markdown):
        heading = next((h for at, h in reversed(headings) if at < match.start()), "(top)")
        block = Block(match.group(1), markdown.count("\n", 0, match.start(1)) + 1, heading)
        for line in block.text.splitlines():
            marker = _MARKER.match(line.strip())
            if not line.startswith("#") or marker is None:
                break
            key, value = marker.groups()
            if key == "with":
                block.uses = [part.strip() for part in value.split(",") if part.strip()]
            elif key == "name":
                block.name = value
            else:
                block.invalid = value
        blocks.append(block)
    return blocks


BLOCKS = read_blocks(DOC.read_text(encoding="utf-8"))
NAMED = {b.name: b for b in BLOCKS if b.name}


def context_for(block: Block, named: dict[str, Block]) -> rdflib.Graph:
    """The graph a block is validated together with: the seed and the named blocks it uses, transitively.

    Raises KeyError for a name no block carries."""
    graph, seen, todo = rdflib.Graph(), set(), list(block.uses)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name == SEED:
            for path in PROJECT_FILES.seed_files:
                graph.parse(path, format="turtle")
        else:
            used = named[name]
            graph.parse(data=used.text, format="turtle")
            todo.extend(used.uses)
    return graph


def check_block(block: Block, validator: Validator, named: dict[str, Block]) -> tuple[ValidationReport, list[str]]:
    """Validate one block as the guide says (with its context; as an amending batch if it amends).

    Returns the report and the amendment problems (what posgraph would refuse before SHACL: a retraction of a
    triple the context does not hold, a merge of an IRI it does not describe …). Raises a parser error for a
    block that is not Turtle."""
    data = rdflib.Graph().parse(data=block.text, format="turtle")
    context = context_for(block, named)
    ntriples = data.serialize(format="nt", encoding="utf-8")
    if not may_amend(ntriples):
        merged = rdflib.Graph()
        for graph in (data, context):
            for triple in graph:
                merged.add(triple)
        return validator.validate(merged), []
    amendments = split_amendments(ntriples, block.label)
    problems = [r.line() for r in amendments.problems]
    for r in amendments.retractions:
        triple = rdflib.Graph().parse(data=f"{r.subject} {r.predicate} {r.object} .", format="nt")
        if not all(t in context for t in triple):
            problems.append(f"retracts {r.subject} {r.predicate} {r.object}, which the context does not hold")
    for m in amendments.merges:
        for iri in (m.merged_from, m.merged_into):
            if (rdflib.URIRef(iri), None, None) not in context:
                problems.append(f"merges {iri}, which the context does not describe")
    report, _ = validate_amended_ntriples(validator, amendments, (context.serialize(format="nt", encoding="utf-8"),))
    return report, problems


def failures(block: Block, validator: Validator, named: dict[str, Block]) -> list[str]:
    """What is wrong with ``block`` against what its markers promise; empty when it keeps its promise."""
    report, problems = check_block(block, validator, named)
    violations = [r for r in report.results if r.severity == "Violation"]
    if block.invalid is None:
        return problems + [r.line() for r in violations]
    shapes = {r.shape for r in violations}
    if shapes != {block.invalid}:
        return (
            problems
            + [f"expected violations of {block.invalid} only, got {sorted(shapes) or 'none'}"]
            + [r.line() for r in violations]
        )
    return problems


def test_the_guide_has_blocks_of_each_kind():
    assert len(BLOCKS) >= 25
    assert any(b.invalid for b in BLOCKS) and any(SEED in b.uses for b in BLOCKS)
    assert any(not b.uses and not b.invalid for b in BLOCKS), "at least one block stands on its own"
    names = [b.name for b in BLOCKS if b.name]
    assert len(names) == len(set(names)), "a block name is used twice"
    for block in BLOCKS:
        for used in block.uses:
            assert used == SEED or used in NAMED, f"{block.label} uses unknown block {used!r}"


def test_every_heading_of_issue_11_is_there():
    headings = {m.group(2) for m in _HEADING.finditer(DOC.read_text(encoding="utf-8"))}
    missing = [h for h in REQUIRED_HEADINGS if h not in headings]
    assert not missing, f"docs/modelling.md lacks the headings {missing}"


def test_every_how_do_i_section_shows_turtle():
    # Each "How do I …" section, the core and the migration section explain and then show a block.
    markdown = DOC.read_text(encoding="utf-8")
    starts = [(m.start(), m.group(2)) for m in _HEADING.finditer(markdown)] + [(len(markdown), "")]
    bare = [
        heading
        for (at, heading), (end, _) in zip(starts, starts[1:], strict=False)
        if (heading.startswith("How do I") or heading in ("The core: a position", "Migrating a 0.1 store"))
        and "```turtle\n" not in markdown[at:end]
    ]
    assert not bare, f"sections without a Turtle block: {bare}"


def test_every_point_of_issue_11_is_shown_in_a_valid_block():
    valid = "\n".join(b.text for b in BLOCKS if b.invalid is None)
    missing = [t for t in REQUIRED_TERMS if not re.search(re.escape(t) + r"\b", valid)]
    assert not missing, f"no valid block uses {missing}"


@pytest.mark.parametrize("block", BLOCKS, ids=[b.label for b in BLOCKS])
def test_block_validates_as_the_guide_says(block: Block, validator: Validator):
    found = failures(block, validator, NAMED)
    assert not found, "\n".join([block.label, *found])


def test_a_typo_in_a_block_fails(validator: Validator):
    # The check itself must be able to fail: the core example with one property misspelt, and with a syntax error.
    core = next(b for b in BLOCKS if not b.uses and not b.invalid and "pg:heldBy" in b.text)
    typo = Block(core.text.replace("pg:heldBy", "pg:heldby", 1), core.line, core.heading)
    found = failures(typo, validator, NAMED)
    assert any("pg:heldby" in line for line in found), found
    broken = Block(core.text.replace(" .\n", " \n", 1), core.line, core.heading)
    with pytest.raises(SyntaxError):
        failures(broken, validator, NAMED)


def test_an_invalid_block_that_trips_nothing_fails(validator: Validator):
    # An "# invalid:" promise is checked too: the core example, which is valid, cannot claim to trip a shape.
    core = next(b for b in BLOCKS if not b.uses and not b.invalid and "pg:heldBy" in b.text)
    claimed = Block(core.text, core.line, core.heading, invalid="pgsh:Position-heldBy")
    assert failures(claimed, validator, NAMED)


def test_an_amendment_of_unpublished_data_fails(validator: Validator):
    # A retraction names a triple the seed does not hold: refused, as the server refuses it.
    replace = next(b for b in BLOCKS if "pg:Retraction" in b.text and "pg:startDate" in b.text)
    wrong = Block(replace.text.replace('"2025-05"^^xsd:gYearMonth', '"2025-04"^^xsd:gYearMonth'), 0, "", uses=[SEED])
    assert any("does not hold" in line for line in failures(wrong, validator, NAMED))
