"""The commitment ledger: domain, application and errors.

This package imports nothing else of ours; ``projections`` and ``cli`` sit on
top of it.
"""
