"""Read models: SQLite tables rebuilt from the ledger's events, and the queries over them.

* :mod:`projections.tables` — every table and column (the documented schema).
* :mod:`projections.catchup` — catch-up, rebuild and status (position tracking).
* :mod:`projections.query` — commitments, histories and logs as of T, on D,
  judged by :mod:`ledger.rules`.

Imports only :mod:`ledger`.
"""
