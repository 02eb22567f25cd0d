"""Click parameter types shared by the commands."""

from __future__ import annotations

from typing import Any

import click

from ledger.text import SURROGATE


class PersonName(click.ParamType):
    """A person id as a read command takes it: trimmed; undecodable bytes of
    argv (lone surrogates) are refused (exit 2) before any lookup, since no
    stored name can hold them and the store cannot even be asked for them.
    Other odd names are looked up and, unknown, answered with exit 3."""

    name = "name"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> str:
        text = str(value).strip()
        if SURROGATE.search(text):
            self.fail(f"{text!r} is not valid text (undecodable bytes)", param, ctx)
        return text


PERSON = PersonName()


def format_option(*choices: str, help: str | None = None) -> Any:
    """``--format``: one of ``choices``, the first by default (the ``fmt`` parameter)."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(choices)),
        default=choices[0],
        show_default=True,
        help=help,
    )
