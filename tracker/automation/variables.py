"""The safe template renderer: `{{Name.Field with spaces}}` looked up in a dict, never evaluated.

PlanFix users write `{{Инфоблок.Response}}`; `Инфоблок`, `Задача`, `Комментарий` are accepted
as aliases of `Infoblock`, `Task`, `Comment`. Lookups are case-insensitive. Unknown variables
render as empty text and are reported so the run log can show them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

VARIABLE_RE = re.compile(r"\{\{\s*([^{}.\s][^{}.]{0,63})\.([^{}]{1,64}?)\s*\}\}")

ALIASES = {
    "инфоблок": "infoblock",
    "задача": "task",
    "комментарий": "comment",
    "запуск": "run",
}

INFOBLOCK_FIELDS = (
    "Response",
    "Tokens used",
    "Prompt tokens",
    "Completion tokens",
    "Model",
    "Finish reason",
    "Latency ms",
    "Attempts",
    "Error",
)

# What the scenario editor lists ("response parsing"): group -> fields.
AVAILABLE = {
    "Comment": ("Text", "Full text", "Author", "Id"),
    "Task": ("Id", "Title", "Description", "Status", "Template", "Assignee", "Author", "URL"),
    "Infoblock": INFOBLOCK_FIELDS,
    "Run": ("Id", "Error"),
}


def _norm(name: str) -> str:
    return " ".join(name.split()).casefold()


@dataclass
class Rendered:
    text: str
    unknown: list[str] = field(default_factory=list)


def build_context(groups: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """Normalise {"Task": {"Title": ...}} into case-insensitive lookup tables of strings."""
    ctx: dict[str, dict[str, str]] = {}
    for group, values in groups.items():
        table = ctx.setdefault(_norm(group), {})
        for key, value in values.items():
            table[_norm(key)] = "" if value is None else str(value)
    return ctx


def render(template: str, context: Mapping[str, Mapping[str, str]]) -> Rendered:
    """Substitute `{{Group.Field}}`; anything else, including `{{ 1+1 }}`, stays as written."""
    unknown: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        group = _norm(match.group(1))
        group = ALIASES.get(group, group)
        key = _norm(match.group(2))
        table = context.get(group)
        if table is None or key not in table:
            unknown.append(f"{match.group(1).strip()}.{match.group(2).strip()}")
            return ""
        return table[key]

    return Rendered(VARIABLE_RE.sub(substitute, template or ""), unknown)


def referenced(template: str) -> list[str]:
    """Variables a template uses, as written (for validation in the editor)."""
    return [f"{m.group(1).strip()}.{m.group(2).strip()}" for m in VARIABLE_RE.finditer(template)]


def is_known(name: str) -> bool:
    group, _, key = name.partition(".")
    group_n = ALIASES.get(_norm(group), _norm(group))
    for g, fields in AVAILABLE.items():
        if _norm(g) == group_n:
            return _norm(key) in {_norm(f) for f in fields}
    return False
