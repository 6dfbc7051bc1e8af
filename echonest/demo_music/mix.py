"""Mixes composed notes into 16-bit stereo PCM: gain staging, panning, a shared reverb, echo on
the lead, loudness matching, a peak limiter and the fade-out."""

from __future__ import annotations

import math

import numpy as np

from echonest.demo_music.compose import Note
from echonest.demo_music.plan import TrackPlan
from echonest.demo_music.voices import SR, VoiceCache, smooth

# part → (gain, pan -1..1, reverb send)
PARTS = {
    "kick": (0.5, 0.0, 0.03), "kick808": (0.55, 0.0, 0.03), "snare": (1.5, 0.05, 0.2),
    "clap": (1.8, -0.05, 0.2), "rim": (1.0, 0.15, 0.25), "hat": (0.6, 0.3, 0.05),
    "open_hat": (0.3, 0.3, 0.05), "crash": (0.5, -0.3, 0.15), "ride": (0.4, -0.25, 0.1),
    "shaker": (0.6, -0.35, 0.08), "brush": (0.8, 0.15, 0.15), "tom": (0.8, -0.15, 0.2),
    "bass": (0.4, 0.0, 0.02), "chords": (0.18, -0.2, 0.3), "pad": (0.09, 0.0, 0.45),
    "lead": (0.28, 0.12, 0.3),
}
TARGET_RMS = 0.16     # about -16 dBFS: the tracks play back at matching loudness
CEILING = 0.89        # -1 dBFS, headroom for the MP3 encoder's overshoot
FADE_SECONDS = 8.0


def render(plan: TrackPlan, notes: list[Note], total: float, seed: int) -> np.ndarray:
    """int16 array of shape (2, samples)."""
    n = int(total * SR)
    cache = VoiceCache()
    style = plan.spec
    by_part: dict[str, list[Note]] = {}
    for note in notes:
        by_part.setdefault(note.part, []).append(note)
    # One part at a time through a single scratch bus: five track-length buffers in all, not
    # one per part (a dozen parts of a two-minute track would be ~250 MB).
    left, right, send, bus, scaled = (np.zeros(n, np.float32) for _ in range(5))
    for part in sorted(by_part):
        bus.fill(0.0)
        for note in by_part[part]:
            buffer = cache.get(note.voice, note.midi, note.length)
            start = int(note.start * SR)
            end = min(n, start + len(buffer))
            if end > start:
                bus[start:end] += buffer[: end - start] * note.velocity
        gain, pan, reverb = PARTS[part]
        gain = style.gains.get(part, gain)
        if part == "lead":
            _echo(bus, 60.0 / plan.bpm * 0.75)
        angle = (pan + 1) * math.pi / 4
        if part == "pad":  # a few milliseconds between the sides makes the pad wide
            d = int(0.013 * SR)
            _mix_into(left, bus, gain * 0.75, scaled)
            _mix_into(right[d:], bus[: n - d], gain * 0.75, scaled[d:])
        else:
            _mix_into(left, bus, gain * math.cos(angle), scaled)
            _mix_into(right, bus, gain * math.sin(angle), scaled)
        _mix_into(send, bus, gain * reverb * style.reverb, scaled)
    del bus, scaled
    stereo = np.stack([left, right])
    del left, right
    stereo += _reverb(send, seed)
    if style.lofi:
        stereo = _lofi(stereo, seed)
    return _master(stereo)


def _mix_into(target: np.ndarray, source: np.ndarray, gain: float, scratch: np.ndarray) -> None:
    np.multiply(source, np.float32(gain), out=scratch)
    target += scratch


def _echo(bus: np.ndarray, delay: float) -> None:
    """Two repeats of the dry signal, in place (a dotted eighth apart: the classic lead echo)."""
    d = int(delay * SR)
    if d < len(bus):
        dry = bus.copy()
        bus[d:] += dry[: len(bus) - d] * np.float32(0.3)
        if 2 * d < len(bus):
            bus[2 * d:] += dry[: len(bus) - 2 * d] * np.float32(0.12)


