"""Comment command parsing: `/chatgpt summarize this` -> "summarize this"."""

from __future__ import annotations

import re

DEFAULT_COMMAND = "/chatgpt"
COMMAND_RE = re.compile(r"^/[\w\-.]{1,64}$", re.UNICODE)


def parse_command(text: str, command: str) -> str | None:
    """The text after `command` if `text` starts with it as a whole word (case-insensitive).

    `/chatgpt hi` -> "hi"; `/ChatGPT` -> ""; `/chatgptx hi` -> None; leading whitespace allowed.
    """
    if not command:
        return None
    stripped = text.lstrip()
    n = len(command)
    if stripped[:n].casefold() != command.casefold():
        return None
    rest = stripped[n:]
    if rest and not rest[0].isspace():
        return None
    return rest.strip()
