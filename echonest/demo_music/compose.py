"""Turns a TrackPlan into timed note events: drums, bass, chords, pad and a lead that follows
the progression, section by section (intro, verse, chorus, bridge, outro)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from echonest.demo_music.plan import TAIL_SECONDS, TrackPlan
from echonest.demo_music.styles import Style
from echonest.demo_music.theory import (
    NOTE_PCS,
    chord_tones,
    nearest_in,
    scale_midis,
    voice_chord,
)

# Semitones above the chord root; "3" and "7" come from the chord itself (major or minor).
BASS_INTERVALS = {"1": 0, "5": 7, "6": 9, "8": 12}


@dataclass(frozen=True)
class Note:
    start: float    # seconds
    length: float   # seconds
    voice: str
    midi: int
    velocity: float
    part: str       # mixer channel: a drum voice, "bass", "chords", "pad" or "lead"


# Which layers play in which section; "full"/"light" pick the drum kit.
SECTION_LAYERS = {
    "intro": {"light", "chords", "pad"},
    "verse": {"full", "bass", "chords", "lead"},
    "chorus": {"full", "bass", "chords", "pad", "lead", "crash"},
    "bridge": {"light", "bass", "pad", "chords", "lead"},
    "outro": {"full", "bass", "chords", "pad"},
}


def _strikes(pattern: str) -> list[tuple[int, int, str]]:
    """(step, length in steps, symbol) for each non-rest, non-hold character of a pattern."""
    out = []
    for i, ch in enumerate(pattern):
        if ch in ".-":
            continue
        length = 1
        while i + length < len(pattern) and pattern[i + length] == "-":
            length += 1
        out.append((i, length, ch))
    return out


class Timeline:
    """Step → seconds, with swing and a little human timing."""

    def __init__(self, plan: TrackPlan, rng: random.Random) -> None:
        self.step = 60.0 / plan.bpm / 4
        self.per_bar = plan.spec.meter * 4
        self.swing = plan.spec.swing
        self.grid = plan.spec.swing_grid
        self.rng = rng

    def at(self, bar: int, step: float, jitter: float = 0.004) -> float:
        offbeat = (int(step) // self.grid) % 2 == 1 and int(step) % self.grid == 0
        swing = self.swing * self.grid * self.step if offbeat else 0.0
        wobble = self.rng.gauss(0.0, jitter) if jitter else 0.0
        return max(0.0, (bar * self.per_bar + step) * self.step + swing + wobble)


def _motif(rng: random.Random, per_bar: int, grid: int, density: float, cadence: bool):
    """A two-bar melodic cell: (step, length, scale offset). Repeated, it makes a tune."""
    slots = list(range(0, 2 * per_bar, grid))
    onsets = [s for s in slots if s == 0 or rng.random() < density * (1.4 if s % 4 == 0 else 0.7)]
    if cadence:  # an answer phrase lands on a long note in its second bar
        onsets = [s for s in onsets if s <= per_bar] or [0]
    notes, offset = [], 0
    for i, step in enumerate(onsets):
        end = onsets[i + 1] if i + 1 < len(onsets) else 2 * per_bar
        length = min(end - step, 8 if not cadence or i + 1 < len(onsets) else 2 * per_bar)
        if i:
            offset = max(-3, min(4, offset + rng.choice((-2, -1, -1, 1, 1, 2, 0))))
        notes.append((step, length, 0 if cadence and i + 1 == len(onsets) else offset))
    return notes


def compose(plan: TrackPlan, max_seconds: float | None = None) -> tuple[list[Note], float]:
    """Every note of the track and its total length in seconds (tail included)."""
    style: Style = plan.spec
    rng = random.Random(plan.seed)
    time = Timeline(plan, rng)
    tonic_name, _mode = plan.key.split()
    tonic = NOTE_PCS[tonic_name]
    per_bar = style.meter * 4
    melody_notes = scale_midis(tonic, style.scale, *style.lead_range)
    motifs = {
        section: (_motif(rng, per_bar, style.lead_grid, style.density[section == "chorus"], False),
                  _motif(rng, per_bar, style.lead_grid, style.density[section == "chorus"], True))
        for section in ("verse", "chorus", "bridge")
    }
    notes: list[Note] = []
    voicing: list[int] | None = None
    bar = 0
    sections = list(style.form)
    for index, (section, bars) in enumerate(sections):
        layers = SECTION_LAYERS[section]
        progression = style.progressions.get(section) or style.progressions[
            "chorus" if section == "bridge" else "verse"]
        next_section = sections[index + 1][0] if index + 1 < len(sections) else None
        for b in range(bars):
            chord_at = (b // style.bars_per_chord) % len(progression)
            root, shape = chord_tones(progression[chord_at])
            root = (root + tonic) % 12
            pcs = [(root + s) % 12 for s in shape]
            following = chord_tones(progression[(chord_at + 1) % len(progression)])[0]
            next_root = (following + tonic) % 12
            last_bar = b == bars - 1
            notes += _drums(style, time, bar, layers, b == 0, last_bar and next_section in
                            ("chorus", "verse", "bridge") and b > 0)
            if "bass" in layers:
                notes += _bass(style, time, bar, root, shape, next_root)
            if "chords" in layers:
                if not style.root_only:
                    voicing = voice_chord(pcs, voicing, *style.chord_range)
                notes += _chords(style, time, bar, root, voicing)
            if "pad" in layers and style.pad:
                notes += [Note(time.at(bar, 0), per_bar * time.step, style.pad, m, 0.8, "pad")
                          for m in voice_chord(pcs, voicing, 55, 74)]
            if "lead" in layers:
                motif = motifs[section][1 if b % 8 >= 6 else 0]
                notes += _lead(time, bar, b % 2, motif, style, melody_notes, set(pcs), root,
                               section == "chorus")
            bar += 1
    total = bar * per_bar * time.step + TAIL_SECONDS
    if max_seconds is not None and max_seconds < total:
        total = max_seconds
        notes = [n for n in notes if n.start < total - 0.05]
    return notes, total


def _drums(style: Style, time: Timeline, bar: int, layers: set[str], first: bool,
           fill: bool) -> list[Note]:
    kit = style.drums if "full" in layers else style.light_drums if "light" in layers else ()
    notes = []
    for voice, pattern in kit:
        if fill and voice in ("snare", "brush", "rim", "clap"):
            continue
        for step, _len, ch in _strikes(pattern):
            if fill and voice in ("kick", "kick808") and step >= len(pattern) // 2:
                continue
            vel = (1.0 if ch == "x" else 0.5) * time.rng.uniform(0.9, 1.0)
            notes.append(Note(time.at(bar, step, 0.002), 0.1, voice, 0, vel, voice))
    if fill:
        per_bar = len(kit[0][1]) if kit else style.meter * 4
        voice = style.fill
        for i, step in enumerate(range(per_bar // 2, per_bar)):
            vel = 0.45 + 0.5 * i / (per_bar // 2)
            notes.append(Note(time.at(bar, step, 0.002), 0.1, voice, 0, vel, voice))
    if first and "crash" in layers:
        notes.append(Note(time.at(bar, 0, 0), 2.0, "crash", 0, 0.9, "crash"))
    return notes


def _bass(style: Style, time: Timeline, bar: int, root: int, shape: tuple[int, ...],
          next_root: int) -> list[Note]:
    voice, pattern = style.bass
    base = style.bass_low + (root - style.bass_low) % 12
    notes = []
    for step, length, ch in _strikes(pattern):
        if ch == "a":
            midi = base + ((next_root - root) % 12) - 1
        elif ch == "3":
            midi = base + shape[1]
        elif ch == "7":
            midi = base + (shape[3] if len(shape) > 3 else 10)
        else:
            midi = base + BASS_INTERVALS[ch]
        vel = (1.0 if step % 4 == 0 else 0.8) * time.rng.uniform(0.9, 1.0)
        notes.append(Note(time.at(bar, step), length * time.step * 0.92, voice, midi, vel, "bass"))
    return notes


def _chords(style: Style, time: Timeline, bar: int, root: int, voicing: list[int]) -> list[Note]:
    voice, pattern = style.chords
    if style.root_only:
        low, high = style.chord_range
        voicing = [low + (root - low) % 12]
    notes = []
    for step, length, _ch in _strikes(pattern):
        vel = time.rng.uniform(0.8, 1.0)
        start = time.at(bar, step)
        for i, midi in enumerate(voicing):
            # A strum: each string a few milliseconds after the one below it.
            notes.append(Note(start + 0.006 * i, length * time.step * 0.95, voice, midi, vel,
                              "chords"))
    return notes


def _lead(time: Timeline, bar: int, half: int, motif, style: Style, scale: list[int],
          pcs: set[int], root: int, chorus: bool) -> list[Note]:
    per_bar = style.meter * 4
    low, high = style.lead_range
    center = low + (high - low) // (2 if chorus else 3)
    anchor = nearest_in(center, {root})
    base = min(range(len(scale)), key=lambda i: abs(scale[i] - anchor))
    notes = []
    for step, length, offset in motif:
        if step // per_bar != half:
            continue
        midi = scale[max(0, min(len(scale) - 1, base + offset))]
        if step % 8 == 0:  # strong beats sit on a chord tone
            midi = nearest_in(midi, pcs)
        vel = (0.95 if step % 4 == 0 else 0.8) * time.rng.uniform(0.9, 1.0)
        notes.append(Note(time.at(bar, step % per_bar), length * time.step * 0.9,
                          style.lead, midi, vel, "lead"))
    return notes
