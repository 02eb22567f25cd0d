"""The ``commitments`` command line: a thin click layer over the ledger and its projections."""
