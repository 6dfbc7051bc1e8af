"""The generated demo library: real, tagged, decodable MP3s of original music, built
deterministically and idempotently, that Bender's strategies can find."""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest
from mutagen.easyid3 import EasyID3
from mutagen.id3 import ID3

from echonest.catalog.offline.loader import load as load_offline
from echonest.catalog.offline.text import genre_key
from echonest.demo_music import library
from echonest.demo_music.compose import compose
from echonest.demo_music.library import generate, safe_name, track_path
from echonest.demo_music.mix import render
from echonest.demo_music.plan import PLAN, TrackPlan

SECONDS = 6.0
# Two tracks of one album (shared cover, track numbers) and the one in 3/4.
SHORT_PLAN = (PLAN[0], PLAN[1], PLAN[9])


def _short(out: Path, **kwargs) -> list[Path]:
    return generate(out, plan=kwargs.pop("plan", SHORT_PLAN), max_seconds=SECONDS, workers=1,
                    **kwargs)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo-music")
    return out, _short(out)


def _decode(path: Path) -> tuple[np.ndarray, int]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        chunks = [frame.to_ndarray() for frame in container.decode(stream)]
        rate = stream.codec_context.sample_rate
    return np.concatenate(chunks, axis=1), rate


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc
        chunks.append((kind, body))
        pos += 12 + length
    return chunks


def _mtimes(out: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}


