"""Synthesized instruments: each voice turns (MIDI note, seconds) into a mono numpy buffer.

Everything is vectorized: oscillators read band-limited wavetables (built once by additive
synthesis, so high notes do not alias), envelopes are `np.interp` over breakpoints and "filters"
are either fewer harmonics or moving averages. No recursive filters, so no per-sample Python.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from echonest.demo_music.theory import midi_to_hz

SR = 44100
TABLE = 4096


@lru_cache(maxsize=512)
def _table(shape: str, harmonics: int) -> np.ndarray:
    k = np.arange(1, harmonics + 1, dtype=np.float64)
    if shape == "saw":
        amps = 1.0 / k
    elif shape == "square":
        amps = np.where(k % 2 == 1, 1.0 / k, 0.0)
    elif shape == "triangle":
        amps = np.where(k % 2 == 1, np.where((k // 2) % 2 == 0, 1.0, -1.0) / k**2, 0.0)
    elif shape == "organ":
        amps = np.zeros_like(k)
        for harmonic, level in ((1, 1.0), (2, 0.7), (3, 0.5), (4, 0.35), (6, 0.2), (8, 0.15)):
            if harmonic <= harmonics:
                amps[harmonic - 1] = level
    else:  # sine
        amps = (k == 1).astype(np.float64)
    phase = np.arange(TABLE) * (2.0 * np.pi / TABLE)
    table = np.zeros(TABLE)
    for harmonic, amp in zip(k.astype(int), amps, strict=True):
        if amp:
            table += amp * np.sin(harmonic * phase)
    return table / np.max(np.abs(table))


def osc(shape: str, freq: float, n: int, *, bright: int = 64, detune: float = 0.0,
        vibrato: float = 0.0, vibrato_hz: float = 5.5, phase0: float = 0.0) -> np.ndarray:
    """`n` samples of a band-limited waveform; `bright` caps the harmonic count (a crude filter)."""
    freq *= 2.0 ** (detune / 1200.0)
    harmonics = int(max(1, min(bright, (SR / 2 - 500) // freq)))
    if vibrato:
        t = np.arange(n) / SR
        # Vibrato fades in over the first 0.3 s, as a singer or a player would.
        depth = vibrato * np.minimum(1.0, t / 0.3)
        inst = freq * (1.0 + depth * np.sin(2 * np.pi * vibrato_hz * t))
        phase = np.cumsum(inst) / SR + phase0
    else:
        phase = np.arange(n) * (freq / SR) + phase0
    idx = (phase * TABLE).astype(np.int64) & (TABLE - 1)
    return _table(shape, harmonics)[idx]


def env(n: int, points: list[tuple[float, float]]) -> np.ndarray:
    """Piecewise-linear envelope over `n` samples from (seconds, level) breakpoints."""
    times = np.array([p[0] for p in points]) * SR
    return np.interp(np.arange(n), times, [p[1] for p in points])


def decay(n: int, tau: float, attack: float = 0.002) -> np.ndarray:
    t = np.arange(n) / SR
    return np.exp(-t / tau) * np.minimum(1.0, t / attack)


def smooth(x: np.ndarray, width: int) -> np.ndarray:
    """Moving average of `width` samples (a gentle low-pass) via a cumulative sum."""
    if width <= 1:
        return x
    c = np.cumsum(np.concatenate(([0.0], x)))
    out = (c[width:] - c[:-width]) / width
    return np.concatenate((x[: width - 1] * np.linspace(0, 1, width - 1), out))


def _noise(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(n)


def _sustain(n_note: int, release: float, attack: float = 0.005,
             level: float = 1.0, sustain: float = 0.8, dec: float = 0.15) -> np.ndarray:
    gate = n_note / SR
    return env(n_note + int(release * SR), [
        (0, 0), (attack, level), (attack + dec, sustain * level),
        (max(gate, attack + dec), sustain * level), (gate + release, 0)])


# --- drums -------------------------------------------------------------------------------

def kick(_midi: int, _dur: float, *, low: float = 48, sweep: float = 110, tau: float = 0.22,
         seed: int = 1) -> np.ndarray:
    n = int(0.6 * SR)
    t = np.arange(n) / SR
    freq = low + sweep * np.exp(-t / 0.03)
    body = np.sin(2 * np.pi * np.cumsum(freq) / SR) * np.exp(-t / tau)
    click = _noise(n, seed) * np.exp(-t / 0.002) * 0.3
    return np.tanh(1.6 * (body + click)) * np.minimum(1.0, t / 0.001)


def kick808(midi: int, dur: float) -> np.ndarray:
    return kick(midi, dur, low=44, sweep=70, tau=0.45)


def snare(_midi: int, _dur: float, *, tau: float = 0.13, tone: float = 185) -> np.ndarray:
    n = int(0.5 * SR)
    t = np.arange(n) / SR
    noise = np.diff(_noise(n + 1, 2))
    body = np.sin(2 * np.pi * tone * t) * np.exp(-t / 0.05)
    return 0.5 * body + 0.45 * noise * np.exp(-t / tau)


def rim(_midi: int, _dur: float) -> np.ndarray:
    n = int(0.12 * SR)
    t = np.arange(n) / SR
    return (np.sin(2 * np.pi * 820 * t) + 0.6 * np.sin(2 * np.pi * 1630 * t)) * np.exp(-t / 0.012)


def clap(_midi: int, _dur: float) -> np.ndarray:
    n = int(0.4 * SR)
    t = np.arange(n) / SR
    noise = np.diff(_noise(n + 1, 3))
    bursts = sum(np.exp(-np.clip(t - d, 0, None) / 0.006) * (t >= d) for d in (0, 0.011, 0.022))
    return noise * (0.5 * bursts + 0.5 * np.exp(-np.clip(t - 0.03, 0, None) / 0.09) * (t >= 0.03))


def _metal(n: int) -> np.ndarray:
    """Six detuned squares, the 808 recipe for cymbals: inharmonic, so it reads as metal."""
    mix = sum(osc("square", f, n, bright=9) for f in (205.3, 304.4, 369.6, 522.7, 540.0, 800.0))
    return np.diff(np.diff(mix, prepend=0), prepend=0)


def hat(_midi: int, _dur: float, *, tau: float = 0.03, length: float = 0.15) -> np.ndarray:
    n = int(length * SR)
    metal = _metal(n) * 0.25 + np.diff(_noise(n + 1, 4)) * 0.25
    return metal * decay(n, tau, 0.0005)


def open_hat(midi: int, dur: float) -> np.ndarray:
    return hat(midi, dur, tau=0.22, length=0.7)


def crash(midi: int, dur: float) -> np.ndarray:
    return hat(midi, dur, tau=0.9, length=2.5) * 0.8


def ride(_midi: int, _dur: float) -> np.ndarray:
    n = int(1.0 * SR)
    t = np.arange(n) / SR
    bell = sum(np.sin(2 * np.pi * f * t) for f in (2310, 3170, 4870)) / 3
    return (0.5 * _metal(n) * 0.3 + 0.25 * bell) * decay(n, 0.35, 0.001)


def shaker(_midi: int, _dur: float) -> np.ndarray:
    n = int(0.12 * SR)
    noise = np.diff(np.diff(_noise(n + 2, 5)))
    return 0.3 * noise * env(n, [(0, 0), (0.015, 1), (0.05, 0.25), (0.12, 0)])


def brush(_midi: int, _dur: float) -> np.ndarray:
    n = int(0.35 * SR)
    return 0.5 * smooth(_noise(n, 6), 3) * env(n, [(0, 0), (0.03, 1), (0.35, 0)])


def tom(_midi: int, _dur: float) -> np.ndarray:
    return kick(0, 0, low=95, sweep=60, tau=0.18, seed=7) * 0.8


# --- pitched -----------------------------------------------------------------------------

def _n(dur: float) -> int:
    return max(1, int(dur * SR))


def sub_bass(midi: int, dur: float) -> np.ndarray:
    n = _n(dur)
    a = _sustain(n, 0.05, 0.004, sustain=0.85)
    f = midi_to_hz(midi)
    return (osc("sine", f, len(a)) + 0.25 * osc("triangle", f * 2, len(a), bright=5)) * a


def pluck_bass(midi: int, dur: float) -> np.ndarray:
    n = _n(dur)
    a = _sustain(n, 0.04, 0.003, sustain=0.6, dec=0.2)
    f = midi_to_hz(midi)
    m = len(a)
    # A brightness envelope instead of a filter sweep: the bright copy dies away first.
    bright = decay(m, 0.06)
    return (osc("saw", f, m, bright=24) * bright + osc("saw", f, m, bright=4) * (1 - 0.5 * bright)) * a


def upright_bass(midi: int, dur: float) -> np.ndarray:
    n = _n(dur)
    m = n + int(0.08 * SR)
    f = midi_to_hz(midi)
    a = decay(m, 0.45, 0.006) * env(m, [(0, 1), (n / SR, 1), (m / SR, 0)])
    return (osc("triangle", f, m, bright=7) + 0.3 * osc("sine", f * 2, m)) * a


def rock_bass(midi: int, dur: float) -> np.ndarray:
    return np.tanh(2.0 * pluck_bass(midi, dur)) * 0.8


def epiano(midi: int, dur: float) -> np.ndarray:
    n = _n(dur)
    m = n + int(0.3 * SR)
    f = midi_to_hz(midi)
    t = np.arange(m) / SR
    a = decay(m, 1.4, 0.003) * env(m, [(0, 1), (n / SR, 1), (m / SR, 0)])
    tine = osc("sine", f * 7.0, m) * decay(m, 0.03) * 0.25
    tremolo = 1.0 + 0.12 * np.sin(2 * np.pi * 4.2 * t)
    return (osc("sine", f, m) + 0.22 * osc("sine", f * 2, m) + tine) * a * tremolo


def pad(midi: int, dur: float) -> np.ndarray:
    n = _n(dur)
    a = _sustain(n, 0.6, 0.35, sustain=0.9, dec=0.2)
    f = midi_to_hz(midi)
    m = len(a)
    voices = sum(osc("saw", f, m, bright=10, detune=d, phase0=p)
                 for d, p in ((-9, 0.0), (0, 0.31), (8, 0.67)))
    return smooth(voices / 3, 6) * a


def strings(midi: int, dur: float) -> np.ndarray:
    n = _n(dur)
    a = _sustain(n, 0.35, 0.08, sustain=0.9)
    f = midi_to_hz(midi)
    m = len(a)
    return sum(osc("saw", f, m, bright=14, detune=d, vibrato=0.004, phase0=p)
               for d, p in ((-6, 0.0), (6, 0.5))) / 2 * a


def organ(midi: int, dur: float) -> np.ndarray:
    n = _n(dur)
    a = _sustain(n, 0.03, 0.006, sustain=1.0)
    return osc("organ", midi_to_hz(midi), len(a), bright=8, vibrato=0.003, vibrato_hz=6.5) * a


def stab(midi: int, dur: float) -> np.ndarray:
    n = _n(min(dur, 0.3))
    m = n + int(0.12 * SR)
    f = midi_to_hz(midi)
    a = decay(m, 0.16, 0.002)
    return (osc("saw", f, m, bright=20) + 0.6 * osc("square", f, m, bright=12, detune=7)) * a * 0.6


def guitar_chank(midi: int, dur: float) -> np.ndarray:
    n = _n(min(dur, 0.25))
    m = n + int(0.05 * SR)
    f = midi_to_hz(midi)
    bright = decay(m, 0.03)
    body = osc("saw", f, m, bright=30) * bright + osc("saw", f, m, bright=5) * 0.5
    return body * decay(m, 0.09, 0.001) * env(m, [(0, 1), (n / SR, 1), (m / SR, 0)])


def nylon(midi: int, dur: float) -> np.ndarray:
    n = _n(dur)
    m = n + int(0.15 * SR)
    f = midi_to_hz(midi)
    bright = decay(m, 0.05)
    a = decay(m, 0.9, 0.002) * env(m, [(0, 1), (n / SR, 1), (m / SR, 0)])
    return (osc("triangle", f, m, bright=15) + 0.5 * osc("saw", f, m, bright=12) * bright) * a


def power_chord(midi: int, dur: float) -> np.ndarray:
    """Root, fifth and octave through a tanh "amp", then a moving-average "cabinet"."""
    n = _n(dur)
    a = _sustain(n, 0.05, 0.003, sustain=0.85, dec=0.1)
    m = len(a)
    f = midi_to_hz(midi)
    chord = sum(osc("saw", f * r, m, bright=20, detune=d)
                for r, d in ((1.0, 0), (1.4983, 4), (2.0, -5)))
    return smooth(np.tanh(4.0 * chord), 5) * a * 0.7


def saw_lead(midi: int, dur: float) -> np.ndarray:
    n = _n(dur)
    a = _sustain(n, 0.12, 0.01, sustain=0.8)
    f = midi_to_hz(midi)
    m = len(a)
    return (osc("saw", f, m, bright=18, vibrato=0.006) +
            osc("saw", f, m, bright=18, detune=10, vibrato=0.006, phase0=0.4)) * 0.5 * a


def square_lead(midi: int, dur: float) -> np.ndarray:
    n = _n(dur)
    a = _sustain(n, 0.08, 0.01, sustain=0.75)
    return osc("square", midi_to_hz(midi), len(a), bright=9, vibrato=0.005) * a


def flute(midi: int, dur: float) -> np.ndarray:
    n = _n(dur)
    a = _sustain(n, 0.12, 0.07, sustain=0.85)
    m = len(a)
    f = midi_to_hz(midi)
    breath = smooth(_noise(m, midi), 4) * 0.04
    return (osc("sine", f, m, vibrato=0.007, vibrato_hz=5.0) +
            0.18 * osc("sine", f * 2, m) + 0.05 * osc("sine", f * 3, m) + breath) * a


def vibes(midi: int, dur: float) -> np.ndarray:
    n = _n(dur)
    m = n + int(0.6 * SR)
    f = midi_to_hz(midi)
    t = np.arange(m) / SR
    a = decay(m, 0.9, 0.002) * env(m, [(0, 1), (n / SR + 0.3, 1), (m / SR, 0)])
    tremolo = 1.0 + 0.25 * np.sin(2 * np.pi * 5.5 * t)
    return (osc("sine", f, m) + 0.3 * osc("sine", f * 4.0, m) * decay(m, 0.15)) * a * tremolo


def brass(midi: int, dur: float) -> np.ndarray:
    n = _n(dur)
    a = _sustain(n, 0.08, 0.04, sustain=0.8, dec=0.1)
    m = len(a)
    f = midi_to_hz(midi)
    swell = env(m, [(0, 0.2), (0.06, 1.0), (0.2, 0.6), (m / SR, 0.5)])
    return (osc("saw", f, m, bright=22, vibrato=0.004) * swell +
            osc("saw", f, m, bright=6) * (1 - swell)) * a


def dist_lead(midi: int, dur: float) -> np.ndarray:
    n = _n(dur)
    a = _sustain(n, 0.1, 0.005, sustain=0.9)
    m = len(a)
    raw = osc("saw", midi_to_hz(midi), m, bright=16, vibrato=0.01, vibrato_hz=5.8)
    return smooth(np.tanh(5.0 * raw), 4) * a * 0.6


VOICES = {
    "kick": kick, "kick808": kick808, "snare": snare, "rim": rim, "clap": clap, "hat": hat,
    "open_hat": open_hat, "crash": crash, "ride": ride, "shaker": shaker, "brush": brush,
    "tom": tom, "sub_bass": sub_bass, "pluck_bass": pluck_bass, "upright_bass": upright_bass,
    "rock_bass": rock_bass, "epiano": epiano, "pad": pad, "strings": strings, "organ": organ,
    "stab": stab, "guitar_chank": guitar_chank, "nylon": nylon, "power_chord": power_chord,
    "saw_lead": saw_lead, "square_lead": square_lead, "flute": flute, "vibes": vibes,
    "brass": brass, "dist_lead": dist_lead,
}
DRUMS = frozenset({"kick", "kick808", "snare", "rim", "clap", "hat", "open_hat", "crash", "ride",
                   "shaker", "brush", "tom"})


class VoiceCache:
    """Renders each distinct (voice, note, length) once per track: drums and loops repeat a lot."""

    def __init__(self) -> None:
        self._buffers: dict[tuple[str, int, int], np.ndarray] = {}

    def get(self, voice: str, midi: int, dur: float) -> np.ndarray:
        key = (voice, 0 if voice in DRUMS else midi, 0 if voice in DRUMS else round(dur * 200))
        buffer = self._buffers.get(key)
        if buffer is None:
            buffer = VOICES[voice](midi, key[2] / 200.0)
            if voice in DRUMS:  # one-shots at a common peak, so mixer gains mean the same thing
                buffer = buffer / np.max(np.abs(buffer))
            buffer = buffer.astype(np.float32)
            self._buffers[key] = buffer
        return buffer
