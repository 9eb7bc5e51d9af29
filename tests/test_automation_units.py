"""The command parser and the variable renderer: what scenario authors rely on."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tracker.automation.commands import parse_command
from tracker.automation.variables import build_context, render


def test_command_must_be_the_whole_first_word_case_insensitive() -> None:
    assert parse_command("/chatgpt summarize this", "/chatgpt") == "summarize this"
    assert parse_command("  /ChatGPT\n  multi\nline ", "/chatgpt") == "multi\nline"
    assert parse_command("/chatgpt", "/chatgpt") == ""
    assert parse_command("/chatgptx hi", "/chatgpt") is None
    assert parse_command("hi /chatgpt", "/chatgpt") is None
    assert parse_command("/chat", "/chatgpt") is None


def test_renderer_substitutes_fields_with_spaces_and_russian_aliases() -> None:
    ctx = build_context(
        {"Infoblock": {"Response": "Hello", "Tokens used": 42}, "Task": {"Title": "T"}}
    )
    out = render("{{Infoblock.Response}} / {{ Инфоблок.Tokens used }} / {{task.title}}", ctx)
    assert out.text == "Hello / 42 / T" and out.unknown == []


def test_unknown_variables_render_empty_and_are_reported() -> None:
    out = render("a{{Infoblock.Nope}}b{{Foo.Bar}}c", build_context({"Infoblock": {}}))
    assert out.text == "abc" and out.unknown == ["Infoblock.Nope", "Foo.Bar"]


def test_renderer_never_evaluates_code() -> None:
    ctx = build_context({"Task": {"Title": "{{Task.Secret}}"}, "Secret": {"X": "leak"}})
    for template in (
        "{{ 7*7 }}",
        "{{__import__('os').system('id')}}",
        "{% for x in y %}",
        "{{config.items()}}",
        "{{ self.__class__ }}",
    ):
        assert "49" not in render(template, ctx).text
    # substituted values are not rendered again
    assert render("{{Task.Title}}", ctx).text == "{{Task.Secret}}"


@given(
    st.text(max_size=300), st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=4)
)
def test_renderer_never_raises(template: str, values: dict[str, str]) -> None:
    out = render(template, build_context({"Infoblock": values}))
    assert isinstance(out.text, str)


@given(st.text(max_size=200), st.text(min_size=1, max_size=20))
def test_command_parser_never_raises(text: str, command: str) -> None:
    result = parse_command(text, command)
    assert result is None or isinstance(result, str)
