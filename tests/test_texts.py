"""``malleable.texts``: what every stored guest, database or remote text goes through."""

from __future__ import annotations

from malleable import texts


def test_nul_and_lone_surrogates_become_the_replacement_character():
    assert texts.clean("a\x00b\ud800c\udfffd") == "a\ufffdb\ufffdc\ufffdd"
    assert texts.storable("ok \x00", 100) == "ok \ufffd"


def test_a_short_text_is_kept_as_it_is():
    assert texts.storable("héllo", 6) == "héllo"


def test_a_long_text_is_cut_in_bytes_with_a_marker_saying_how_many_more():
    assert texts.storable("x" * 10, 4) == "xxxx\n[cut: 6 bytes more]"
    assert texts.storable("x" * 2_000_000, 3) == "xxx\n[cut: 1,999,997 bytes more]"


def test_a_cut_never_splits_a_character():
    # "é" is two bytes: a cut at 3 bytes keeps "aé"; at 2 it keeps "a" and counts the é as cut.
    assert texts.storable("aéé" * 2, 3) == "aé\n[cut: 7 bytes more]"
    assert texts.storable("aéé" * 2, 2) == "a\n[cut: 9 bytes more]"


def test_messages_are_each_cut_and_dropped_past_the_total_with_a_last_word():
    huge = {"level": "fail", "text": "y" * 5000}
    kept = texts.storable_messages([{"level": "ok", "text": "a\x00"}, huge])
    assert kept == [
        {"level": "ok", "text": "a\ufffd"},
        {"level": "fail", "text": "y" * 4096 + "\n[cut: 904 bytes more]"},
    ]
    many = texts.storable_messages([{"level": "log", "text": "z" * 4000}] * 300)
    assert len(many) == 263
    assert many[-1] == {"level": "log", "text": "[cut: 38 messages more, past 1,048,576 bytes]"}
