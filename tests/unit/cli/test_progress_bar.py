"""The progress line: redrawn in place on a terminal, plain throttled lines otherwise."""
import io

from mr.cli.progress_bar import ProgressLine, bar, duration


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_line_is_redrawn_in_place():
    out = Terminal()
    line = ProgressLine(out)
    line.show(0.25, "1/4 done")
    line.show(0.5, "2/4")
    line.finish(1.0, "4/4 done")
    text = out.getvalue()
    assert text.count("\r") == 3 and text.endswith("\n") and text.count("\n") == 1
    assert "[" + "#" * 15 + "." * 15 + "]  50.0% 2/4" in text
    assert "  " in text.split("\r")[2]  # the shorter line blanks what the longer one left


def test_off_a_terminal_lines_are_plain_and_throttled():
    out = io.StringIO()
    line = ProgressLine(out, plain_every=3600)
    line.show(0.1, "first")
    line.show(0.2, "dropped: less than plain_every after the first")
    line.finish(1.0, "last")
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert len(lines) == 2 and lines[0].endswith("first") and lines[1].endswith("last")


def test_bar_and_duration():
    assert bar(0.0, 4) == "[....]" and bar(1.5, 4) == "[####]"
    assert duration(None) == "?" and duration(59.4) == "59s"
    assert duration(61) == "1m01s" and duration(3 * 3600 + 120) == "3h02m"

