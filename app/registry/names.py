"""Name checks that run before any user-given name becomes part of a path."""

from __future__ import annotations

import re

from app.errors import InvalidName

NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
_NAME = re.compile(NAME_PATTERN)


def is_valid_name(name: str) -> bool:
    return isinstance(name, str) and _NAME.fullmatch(name) is not None


def check_name(name: str, what: str = "model name") -> str:
    """Return `name` if it is a safe name (no path separators, no leading dot), else raise InvalidName."""
    if not is_valid_name(name):
        raise InvalidName(
            f"invalid {what} {name!r}: expected lowercase letters, digits, '.', '_' or '-', "
            f"starting with a letter or digit, at most 64 characters ({NAME_PATTERN})"
        )
    return name
