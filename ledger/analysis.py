"""Analysis copies of the export (SPEC §7.4): decrypted or pseudonymised.

``commitments export`` writes the stored events unchanged: personal fields as
ciphertext, so the hash chain, checkpoints and the import round trip hold and
an export alone reveals no names. For analysis there are two other shapes,
both marked as copies by their first line and refused by ``import`` (exit 2):

* ``--decrypt``: every sealed value opened with the key store (a destroyed
  key: a name reads ``erased:<8 hex>``, a text ``[erased]``);
* ``--pseudonymise``: every person reference (a subject id, or a free-string
  name of a ledger written before the registry) becomes a stable pseudonym
  ``p-<first 8 hex of the subject id>``, every free text ``[withheld]``.

Each event line keeps the export's shape (``position``, ``stream``,
``version``, ``type``, ``recorded_at``, ``data``, ``prev``, ``hash``); ``prev``
and ``hash`` are the stored event's, which cover the *stored* data, so a line
of a copy can be traced to the event it came from but does not verify.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .audit import records
from .formats.jsonl import ZERO_HASH, chain, header, line_of
from .keys import (
    WITHHELD_TEXT,
    KeyStore,
    erased_name,
    is_sealed,
    pseudonym,
    sealed_subject,
)
from .persistence import canonical
from .sealing import FREE_TEXT_BY_TOPIC, as_subject

KINDS = ("decrypted", "pseudonymised")
PERSON_FIELDS = frozenset({"rep", "manager", "actor", "by", "subject", "person", "replier"})
"""Fields that refer to a person (by subject id, or by name before the registry)."""
NAME_FIELDS = frozenset({"name", "new_name", "old_name"})
"""Fields holding a person's own name (sealed under their key)."""


def _decrypt(store: KeyStore, key: str, value: Any) -> Any:
    if isinstance(value, str) and is_sealed(value):
        opened = store.open_text(value)
        if key in NAME_FIELDS and store.key(sealed_subject(value)) is None:
            return erased_name(sealed_subject(value))
        return opened
    if isinstance(value, list):
        return [_decrypt(store, key, v) for v in value]
    if isinstance(value, dict):
        return {k: _decrypt(store, k, v) for k, v in value.items()}
    return value


def decrypt_data(store: KeyStore, data: dict[str, Any]) -> dict[str, Any]:
    return {k: _decrypt(store, k, v) for k, v in data.items()}


def pseudonymise_data(topic: str, data: dict[str, Any]) -> dict[str, Any]:
    """Names -> ``p-<8 hex>``, free text -> ``[withheld]``."""
    free = FREE_TEXT_BY_TOPIC.get(topic, ())
    out: dict[str, Any] = {}
    for k, v in data.items():
        if v is None:
            out[k] = v
        elif k in free:
            out[k] = WITHHELD_TEXT
        elif k in NAME_FIELDS and isinstance(v, str):
            out[k] = pseudonym(sealed_subject(v)) if is_sealed(v) else WITHHELD_TEXT
        elif k in PERSON_FIELDS and isinstance(v, str):
            subject = as_subject(v)
            out[k] = pseudonym(subject) if subject is not None else WITHHELD_TEXT
        elif isinstance(v, str) and is_sealed(v):
            out[k] = WITHHELD_TEXT
        else:
            out[k] = v
    return out


def analysis_lines(ledger: Any, kind: str, store: KeyStore | None = None) -> Iterator[str]:
    """The analysis copy of the whole ledger, its header line first."""
    if kind not in KINDS:
        raise ValueError(f"an analysis copy is {' or '.join(KINDS)}, not {kind!r}")
    yield header(kind)
    prev = ZERO_HASH
    for record, _body, digest in chain(records(ledger)):
        if kind == "decrypted":
            assert store is not None
            data = decrypt_data(store, record.data)
        else:
            data = pseudonymise_data(record.type, record.data)
        body = canonical(
            {
                "data": data,
                "prev": prev,
                "recorded_at": record.recorded_at,
                "stream": record.stream,
                "type": record.type,
                "version": record.version,
            }
        )
        yield line_of(record.position, body, digest)
        prev = digest
