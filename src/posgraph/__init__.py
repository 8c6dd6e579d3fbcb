"""posgraph: a knowledge graph of negotiation positions."""

__version__ = "0.1.0"
