"""EchoNest's demo library: a dozen original tracks synthesized at install time, so a fresh
clone has music to play before anyone points MUSIC_DIR at their own.

`generate(out_dir)` writes `<Artist>/<Album>/<NN> <Title>.mp3` plus each album's `cover.png`
and a `manifest.json` stamped with GENERATOR_VERSION; a rerun with a matching manifest is a
no-op that reads nothing but the manifest and file sizes. Bump GENERATOR_VERSION whenever the
synthesis changes the samples, so installs regenerate.
"""

from __future__ import annotations

from echonest.demo_music.library import GENERATOR_VERSION, generate

__all__ = ["GENERATOR_VERSION", "generate"]
