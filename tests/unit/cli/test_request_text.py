"""mr_request_status's text: byte counts among the tallies read as sizes too."""
from mr.cli.request import _status_text
from mr.engine.progress import Progress


def test_byte_tallies_are_shown_as_sizes_too():
    progress = Progress("wf", "rid", "0", "running", counts={"done": 3}, total=4,
                        tallies={"mr.input_bytes": 1073741768, "mr.output_pairs": 2048,
                                 "small_bytes": 12})
    text = _status_text(progress)
    assert "tally mr.input_bytes:  1073741768 (1.0 GiB)" in text
    assert "tally mr.output_pairs: 2048\n" in text + "\n"    # a count of pairs stays a count
    assert "tally small_bytes:     12\n" in text + "\n"