def test_the_real_track_list_is_a_varied_dozen_bender_can_find():
    offline_genres = set(load_offline().genre_tracks)
    assert len(PLAN) == 12
    assert all(60 <= p.planned_seconds <= 180 for p in PLAN)
    assert len({p.bpm for p in PLAN}) == 12
    assert len({p.key for p in PLAN}) == 12
    assert len({p.key.split()[0] for p in PLAN}) == 12  # twelve different tonics, even
    assert len({genre_key(p.genre) for p in PLAN}) == 12
    assert {genre_key(p.genre) for p in PLAN} <= offline_genres
    assert {p.year // 10 * 10 for p in PLAN} >= {1970, 1980, 1990, 2000, 2010, 2020}
    artists = {p.artist for p in PLAN}
    assert 2 <= len(artists) <= 4
    for artist in artists:
        assert len({p.album for p in PLAN if p.artist == artist}) >= 2
    assert len({track_path(p) for p in PLAN}) == 12


def test_files_are_laid_out_by_artist_and_album_and_decode(built):
    out, paths = built
    assert [p.relative_to(out) for p in paths] == [
        Path("The EchoNest House Band/Feathers & Funk/01 Strut of the Starling.mp3"),
        Path("The EchoNest House Band/Feathers & Funk/02 Sunday Morning Nest.mp3"),
        Path("The Quiet Quail Trio/Café Pássaro/02 Waltz for a Wren.mp3"),
    ]
    for path in paths:
        pcm, rate = _decode(path)
        assert rate == 44100
        assert pcm.shape[0] == 2
        assert abs(pcm.shape[1] / rate - SECONDS) < 0.2
    assert (out / "The EchoNest House Band/Feathers & Funk/cover.png").is_file()
    assert (out / "The Quiet Quail Trio/Café Pássaro/cover.png").is_file()


def test_tags_say_what_bender_needs(built):
    out, paths = built
    tags = EasyID3(paths[2])
    assert tags["title"] == ["Waltz for a Wren"]
    assert tags["artist"] == ["The Quiet Quail Trio"]
    assert tags["albumartist"] == ["The Quiet Quail Trio"]
    assert tags["album"] == ["Café Pássaro"]
    assert tags["genre"] == ["Jazz"]
    assert tags["date"] == ["2004"]
    assert tags["tracknumber"] == ["2/2"]
    assert EasyID3(paths[0])["tracknumber"] == ["1/2"]
    assert EasyID3(paths[1])["genre"] == ["Soul"]


def test_embedded_cover_is_a_valid_png_matching_the_album_folder(built):
    out, paths = built
    art = ID3(paths[0]).getall("APIC")
    assert len(art) == 1 and art[0].mime == "image/png" and art[0].type == 3
    chunks = _png_chunks(art[0].data)
    width, height = struct.unpack(">II", chunks[0][1][:8])
    assert (chunks[0][0], width, height) == (b"IHDR", 512, 512)
    pixels = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    assert len(pixels) == 512 * (1 + 512 * 3)
    assert art[0].data == (paths[0].parent / "cover.png").read_bytes()
    other = ID3(paths[2]).getall("APIC")[0].data
    assert other != art[0].data  # each album its own cover


def test_same_generator_same_samples_and_bytes(built, tmp_path):
    out, paths = built
    plan = SHORT_PLAN[2]
    first = render(plan, *compose(plan, SECONDS), plan.seed)
    second = render(plan, *compose(plan, SECONDS), plan.seed)
    assert hashlib.sha256(first.tobytes()).digest() == hashlib.sha256(second.tobytes()).digest()
    again = _short(tmp_path)
    for a, b in zip(paths, again, strict=True):
        assert a.read_bytes() == b.read_bytes()
    manifest = json.loads((out / "manifest.json").read_text())
    relative = paths[2].relative_to(out).as_posix()
    assert manifest["pcm_sha256"][relative] == hashlib.sha256(first.tobytes()).hexdigest()


def test_different_tracks_sound_different(built):
    out, _paths = built
    hashes = json.loads((out / "manifest.json").read_text())["pcm_sha256"].values()
    assert len(set(hashes)) == len(SHORT_PLAN)


def test_rerun_when_up_to_date_touches_nothing(built):
    out, paths = built
    before = _mtimes(out)
    assert _short(out) == paths
    assert _mtimes(out) == before


def test_new_generator_version_regenerates(tmp_path, monkeypatch):
    paths = _short(tmp_path, plan=SHORT_PLAN[:1])
    mine = tmp_path / "The EchoNest House Band" / "my own song.mp3"
    mine.write_bytes(b"not ours")
    before = paths[0].stat().st_mtime_ns
    monkeypatch.setattr(library, "GENERATOR_VERSION", "test-next")
    again = _short(tmp_path, plan=SHORT_PLAN[:1])
    assert again == paths and again[0].stat().st_mtime_ns != before
    assert json.loads((tmp_path / "manifest.json").read_text())["stamp"]["generator"] == "test-next"
    assert "generator vtest-next" in str(ID3(again[0]).getall("COMM")[0])
    assert mine.read_bytes() == b"not ours"  # never deletes what it did not write


def test_a_changed_track_list_removes_the_old_files(tmp_path):
    old = _short(tmp_path, plan=SHORT_PLAN[2:])
    new = _short(tmp_path, plan=SHORT_PLAN[:1])
    assert not old[0].exists() and not old[0].parent.exists()
    assert new[0].is_file()


def test_force_and_a_broken_manifest_regenerate(tmp_path):
    paths = _short(tmp_path, plan=SHORT_PLAN[:1])
    first = paths[0].stat().st_mtime_ns
    _short(tmp_path, plan=SHORT_PLAN[:1], force=True)
    second = paths[0].stat().st_mtime_ns
    assert second != first
    (tmp_path / "manifest.json").write_text("{not json")
    _short(tmp_path, plan=SHORT_PLAN[:1])
    assert paths[0].stat().st_mtime_ns != second
    paths[0].write_bytes(b"truncated")
    _short(tmp_path, plan=SHORT_PLAN[:1])
    assert paths[0].stat().st_size > 10_000  # a damaged file is noticed by its size


def test_loud_enough_and_never_clipping(built):
    _out, paths = built
    for path in paths:
        pcm, _rate = _decode(path)
        peak = float(np.max(np.abs(pcm)))
        rms = float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2)))
        assert peak <= 1.0, f"{path.name} clips: peak {peak}"
        assert 20 * np.log10(rms) > -26, f"{path.name} is too quiet"
    plan = SHORT_PLAN[0]
    pcm = render(plan, *compose(plan, SECONDS), plan.seed)
    assert np.max(np.abs(pcm.astype(np.int32))) <= 0.9 * 32767


