"""Pydantic's validation errors in Parallax's words: which setting, what is wrong with it, what would be valid."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic_core import ErrorDetails


def problem(error: ErrorDetails, name: str, valid: Iterable[str]) -> str:
    """One error about the setting `name` (of a table whose settings are `valid`), as a phrase."""
    kind, value = error["type"], error.get("input")
    if kind in ("missing", "string_too_short"):  # an empty required text is as good as missing
        return f"needs a {name}"
    if kind == "extra_forbidden":
        return f"unknown setting {name!r}; valid settings: {', '.join(valid)}"
    if kind == "literal_error":
        return f"{name} = {value!r}; use one of {str(error.get('ctx', {}).get('expected')).replace(chr(39), '')}"
    message = str(error["msg"]).removeprefix("Value error, ")
    # A key pasted where its variable's name belongs, a password in an address: stays unsaid.
    shown = "…" if "key" in name or error.get("ctx", {}).get("hide_value") else repr(value)
    return f"{f'{name} = {shown}' if name else 'must be a table'}: {message[:1].lower()}{message[1:]}"
