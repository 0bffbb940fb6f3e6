"""Counts as people read them, in the scripts and the web view alike."""
from mr.units import size, tally_text


def test_sizes_read_as_people_read_them():
    assert [size(n) for n in (0, 1023, 1536, 5 << 20, 1073741768, 3 << 40)] == [
        "0 B", "1023 B", "1.5 KiB", "5.0 MiB", "1.0 GiB", "3.0 TiB"]


def test_a_byte_tally_shows_its_size_beside_it():
    assert tally_text("mr.input_bytes", 1073741768) == "1073741768 (1.0 GiB)"
    assert tally_text("upload_bytes", 1536, grouped=True) == "1,536 (1.5 KiB)"


def test_other_tallies_and_small_byte_counts_stay_numbers():
    assert tally_text("mr.output_pairs", 1073741768) == "1073741768"
    assert tally_text("rows", 12345, grouped=True) == "12,345"
    assert tally_text("mr.shuffled_bytes", 1023) == "1023"
    assert tally_text("mr.shuffled_bytes", -2048) == "-2048 (-2.0 KiB)"