def test_hostile_titles_cannot_escape_the_folder(tmp_path):
    evil = replace(PLAN[0], artist="../../..", album="..\\..\\etc", title="../../../passwd\x00",
                   number=1)
    hidden = replace(PLAN[1], artist=".hidden\u202e", album="a/b", title=" . ", number=2)
    out = tmp_path / "music"
    paths = generate(out, plan=(evil, hidden), max_seconds=1.0, workers=1)
    root = out.resolve()
    for path in [*paths, *out.rglob("*")]:
        assert path.resolve().is_relative_to(root)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["music"]
    assert paths[0].relative_to(out) == Path("Unknown Artist/etc/01 passwd.mp3")
    assert paths[1].relative_to(out) == Path("hidden/a b/02 Untitled.mp3")
    assert safe_name("..") == "Untitled" and safe_name("a\\b/c:d") == "a b c d"


def test_two_tracks_with_one_file_name_are_refused(tmp_path):
    twin = replace(PLAN[0], seed=1)
    with pytest.raises(ValueError):
        generate(tmp_path, plan=(PLAN[0], twin), max_seconds=1.0, workers=1)


def test_plan_fields_are_plain_data():
    # The manifest stamps a digest of repr(plan); a field whose repr varied between runs would
    # regenerate the library on every install.
    assert all(type(getattr(p, f)) in (str, int) for p in PLAN
               for f in TrackPlan.__dataclass_fields__)


def test_cli_builds_into_the_configured_folder(tmp_path, monkeypatch):
    from config import CONF
    from echonest.demo_music import __main__ as cli

    calls = []
    monkeypatch.setattr(cli, "generate", lambda out, force: calls.append((out, force)) or [])
    monkeypatch.setitem(CONF._values, "DEMO_MUSIC", "auto")
    monkeypatch.setitem(CONF._values, "DEMO_MUSIC_DIR", str(tmp_path / "configured"))
    assert cli.main([]) == 0
    assert cli.main(["--out", str(tmp_path / "explicit"), "--force"]) == 0
    assert calls == [(tmp_path / "configured", False), (tmp_path / "explicit", True)]


@pytest.mark.parametrize("mode, folder", [("false", "data/x"), (False, "data/x"), ("auto", "")])
def test_cli_does_nothing_when_demo_music_is_off(tmp_path, monkeypatch, mode, folder):
    from config import CONF
    from echonest.demo_music import __main__ as cli

    calls = []
    monkeypatch.setattr(cli, "generate", lambda out, force: calls.append(out) or [])
    monkeypatch.setitem(CONF._values, "DEMO_MUSIC", mode)
    monkeypatch.setitem(CONF._values, "DEMO_MUSIC_DIR", folder)
    assert cli.main([]) == 0
    assert calls == []
    assert cli.main(["--out", str(tmp_path / "asked")]) == 0  # an explicit --out still builds
    assert calls == [tmp_path / "asked"]


def test_the_library_provider_serves_the_demo_songs_to_bender(built, r, tmp_path):
    """The scanner reads our tags, art and durations; Bender's lookups find the songs."""
    from config import CONF
    from echonest.catalog import reset_catalogs
    from echonest.catalog.library import LibraryProvider
    from echonest.catalog.library.index import reset_indexes
    from echonest.catalog.library.scan import Scanner

    out, _paths = built
    empty = tmp_path / "no music yet"
    empty.mkdir()
    conf = CONF.copy(MUSIC_DIR=str(empty), DEMO_MUSIC="auto", DEMO_MUSIC_DIR=str(out),
                     LIBRARY_RESCAN_SECONDS=60, CATALOG="offline")
    reset_indexes()
    reset_catalogs()
    try:
        Scanner(r, conf).scan()
        provider = LibraryProvider(conf, r)
        provider.index.refresh(force=True)
        [wren] = provider.genre_tracks("jazz")
        assert (wren.title, wren.album, wren.year) == ("Waltz for a Wren", "Café Pássaro", 2004)
        assert abs(wren.duration - SECONDS) < 0.5 and wren.images
        assert {t.title for t in provider.year_tracks(1970, 1979)} == {
            "Strut of the Starling", "Sunday Morning Nest"}
        [funk] = provider.genre_tracks("Funk")
        assert {t.title for t in provider.search_artist("The EchoNest House Band")} == {
            "Strut of the Starling", "Sunday Morning Nest"}
        assert [t.title for t in provider.search("starling")] == ["Strut of the Starling"]
        assert funk.uri.startswith("library:track:")
    finally:
        reset_indexes()
        reset_catalogs()
