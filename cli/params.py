"""Click parameter types shared by the commands."""

from __future__ import annotations

import click

from ledger.text import name_problem


class PersonName(click.ParamType):
    """A person id as a read command takes it: trimmed; control characters and
    undecodable bytes are refused (exit 2) before any lookup, as the write
    commands refuse them, since no such name can be in the ledger."""

    name = "name"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> str:
        text = str(value).strip()
        problem = name_problem(text)
        if problem:
            self.fail(problem, param, ctx)
        return text


PERSON = PersonName()
