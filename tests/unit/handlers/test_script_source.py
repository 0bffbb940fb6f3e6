"""Script handlers: metadata in the leading comment block; the new optional metadata keys."""
import pytest

from mr.handlers.source import HandlerSourceError, parse

SCRIPT = """#!/usr/bin/perl
# Split words.
#
# **
# handler_type: mapper
# required_capability: GPU
# time_limit_s: 2.5
# expected_s: 90
# command: [perl, -w]
print "x";
"""


def test_script_metadata_from_comments():
    parsed = parse(SCRIPT, "split.pl")
    assert parsed.description == "Split words."
    assert parsed.language == "subprocess" and parsed.command == ["perl", "-w"]
    assert parsed.required_capability == "gpu" and parsed.time_limit_s == 2.5
    assert parsed.expected_s == 90.0
    assert parsed.argument_spec == [{"name": "arguments", "type": "list"}]  # the default


@pytest.mark.parametrize("broken, line, message", [
    (SCRIPT.replace("# time_limit_s: 2.5", "# time_limit_s: 0"), 5,
     "time_limit_s must be a number of seconds > 0"),
    (SCRIPT.replace("# expected_s: 90", "# expected_s: soon"), 5,
     "expected_s must be a number of seconds > 0, not 'soon'"),
    (SCRIPT.replace("# command: [perl, -w]", "# command: perl"), 5, "command is a list"),
    (SCRIPT.replace("# command: [perl, -w]", "# language: python"), 5,
     "a script handler's language is subprocess"),
    (SCRIPT.replace("# **\n", ""), 2, "no '**' line"),
    ("#!/bin/sh\necho hi\n", 2, "starts with a comment block"),
])
def test_script_errors_name_file_and_line(broken, line, message):
    with pytest.raises(HandlerSourceError) as info:
        parse(broken, "h/split.pl")
    assert str(info.value).startswith(f"h/split.pl:{line}: ") and message in str(info.value)


PY = '''"""Doc.

**
handler_type: reducer
required_capability: general
argument_spec:
  - {name: results, type: list}
time_limit_s: 3
"""
def handle(ctx, results):
    return results
'''


def test_python_time_limit_and_language():
    parsed = parse(PY, "r.py")
    assert parsed.time_limit_s == 3.0 and parsed.language == "python"
    with pytest.raises(HandlerSourceError, match="command is for language: subprocess"):
        parse(PY.replace("time_limit_s: 3", "command: [python3]"), "r.py")
    with pytest.raises(HandlerSourceError, match="language must be one of python, subprocess"):
        parse(PY.replace("time_limit_s: 3", "language: cobol"), "r.py")
