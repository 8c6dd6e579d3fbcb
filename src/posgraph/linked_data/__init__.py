"""Integrators' use cases: resources by IRI (framed JSON-LD and RDF), filtered and paged collections, the
dataset's version (for ETags), the change feed, and dumps — one module each."""

from posgraph.linked_data.changes import changes
from posgraph.linked_data.collection import COLLECTIONS, Collection, Page, collection_page, sparql_collection_page
from posgraph.linked_data.dumps import (
    DUMP_FORMATS,
    Dump,
    dump_file,
    export,
    export_to_file,
    iter_file,
    read_dump,
    write_dump,
)
from posgraph.linked_data.resources import (
    _CLOSURE,
    Summary,
    Version,
    dataset_summary,
    dataset_version,
    describe,
    frame,
    local_url,
    ontology_graph,
)

__all__ = [
    "Version",
    "dataset_version",
    "describe",
    "frame",
    "COLLECTIONS",
    "Collection",
    "Page",
    "collection_page",
    "sparql_collection_page",
    "changes",
    "Dump",
    "read_dump",
    "write_dump",
    "DUMP_FORMATS",
    "Summary",
    "dataset_summary",
    "dump_file",
    "iter_file",
    "export",
    "export_to_file",
    "local_url",
    "ontology_graph",
    "_CLOSURE",
]
from posgraph.linked_data.index import CollectionIndex
from posgraph.linked_data.views import LIST_CAP, PageView, page_view

__all__ += ["LIST_CAP", "PageView", "page_view", "CollectionIndex"]
