"""The file formats the ledger reads and writes, apart from its domain.

* :mod:`.activity_csv`: CRM activity CSV, each cell checked as the commands check it;
* :mod:`.roster_csv`: the roster CSV of ``people import``;
* :mod:`.jsonl`: the hash-chained JSON Lines export, one line at a time;
* :mod:`.upgrade`: an export written before the people registry, brought to today's shape;
* :mod:`.schemas`: JSON Schemas of the export's events and the event catalogue.

What an import then does with the rows or lines (one transaction, all or
nothing) stays with the store: :mod:`ledger.activity_import`, :mod:`ledger.audit`.
"""
