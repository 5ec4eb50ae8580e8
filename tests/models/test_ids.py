"""Ids: prefix, 24 characters of the alphabet, every character possible, no repeats."""

from __future__ import annotations

from collections import Counter

from models.base import _ALPHABET, ID_RANDOM_LENGTH, new_id


def test_ids_are_the_prefix_and_24_alphabet_characters() -> None:
    ids = [new_id("po") for _ in range(5_000)]
    assert len(set(ids)) == len(ids)
    for value in ids:
        prefix, random_part = value.split("_", 1)
        assert prefix == "po"
        assert len(random_part) == ID_RANDOM_LENGTH
        assert set(random_part) <= set(_ALPHABET)


def test_every_character_is_drawn_about_equally_often() -> None:
    counts = Counter("".join(new_id("x")[2:] for _ in range(20_000)))
    assert set(counts) == set(_ALPHABET)
    expected = 20_000 * ID_RANDOM_LENGTH / len(_ALPHABET)  # 7,742 each
    # Uniform draws stay within ±6 % here with overwhelming probability (σ ≈ 1.1 %); the
    # 8 byte values above 4 × 62 mapped instead of dropped would put 'a'–'h' ~25 % high.
    assert all(abs(count - expected) < 0.06 * expected for count in counts.values())
