"""The web view's progress panel, rendered from a Progress without a server."""
from mr.engine.progress import Progress
from mr.web.ui_render import progress_panel


def test_tallies_show_byte_counts_as_sizes_like_the_scripts():
    progress = Progress("wf", "r1", "0", "running", counts={"done": 3}, total=4, percent=75.0,
                        tallies={"mr.input_bytes": 1073741768, "mr.output_pairs": 100000,
                                 "<odd>": 7})
    html = progress_panel(progress)
    assert ("tallies: mr.input_bytes <b>1,073,741,768 (1.0 GiB)</b> · "
            "mr.output_pairs <b>100,000</b> · &lt;odd&gt; <b>7</b>") in html
