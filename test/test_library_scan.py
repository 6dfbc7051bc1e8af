"""The library scanner and index: real tagged files of every format, read once, kept in Redis."""

# ruff: noqa: F811  -- the shared fixtures are imported by name; tests take them as arguments

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import pytest
from audio_fixtures import PLAYABLE, alac, clip, png_bytes, tag, tagged
from library_support import (  # noqa: F401 - fixtures
    fresh_indexes,
    library,
    library_conf,
    library_template,
    own_library,
    track_id_of,
)

from echonest import keys
from echonest.catalog.library.index import shared_index
from echonest.catalog.library.scan import Scanner
from echonest.catalog.library.tags import read_tags


def records(r) -> dict[str, dict]:
    return {k: json.loads(v) for k, v in r.hgetall(keys.LIBRARY_TRACKS).items()}


def by_title(r) -> dict[str, dict]:
    return {rec["title"]: rec for rec in records(r).values()}


class CountingReader:
    """The real tag reader, counting the files it is asked to read."""

    def __init__(self):
        self.paths: list[Path] = []

    def __call__(self, path, rel):
        self.paths.append(path)
        return read_tags(path, rel)


@pytest.mark.parametrize("title,artist,album,genre,year,track,mime,art", [
    ("Bohemian Rhapsody", "Queen", "A Night at the Opera", "Rock", 1975, 1, "audio/mpeg",
     "embedded"),
    ("Love of My Life", "Queen", "A Night at the Opera", "Rock", 1975, 2, "audio/mp4",
     "embedded"),
    ("We Will Rock You", "Queen", "News of the World", "Rock", 1977, 1, "audio/ogg",
     "file:Queen/News of the World/Cover.JPG"),
    ("One More Time", "Daft Punk", "Discovery", "Electronic", 2001, 1, "audio/flac", "embedded"),
    ("Jóga", "Björk", "Homogenic", "Electronic", 1997, 3, "audio/wav", ""),
    ("夜に駆ける", "YOASOBI", "THE BOOK", "J-Pop", 2021, None, "audio/mpeg", ""),
])
def test_tags_of_every_format_are_read(r, library, title, artist, album, genre, year, track,
                                       mime, art):
    rec = by_title(r)[title]
    assert rec["artists"] == [artist] and rec["album"] == album
    assert rec["genres"] == [genre] and rec["year"] == year and rec["track"] == track
    assert rec["mime"] == mime and rec["art"] == art
    assert 0.9 < rec["duration"] < 1.2


def test_missing_tags_fall_back_to_the_path(r, library):
    found = by_title(r)
    untagged = found["No Tags Here"]
    assert untagged["artists"] == ["Untagged Artist"] and untagged["album"] == "Some Album"
    assert untagged["track"] == 3
    named = found["Feeling Good"]
    assert named["artists"] == ["Nina Simone"] and named["album"] == ""


def test_only_playable_files_inside_the_root_are_indexed(r, library):
    conf, files = library
    assert len(records(r)) == len(PLAYABLE)
    paths = {rec["path"] for rec in records(r).values()}
    assert "escape.mp3" not in paths and not any(p.startswith("escape-dir") for p in paths)
    assert not any(".hidden" in p or "broken" in p or "loop" in p for p in paths)
    assert "with spaces & ünïcödé/日本語 の 曲.mp3" in paths


def test_ids_are_16_hex_and_stable_across_rescans_and_restarts(r, library, fresh_indexes):
    conf, files = library
    first = set(records(r))
    assert all(len(i) == 16 and int(i, 16) >= 0 and i == i.lower() for i in first)
    Scanner(r, conf).scan()
    assert set(records(r)) == first
    # a "restart": the index is rebuilt from nothing by new objects
    r.flushdb()
    from echonest.catalog.library.index import reset_indexes

    reset_indexes()
    Scanner(r, conf).scan()
    assert set(records(r)) == first
    root = Path(conf.MUSIC_DIR)
    assert track_id_of(root, files["bohemian"]) in first


