"""``commitments serve`` and ``commitments access``: the ledger over HTTP, with
identities and scopes (SPEC §7.5).

| module | holds |
|---|---|
| ``policy`` | who may do what: the one table of role × action × relation to the person |
| ``access`` | the access store (grants as token hashes) and the append-only access log |
| ``api`` | the JSON API's endpoints: one line per read or write, built from the CLI's functions |
| ``app`` | the ASGI application: authentication, the access log, errors as JSON |
| ``web`` | the pages: login cookie, CSRF, the pages of the cycle, its forms |
| ``forms`` | the forms: which fields of each command model, browser values to model values |
| ``command`` | the click commands ``serve`` and ``access grant|revoke|list|log`` |

Nothing here is imported until one of those commands runs (this file imports
nothing), so the other commands do not pay for FastAPI.
"""