def _fast_size(n: int) -> int:
    """Smallest 2^a·3^b·5^c ≥ n: FFTs of awkward lengths are many times slower."""
    best = 1 << (n - 1).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            size = p35
            while size < n:
                size *= 2
            best = min(best, size)
            p35 *= 3
        p5 *= 5
    return best


def _reverb(send: np.ndarray, seed: int, factor: int = 6, seconds: float = 1.8) -> np.ndarray:
    """Convolution with decaying noise at a sixth of the sample rate: a reverb tail has little
    treble anyway, and the FFTs cost a sixth as much. The right side is the left one re-delayed,
    which decorrelates the sides for the price of two shifts."""
    n = len(send)
    pad = (-n) % factor
    low = np.concatenate((send, np.zeros(pad, send.dtype))).reshape(-1, factor).mean(axis=1)
    rate = SR // factor
    m = int(seconds * rate)
    t = np.arange(m) / rate
    ir = np.random.default_rng(seed).standard_normal(m) * np.exp(-t / (seconds / 6.9))
    ir *= np.minimum(1, t / 0.02) * 0.35 / np.sqrt(np.sum(ir**2))
    size = _fast_size(len(low) + m)
    wet = np.fft.irfft(np.fft.rfft(low, size) * np.fft.rfft(ir, size), size)[: len(low)]
    d1, d2 = int(0.011 * rate), int(0.029 * rate)
    other = np.zeros_like(wet)
    other[d1:] += 0.8 * wet[: len(wet) - d1]
    other[d2:] += 0.35 * wet[: len(wet) - d2]
    return np.stack([_upsample(side, factor, n) for side in (wet, other)])


def _upsample(low: np.ndarray, factor: int, n: int) -> np.ndarray:
    """Linear interpolation by `factor`, one strided write per phase (no per-sample work)."""
    low = low.astype(np.float32)
    following = np.append(low[1:], np.float32(0))
    out = np.empty(len(low) * factor, np.float32)
    for k in range(factor):
        out[k::factor] = low + (following - low) * np.float32(k / factor)
    return out[:n]


def _lofi(stereo: np.ndarray, seed: int) -> np.ndarray:
    """Dull the top end and add sparse vinyl crackle."""
    rng = np.random.default_rng(seed + 1)
    n = stereo.shape[1]
    crackle = np.zeros(n)
    hits = rng.integers(0, n, size=int(n / SR * 6))
    crackle[hits] = rng.uniform(-0.12, 0.12, size=len(hits))
    crackle = smooth(crackle, 2)
    return np.stack([smooth(ch, 5) + crackle for ch in stereo])


def _master(stereo: np.ndarray) -> np.ndarray:
    n = stereo.shape[1]
    fade = int(min(FADE_SECONDS, n / SR / 4) * SR)
    body = stereo[:, : max(1, n - fade)]
    rms = math.sqrt(sum(float(np.dot(ch, ch)) for ch in body) / body.size) or 1.0
    x = stereo * np.float32(TARGET_RMS / rms)
    # Soft knee above 0.6: the few peaks over it are rounded off instead of clipped.
    knee = 0.6
    over = np.nonzero(np.abs(x) > knee)
    peaks = x[over]
    x[over] = np.sign(peaks) * (knee + (1 - knee) * np.tanh((np.abs(peaks) - knee) / (1 - knee)))
    peak = float(np.max(np.abs(x))) or 1.0
    if peak > CEILING:
        x *= np.float32(CEILING / peak)
    x[:, n - fade:] *= (np.cos(np.linspace(0, np.pi / 2, fade)) ** 2).astype(np.float32)
    attack = int(0.01 * SR)
    x[:, :attack] *= np.linspace(0, 1, attack, dtype=np.float32)
    x *= np.float32(32767.0)
    return np.rint(x, out=x).astype(np.int16)