def test_a_rescan_reads_only_new_or_changed_files(r, own_library):
    conf, root, files = own_library
    reader = CountingReader()
    scanner = Scanner(r, conf, reader=reader)
    scanner.scan()
    assert len(reader.paths) == len(PLAYABLE) + 2  # + the corrupt and the non-audio file
    reader.paths.clear()
    report = scanner.scan()
    assert reader.paths == [] and report.unchanged == len(PLAYABLE)
    stat = files["named"].stat()
    os.utime(files["named"], ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    Scanner(r, conf, reader=reader).scan()
    assert reader.paths == [files["named"]]


def test_an_edited_tag_shows_up_after_a_rescan(r, own_library):
    conf, root, files = own_library
    Scanner(r, conf).scan()
    tag(files["named"], title="Feeling Good (Remastered)", artist="Nina Simone")
    stat = files["named"].stat()
    os.utime(files["named"], ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    Scanner(r, conf).scan()
    assert "Feeling Good (Remastered)" in by_title(r)
    assert len(records(r)) == len(PLAYABLE)


def test_added_and_removed_files_are_picked_up_without_a_restart(r, own_library):
    conf, root, files = own_library
    scanner = Scanner(r, conf)
    scanner.scan()
    index = shared_index(r)
    assert "New Song" not in {t.title for t in index.data().tracks}
    tagged(root / "New Artist" / "New Song.flac", title="New Song", artist="New Artist")
    files["joga"].unlink()
    report = scanner.scan()
    assert (report.added, report.removed) == (1, 1)
    titles = {t.title for t in index.data().tracks}  # this process sees it at once
    assert "New Song" in titles and "Jóga" not in titles


def test_an_unreadable_file_is_logged_once_not_per_rescan(r, own_library, caplog):
    conf, root, files = own_library
    caplog.set_level(logging.WARNING, "echonest.catalog.library.scan")
    Scanner(r, conf).scan()
    Scanner(r, conf).scan()
    Scanner(r, conf).scan()
    lines = [rec.getMessage() for rec in caplog.records]
    assert sum("corrupt.flac" in line for line in lines) == 1
    assert sum("not audio.mp3" in line for line in lines) == 1
    # replaced by a real song: read again, and indexed
    clip(files["not_audio"])
    Scanner(r, conf).scan()
    assert "not audio" in by_title(r)


def test_a_symlink_loop_does_not_hang_or_duplicate(r, own_library):
    conf, root, files = own_library
    (root / "Daft Punk" / "again").symlink_to(root / "Daft Punk")
    report = Scanner(r, conf).scan()
    assert report.tracks == len(PLAYABLE)
    assert sum(rec["title"] == "One More Time" for rec in records(r).values()) == 1


def test_one_scanner_at_a_time(r, own_library):
    conf, root, files = own_library
    r.set(keys.LIBRARY_SCAN_LOCK, "someone-else", px=60_000)
    assert Scanner(r, conf).scan() is None
    assert r.hlen(keys.LIBRARY_TRACKS) == 0
    r.delete(keys.LIBRARY_SCAN_LOCK)
    assert Scanner(r, conf).scan() is not None
    assert r.get(keys.LIBRARY_SCAN_LOCK) is None  # released


def test_a_scanner_whose_lock_was_taken_over_writes_nothing(r, own_library):
    conf, root, files = own_library

    class Stealing(CountingReader):
        def __call__(self, path, rel):
            r.set(keys.LIBRARY_SCAN_LOCK, "a-newer-scanner")
            return super().__call__(path, rel)

    assert Scanner(r, conf, reader=Stealing()).scan() is None
    assert r.hlen(keys.LIBRARY_TRACKS) == 0
    assert r.get(keys.LIBRARY_SCAN_LOCK) == "a-newer-scanner"  # not deleted by the loser


def test_several_roots_from_one_setting(r, tmp_path, fresh_indexes):
    one, two = tmp_path / "one", tmp_path / "two"
    tagged(one / "A - First.mp3", title="First", artist="A")
    tagged(two / "B - Second.opus", title="Second", artist="B")
    conf = library_conf(tmp_path / "missing")
    conf.MUSIC_DIR = os.pathsep.join([str(one), str(two), str(tmp_path / "missing")])
    Scanner(r, conf).scan()
    assert set(by_title(r)) == {"First", "Second"}


def test_demo_music_plays_only_while_the_music_folder_has_nothing(r, tmp_path, fresh_indexes):
    music, demo = tmp_path / "music", tmp_path / "demo"
    music.mkdir()
    tagged(demo / "Demo Band - Demo Song.mp3", title="Demo Song", artist="Demo Band")
    conf = library_conf(music, DEMO_MUSIC="auto", DEMO_MUSIC_DIR=str(demo))
    Scanner(r, conf).scan()
    assert set(by_title(r)) == {"Demo Song"}
    tagged(music / "Mine - Real Song.mp3", title="Real Song", artist="Mine")
    Scanner(r, conf).scan()
    assert set(by_title(r)) == {"Real Song"}
    Scanner(r, library_conf(music, DEMO_MUSIC="true", DEMO_MUSIC_DIR=str(demo))).scan()
    assert set(by_title(r)) == {"Real Song", "Demo Song"}
    (music / "Mine - Real Song.mp3").unlink()
    Scanner(r, library_conf(music, DEMO_MUSIC="false", DEMO_MUSIC_DIR=str(demo))).scan()
    assert by_title(r) == {}


def test_a_web_process_scans_a_stale_index_in_the_background(r, library_template,
                                                            fresh_indexes):
    from echonest.catalog.library import LibraryProvider

    root, files = library_template
    provider = LibraryProvider(library_conf(root), r)
    assert provider.search("bohemian") == []  # answers at once; the scan runs behind
    deadline = time.monotonic() + 30
    while not provider.index.refresh(force=True).tracks and time.monotonic() < deadline:
        time.sleep(0.05)
    assert provider.search("bohemian")[0].title == "Bohemian Rhapsody"
    assert r.get(keys.LIBRARY_SCANNED_AT) is not None


def test_a_codec_browsers_cannot_play_is_not_offered(r, tmp_path, fresh_indexes, caplog):
    alac(tmp_path / "m" / "Lossless - Apple.m4a")
    tagged(tmp_path / "m" / "Fine - Song.m4a", title="Song", artist="Fine")
    Scanner(r, library_conf(tmp_path / "m")).scan()
    assert set(by_title(r)) == {"Song"}
    assert any("alac" in rec.getMessage() for rec in caplog.records)


def test_opus_embedded_cover_is_found(r, tmp_path, fresh_indexes):
    from echonest.catalog.library.tags import embedded_art

    path = tagged(tmp_path / "m" / "Cover - Art.opus", title="Art", artist="Cover",
                  cover=png_bytes())
    Scanner(r, library_conf(tmp_path / "m")).scan()
    assert by_title(r)["Art"]["art"] == "embedded"
    assert embedded_art(path) == (png_bytes(), "image/png")


def test_the_player_worker_scans_in_the_background(r, library_template, fresh_indexes,
                                                   monkeypatch):
    import threading

    import master_player
    from config import CONF

    root, files = library_template
    for name, value in {"MUSIC_DIR": str(root), "DEMO_MUSIC": "false",
                        "LIBRARY_RESCAN_SECONDS": 60, "USE_BENDER": False}.items():
        monkeypatch.setitem(CONF._values, name, value)
    stop = threading.Event()
    worker = threading.Thread(target=master_player.run, args=(stop, r), daemon=True)
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while r.hlen(keys.LIBRARY_TRACKS) < len(PLAYABLE) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert r.hlen(keys.LIBRARY_TRACKS) == len(PLAYABLE)
    finally:
        stop.set()
        worker.join(10)


def test_a_long_scan_publishes_progress_in_steps_and_everything_at_the_end(r, own_library,
                                                                           monkeypatch):
    from echonest.catalog.library import scan

    conf, root, files = own_library
    monkeypatch.setattr(scan, "BATCH", 2)
    monkeypatch.setattr(scan, "BUMP_SECONDS", 3600.0)
    seen: list = []

    class Watching(CountingReader):
        def __call__(self, path, rel):
            seen.append((r.get(keys.LIBRARY_VERSION), r.hlen(keys.LIBRARY_TRACKS)))
            return super().__call__(path, rel)

    Scanner(r, conf, reader=Watching()).scan()
    assert max(n for _, n in seen) >= 4               # batches were written as it went
    assert {v for v, _ in seen} == {None}             # but no process re-parsed per batch
    assert r.get(keys.LIBRARY_VERSION)
    assert len(shared_index(r).refresh(force=True).tracks) == len(PLAYABLE)


def test_raw_adts_aac_has_no_tags_and_is_named_from_its_path(r, tmp_path, fresh_indexes):
    from audio_fixtures import encode

    (tmp_path / "m").mkdir()
    encode(tmp_path / "m" / "Raw Artist - Raw Song.aac", codec_override=("aac", "adts", 44100))
    Scanner(r, library_conf(tmp_path / "m")).scan()
    record = by_title(r)["Raw Song"]
    assert record["artists"] == ["Raw Artist"] and record["mime"] == "audio/aac"
    assert record["duration"] > 0.9


def test_a_song_reachable_by_two_paths_is_indexed_once(r, tmp_path, fresh_indexes):
    """A link or hard link to a song, or a second root inside the first, must not put the same
    song in search twice under two ids."""
    music = tmp_path / "music"
    song = tagged(music / "Daft Punk" / "One More Time.mp3", title="One More Time",
                  artist="Daft Punk")
    (music / "favourites").mkdir()
    (music / "favourites" / "omt.mp3").symlink_to(song)
    os.link(song, music / "again.mp3")
    conf = library_conf(music)
    conf.MUSIC_DIR = os.pathsep.join([str(music), str(music / "Daft Punk")])
    report = Scanner(r, conf).scan()
    assert report.tracks == 1
    assert [rec["title"] for rec in records(r).values()] == ["One More Time"]
