"""Pitch arithmetic for the demo synthesizer: keys, scales and chord symbols as MIDI numbers."""

from __future__ import annotations

import re

NOTE_PCS = {"C": 0, "C#": 1, "Db": 1, "D": 2, "D#": 3, "Eb": 3, "E": 4, "F": 5, "F#": 6,
            "Gb": 6, "G": 7, "G#": 8, "Ab": 8, "A": 9, "A#": 10, "Bb": 10, "B": 11}
SCALES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "major_pentatonic": (0, 2, 4, 7, 9),
    "minor_pentatonic": (0, 3, 5, 7, 10),
    "blues": (0, 3, 5, 6, 7, 10),
}
_ROMAN = {"i": 0, "ii": 2, "iii": 4, "iv": 5, "v": 7, "vi": 9, "vii": 11}
_SYMBOL = re.compile(r"^(b|#)?(i{1,3}|iv|vi{0,2}|I{1,3}|IV|VI{0,2})(maj7|m7b5|7|6|9|o|sus)?$")


def midi_to_hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)


def chord_tones(symbol: str) -> tuple[int, tuple[int, ...]]:
    """Roman-numeral chord relative to the tonic: "bVII" → (10, (0, 4, 7)), "ii7" → (2, (0, 3, 7, 10)).

    Written as numerals rather than scale degrees so a progression can borrow chords (the blues'
    dominant sevenths, a minor key's major V) without a second mode.
    """
    match = _SYMBOL.match(symbol)
    if not match:
        raise ValueError(f"bad chord symbol {symbol!r}")
    accidental, numeral, suffix = match.groups()
    root = _ROMAN[numeral.lower()] + {"b": -1, "#": 1, None: 0}[accidental]
    minor = numeral.islower()
    triad = (0, 3, 7) if minor else (0, 4, 7)
    extra = {None: (), "7": (10,), "maj7": (11,), "6": (9,), "9": (10, 14)}.get(suffix)
    if suffix == "o":
        triad, extra = (0, 3, 6), ()
    elif suffix == "m7b5":
        triad, extra = (0, 3, 6), (10,)
    elif suffix == "sus":
        triad, extra = (0, 5, 7), ()
    return root % 12, triad + extra


def nearest_in(pitch: int, pcs: set[int]) -> int:
    """The MIDI note closest to `pitch` whose pitch class is in `pcs` (ties go down)."""
    for distance in range(12):
        for candidate in (pitch - distance, pitch + distance):
            if candidate % 12 in pcs:
                return candidate
    return pitch


def voice_chord(pcs: list[int], previous: list[int] | None, low: int, high: int) -> list[int]:
    """Close-position voicing inside [low, high] that moves least from the previous chord."""
    options = []
    for bottom in range(low, high - 11):
        if bottom % 12 not in pcs:
            continue
        notes = [bottom]
        for pc in pcs:
            if pc == bottom % 12:
                continue
            notes.append(bottom + (pc - bottom) % 12)
        if max(notes) <= high:
            options.append(sorted(notes))
    target = previous or [(low + high) // 2] * len(pcs)
    center = sum(target) / len(target)
    return min(options, key=lambda v: abs(sum(v) / len(v) - center) + 0.01 * v[0])


def scale_midis(tonic_pc: int, scale: str, low: int, high: int) -> list[int]:
    """Every note of the scale between low and high, ascending."""
    pcs = {(tonic_pc + step) % 12 for step in SCALES[scale]}
    return [m for m in range(low, high + 1) if m % 12 in pcs]
