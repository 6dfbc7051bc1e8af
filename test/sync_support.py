"""Shared by the sync browser test and bench/bench_sync.py: a generated music folder, a nest
playing from it, and sampling the page hook against the machine's own clock.

The server runs on this machine, so its clock *is* this machine's clock: a page's audible
position is compared with ``performance.timeOrigin + performance.now()`` (the same clock), which
includes the page's clock-sync error instead of trusting it.
"""

from __future__ import annotations

import shutil
import time
from datetime import datetime
from pathlib import Path
from typing import Any

# Three original sine "songs": long enough to sample, pause, resume and skip through.
TRACKS = (
    ("Sync Test Band", "First Light", 440.0),
    ("Sync Test Band", "Second Wind", 440.0),
    ("Sync Test Band", "Third Time", 440.0),
)

SAMPLE_JS = """() => {
  const p = window.EchoNest.playback();
  return {...p, wall: performance.timeOrigin + performance.now()};
}"""


def make_music_dir(root: Path, seconds: float = 240.0) -> Path:
    """MP3s tagged with title/artist/album, made with the library tests' own encoder."""
    from audio_fixtures import encode
    from mutagen.id3 import ID3, TALB, TIT2, TPE1

    root.mkdir(parents=True, exist_ok=True)
    # One encode (the slow part), copied: the tags make them three songs with three ids.
    template = encode(root.parent / f".{root.name}-template.mp3", seconds=seconds, freq=TRACKS[0][2])
    for artist, title, _freq in TRACKS:
        path = root / f"{artist} - {title}.mp3"
        shutil.copyfile(template, path)
        tags = ID3()
        tags.add(TIT2(encoding=3, text=title))
        tags.add(TPE1(encoding=3, text=artist))
        tags.add(TALB(encoding=3, text="Clockwork"))
        tags.save(str(path))
    return root


def library_env(music: Path) -> dict[str, str]:
    return {"MUSIC_DIR": str(music), "DEMO_MUSIC": "false"}


def find_library_uris(visitor: Any, timeout: float = 30.0) -> dict[str, dict]:
    """title → search hit, once the background scan has indexed every generated track."""
    deadline = time.monotonic() + timeout
    found: dict[str, dict] = {}
    while time.monotonic() < deadline:
        hits = visitor.page.evaluate(
            """async () => {
                const res = await fetch('/api/search?q=' + encodeURIComponent('Sync Test Band'));
                return res.ok ? res.json() : [];
            }""")
        found = {h["track_name"]: h for h in hits if str(h.get("uri", "")).startswith("library:")}
        if all(title in found for _, title, _ in TRACKS):
            return found
        time.sleep(0.3)
    raise AssertionError(f"the library scan did not find the generated tracks: {found}")


def playing(visitor: Any, code: str) -> dict:
    return visitor.page.evaluate(
        "async (code) => (await fetch(`/api/nests/${code}/playing`)).json()", code)


def start_ms(body: dict) -> float:
    return datetime.fromisoformat(body["starttime"].replace("Z", "+00:00")).timestamp() * 1000


def sample(visitor: Any, start: float) -> dict:
    """The hook plus its error against the machine clock (ms; + = ahead of the server)."""
    s = visitor.page.evaluate(SAMPLE_JS)
    if s.get("position") is not None:
        s["err_ms"] = (s["position"] - (s["wall"] - start) / 1000) * 1000
        s["est_err_ms"] = (s["position"] - (s["serverTime"] - start) / 1000) * 1000
    else:
        s["err_ms"] = s["est_err_ms"] = None
    return s


def sample_round(visitors: list, start: float) -> list[dict]:
    return [sample(v, start) for v in visitors]


def pairwise(errors: list[float]) -> list[float]:
    return [abs(a - b) for i, a in enumerate(errors) for b in errors[i + 1:]]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]
