"""Parsing handler files: metadata, validation and errors that name file and line."""
import pytest

from mr.handlers.source import HandlerSourceError, parse, version_of

MAPPER = '''"""Split text.

**
handler_type: mapper
required_capability: none
argument_spec:
  - {name: arguments, type: list}
request_arguments:
  text: str
  limit: {type: int, required: false}
"""
from mr.handlers.api import Return


def handle(ctx, arguments):
    yield Return()
'''


def test_parses_metadata():
    parsed = parse(MAPPER, "split.py")
    assert parsed.description == "Split text."
    assert parsed.handler_type == "mapper" and parsed.required_capability == "general"
    assert parsed.argument_spec == [{"name": "arguments", "type": "list"}]
    assert parsed.request_arguments == {"text": {"type": "str", "required": True},
                                        "limit": {"type": "int", "required": False}}
    assert parsed.version == version_of(MAPPER) and len(parsed.version) == 16


def test_version_changes_with_any_byte():
    assert version_of(MAPPER) != version_of(MAPPER + "\n")


@pytest.mark.parametrize("broken, line, message", [
    (MAPPER.replace("yield Return()", "yield Return("), 16, "syntax error"),
    (MAPPER.replace("handler_type: mapper", "handler_type: mapperx"), 4, "handler_type must"),
    (MAPPER.replace("required_capability: none\n", ""), 4, "lacks required_capability"),
    (MAPPER.replace("argument_spec:", "argument_spec:\n  - {name: x}\n  bad: [", 1), 8,
     "not valid YAML"),
    (MAPPER.replace("**\n", ""), 1, "no '**' line"),
    (MAPPER.replace("{name: arguments, type: list}", "{name: results, type: list}"), 4,
     "argument_spec of a mapper"),
    (MAPPER.replace("    yield Return()", "    return []"), 15, "must be a generator"),
    (MAPPER.replace("def handle(ctx, arguments)", "def handle(arguments)"), 15,
     "handle() takes"),
    (MAPPER.replace("extra", "x").replace("request_arguments:", "colour: red\nrequest_arguments:"),
     4, "unknown metadata key(s) colour"),
])
def test_errors_name_file_and_line(broken, line, message):
    with pytest.raises(HandlerSourceError) as info:
        parse(broken, "handlers/split.py")
    assert str(info.value).startswith(f"handlers/split.py:{line}: ")
    assert message in str(info.value)


def test_missing_handle_function():
    with pytest.raises(HandlerSourceError, match="no top-level function handle"):
        parse(MAPPER.replace("def handle(", "def other("), "x.py")


DATA_MAPPER = '''"""Count words.

**
handler_type: mapper
required_capability: general
input: jsonl
malformed: skip
"""


def handle(ctx, records):
    return {}
'''


def test_a_data_mapper_may_skip_malformed_lines():
    assert parse(DATA_MAPPER, "count.py").malformed == "skip"
    assert parse(DATA_MAPPER.replace("malformed: skip\n", ""), "count.py").malformed == "fail"
    for broken, message in [
            (DATA_MAPPER.replace("malformed: skip", "malformed: ignore"),
             "malformed must be one of fail, skip, not 'ignore'"),
            (DATA_MAPPER.replace("input: jsonl", "input: raw"), "malformed is for data mappers"),
            (MAPPER.replace("required_capability: none", "required_capability: none\n"
                            "malformed: skip"), "malformed is for data mappers")]:
        with pytest.raises(HandlerSourceError, match=message):
            parse(broken, "count.py")
