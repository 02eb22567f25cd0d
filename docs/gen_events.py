"""Write docs/events.md and docs/schemas/<Type>.json from the event classes.

python docs/gen_events.py           # regenerate
python docs/gen_events.py --check   # exit 1 if any file is stale (the test suite does this)
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))

from ledger.formats.schemas import (  # noqa: E402
    catalogue,
    line_schema,
    schema_text,
    schemas,
    subject_access_schema,
)


def expected() -> dict[Path, str]:
    """Every generated file and the text it should hold."""
    files = {
        DOCS / "events.md": catalogue(),
        DOCS / "schemas" / "export-line.json": schema_text(line_schema()),
        DOCS / "schemas" / "subject-access.json": schema_text(subject_access_schema()),
    }
    for name, schema in schemas().items():
        files[DOCS / "schemas" / f"{name}.json"] = schema_text(schema)
    return files


def stale() -> list[Path]:
    """Generated files that are missing or differ, plus schema files no event has."""
    files = expected()
    out = [p for p, text in files.items() if not p.exists() or p.read_text("utf-8") != text]
    out += [p for p in (DOCS / "schemas").glob("*.json") if p not in files]
    return out


def main(argv: list[str]) -> int:
    if "--check" in argv:
        bad = stale()
        for path in bad:
            print(f"stale: {path.relative_to(DOCS.parent)}", file=sys.stderr)
        if bad:
            print("run: python docs/gen_events.py", file=sys.stderr)
        return 1 if bad else 0
    (DOCS / "schemas").mkdir(exist_ok=True)
    files = expected()
    for path in (DOCS / "schemas").glob("*.json"):
        if path not in files:
            path.unlink()
    for path, text in files.items():
        path.write_text(text, "utf-8")
    print(f"wrote {len(files)} files", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
