"""Render EchoNest's original airhorn sounds to static/audio/{name}.wav (pure Python, run once).

Every sound is synthesized here from sines, band-limited saws and noise, so there is nothing to
license. Output: mono, 22 050 Hz, 16-bit, each file under 60 KB (about 1.3 s at most).
Usage: python scripts/gen_airhorns.py [out_dir]
"""

from __future__ import annotations

import math
import random
import struct
import sys
import wave
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from echonest.airhorns import AIRHORN_NAMES  # noqa: E402

RATE = 22050
MAX_SECONDS = 1.3
TAU = 2 * math.pi

Signal = list[float]


def silence(seconds: float) -> Signal:
    return [0.0] * int(seconds * RATE)


def envelope(n: int, attack: float, release: float) -> list[float]:
    a, r = max(1, int(attack * RATE)), max(1, int(release * RATE))
    out = []
    for i in range(n):
        g = 1.0
        if i < a:
            g = i / a
        if i > n - r:
            g = min(g, max(0.0, (n - i) / r))
        out.append(g)
    return out


def tone(
    seconds: float,
    freq: Callable[[float], float],
    harmonics: int = 1,
    attack: float = 0.01,
    release: float = 0.05,
) -> Signal:
    """A band-limited saw (harmonics>1) or sine whose pitch follows freq(t)."""
    n = int(seconds * RATE)
    env = envelope(n, attack, release)
    phase, out = 0.0, []
    for i in range(n):
        phase += TAU * freq(i / RATE) / RATE
        s = sum(math.sin(k * phase) / k for k in range(1, harmonics + 1))
        out.append(s * env[i])
    return out


def noise(seconds: float, decay: float, seed: int) -> Signal:
    rnd = random.Random(seed)
    n = int(seconds * RATE)
    return [rnd.uniform(-1, 1) * math.exp(-i / RATE / decay) for i in range(n)]


def mix(*parts: Signal) -> Signal:
    n = max(len(p) for p in parts)
    return [sum(p[i] for p in parts if i < len(p)) for i in range(n)]


def cat(*parts: Signal) -> Signal:
    return [s for p in parts for s in p]


def at(offset: float, sig: Signal) -> Signal:
    return silence(offset) + sig


def horn_blast(seconds: float, base: float = 415.0) -> Signal:
    """Three slightly detuned saws a major third/fifth apart, with a wobble: a party air horn."""
    voices = [
        tone(seconds, lambda t, f=f: f * (1 + 0.006 * math.sin(TAU * 6 * t)), 9, 0.02, 0.08)
        for f in (base, base * 1.26, base * 1.498)
    ]
    return mix(*voices)


def classic() -> Signal:
    return horn_blast(1.2)


def triple() -> Signal:
    return cat(horn_blast(0.26), silence(0.08), horn_blast(0.26), silence(0.08), horn_blast(0.55))


def foghorn() -> Signal:
    low = tone(1.25, lambda t: 98 - 6 * t, 14, 0.25, 0.3)
    sub = tone(1.25, lambda t: 49 - 3 * t, 3, 0.25, 0.3)
    return mix(low, sub)


def laser() -> Signal:
    def zap() -> Signal:
        return tone(0.28, lambda t: 2400 * math.exp(-t * 9) + 180, 3, 0.002, 0.05)

    return cat(zap(), silence(0.04), zap(), silence(0.04), zap())


def siren() -> Signal:
    return tone(1.25, lambda t: 850 + 350 * math.sin(TAU * 1.6 * t), 4, 0.03, 0.1)


def tada() -> Signal:
    chord = (523.25, 659.25, 783.99)
    short = mix(*[tone(0.16, lambda t, f=f: f, 6, 0.005, 0.04) for f in chord])
    long = mix(
        *[
            tone(0.95, lambda t, f=f: f * (1 + 0.008 * math.sin(TAU * 5.5 * t)), 6, 0.01, 0.4)
            for f in (*chord, 1046.5)
        ]
    )
    return cat(short, silence(0.06), long)


def drum(freq: float, seconds: float) -> Signal:
    body = tone(seconds, lambda t: freq * (1 + 1.5 * math.exp(-t * 30)), 1, 0.001, 0.02)
    return [s * math.exp(-i / RATE / (seconds / 4)) for i, s in enumerate(body)]


def rimshot() -> Signal:
    ba = mix(drum(190, 0.18), [0.5 * s for s in noise(0.05, 0.01, 1)])
    dum = mix(drum(140, 0.2), [0.5 * s for s in noise(0.05, 0.01, 2)])
    tss = [0.45 * s for s in noise(0.8, 0.22, 3)]
    return mix(ba, at(0.2, dum), at(0.42, tss))


def sad_trombone() -> Signal:
    notes = [(311.1, 0.24), (293.7, 0.24), (277.2, 0.24)]
    parts = [tone(d, lambda t, f=f: f, 8, 0.03, 0.06) for f, d in notes]
    last = tone(0.52, lambda t: 261.6 * (1 + 0.025 * math.sin(TAU * 7 * t)), 8, 0.03, 0.2)
    return cat(*parts, last)


def bwamp() -> Signal:
    brass = tone(1.25, lambda t: 55 + 2 * math.sin(TAU * 3 * t), 24, 0.05, 0.45)
    octave = tone(1.25, lambda t: 110, 10, 0.05, 0.45)
    rumble = [0.15 * s for s in noise(1.25, 0.5, 4)]
    return mix(brass, [0.6 * s for s in octave], rumble)


def kazoo() -> Signal:
    melody = [(392, 0.16), (392, 0.16), (440, 0.3), (392, 0.3), (523.3, 0.36)]
    out: Signal = []
    for f, d in melody:
        out += tone(d, lambda t, f=f: f * (1 + 0.012 * math.sin(TAU * 9 * t)), 16, 0.015, 0.03)
    return out


SOUNDS: dict[str, Callable[[], Signal]] = {
    "classic": classic,
    "foghorn": foghorn,
    "triple": triple,
    "laser": laser,
    "siren": siren,
    "tada": tada,
    "rimshot": rimshot,
    "sad-trombone": sad_trombone,
    "bwamp": bwamp,
    "kazoo": kazoo,
}


def write_wav(path: Path, sig: Signal) -> None:
    sig = sig[: int(MAX_SECONDS * RATE)]
    peak = max(abs(s) for s in sig) or 1.0
    frames = b"".join(struct.pack("<h", int(s / peak * 0.85 * 32767)) for s in sig)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(frames)


def main(out_dir: Path) -> None:
    missing = set(AIRHORN_NAMES) - set(SOUNDS)
    if missing:
        raise SystemExit(f"no synth for airhorns: {sorted(missing)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in AIRHORN_NAMES:
        path = out_dir / f"{name}.wav"
        write_wav(path, SOUNDS[name]())
        print(f"{path} {path.stat().st_size} bytes")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "static" / "audio")
