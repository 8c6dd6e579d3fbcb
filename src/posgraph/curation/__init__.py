"""Curators' use cases: read and validate RDF files, load them as accepted batches with provenance, write directly
(admins), and review batches (submit, accept, reject, revert).

- ``intake``: reading files and client bodies, the prepared batch that worker processes hand back, validation (alone
  or in the context of the live graph).
- ``provenance``: a batch's quads and PROV-O description, and the change records that version the dataset.
- ``loading``: ``posgraph load`` (one transaction), the bulk load, the ontology and seed of a new store.
- ``writes``: SPARQL Update and Graph Store writes, and what they refuse.
- ``records``: batch records in the staging store, merged with the public store's state.
- ``amendments``: corrections a batch carries (retractions, merges): their checks, and how accepting applies them
  and reverting undoes them.
- ``review``: submit, accept, reject, revert — and who may decide each (the one place roles are checked).
- ``forms``: the workbench's entry forms read from the shapes and ontology, and the IRIs it mints from labels.
- ``summary``: a batch in words for its reviewer, with what each sentence links to, labelled.
"""

from posgraph.curation.amendments import (
    Amendments,
    ledger_graphs,
    may_amend,
    split_amendments,
    validate_amended,
    validate_batch,
)
from posgraph.curation.forms import form_spec
from posgraph.curation.intake import (
    ParsedFile,
    PreparedBatch,
    context_ntriples,
    fetch_context,
    json_ld_context,
    parse_body,
    prepare_body,
    prepare_ntriples,
    prepare_quads,
    read_files,
    turtle_from_ntriples,
    validate_body,
    validate_files,
    validate_in_context,
    validate_ntriples,
    validate_prepared,
)
from posgraph.curation.loading import (
    SEED_BATCH_ID,
    LoadResult,
    bulk_build_store,
    bulk_load,
    ensure_bootstrapped,
    load_batch,
    load_files,
    record_bulk_batch,
)
from posgraph.curation.minting import MINT_RULE, mint_iri, unique_iri
from posgraph.curation.provenance import batch_quads, change_triples, publication_body
from posgraph.curation.records import (
    batch_triples,
    batches_about,
    find_batch_by_hash,
    get_batch,
    list_batches,
    staging_graph,
)
from posgraph.curation.review import (
    accept_batch,
    may_accept,
    may_reject,
    may_revert,
    may_submit,
    permissions,
    reject_batch,
    revert_batch,
    revert_preview,
    submit_batch,
)
from posgraph.curation.summary import batch_summary
from posgraph.curation.writes import delete_graph, run_update, write_graph

__all__ = [
    "ParsedFile",
    "LoadResult",
    "read_files",
    "validate_files",
    "load_batch",
    "load_files",
    "ensure_bootstrapped",
    "SEED_BATCH_ID",
    "parse_body",
    "run_update",
    "write_graph",
    "delete_graph",
    "staging_graph",
    "fetch_context",
    "validate_in_context",
    "submit_batch",
    "list_batches",
    "get_batch",
    "batch_triples",
    "accept_batch",
    "reject_batch",
    "revert_preview",
    "revert_batch",
    # also used by the API, the CLI and benchmarks
    "PreparedBatch",
    "prepare_body",
    "prepare_ntriples",
    "prepare_quads",
    "validate_prepared",
    "validate_body",
    "validate_ntriples",
    "context_ntriples",
    "turtle_from_ntriples",
    "json_ld_context",
    "bulk_build_store",
    "record_bulk_batch",
    "bulk_load",
    "find_batch_by_hash",
    "batch_quads",
    "change_triples",
    "publication_body",
    "may_accept",
    "may_reject",
    "may_revert",
    "may_submit",
    "permissions",
    # the workbench: a batch in words, an entity's batches
    "batch_summary",
    "batches_about",
    # corrections through review (amendments)
    "Amendments",
    "may_amend",
    "split_amendments",
    "validate_amended",
    "validate_batch",
    "ledger_graphs",
    # the workbench's forms (from the shapes) and the IRIs it mints
    "form_spec",
    "mint_iri",
    "unique_iri",
    "MINT_RULE",
]
