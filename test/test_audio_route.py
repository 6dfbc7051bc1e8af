"""GET /audio/<id> and /audio/<id>/art: real files, real Range semantics, nothing outside."""

# ruff: noqa: F811  -- the shared fixtures are imported by name; tests take them as arguments

from __future__ import annotations

import json
from pathlib import Path

import pytest
from audio_fixtures import JPEG_BYTES, png_bytes
from library_support import (  # noqa: F401 - fixtures
    fresh_indexes,
    library,
    library_template,
    track_id_of,
)
from web_support import ALICE, make_app, user_client

from echonest import keys
from echonest.catalog.library.index import shared_index


@pytest.fixture
def app(r, library):
    conf, files = library
    return make_app(r, MUSIC_DIR=conf.MUSIC_DIR, DEMO_MUSIC="false", DEMO_MUSIC_DIR="")


@pytest.fixture
def alice(app):
    return user_client(app, ALICE, name="Alice")


@pytest.fixture
def files(library):
    return library[1]


def url(files, name: str, suffix: str = "") -> str:
    root = Path(next(iter(files.values())).as_posix().split("/Music Library/")[0]) / \
        "Music Library"
    return f"/audio/{track_id_of(root, files[name])}{suffix}"


def test_a_whole_file_with_its_type_and_cache_headers(alice, files):
    response = alice.get(url(files, "bohemian"))
    assert response.status_code == 200
    assert response.data == files["bohemian"].read_bytes()
    assert response.mimetype == "audio/mpeg"
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["ETag"] and response.headers["Last-Modified"]
    assert response.headers["Cache-Control"].startswith("private, max-age=")
    assert int(response.headers["Content-Length"]) == files["bohemian"].stat().st_size


@pytest.mark.parametrize("name,mime", [("love", "audio/mp4"), ("rock_you", "audio/ogg"),
                                       ("one_more", "audio/flac"), ("joga", "audio/wav"),
                                       ("unicode", "audio/mpeg")])
def test_each_format_has_its_mime_type(alice, files, name, mime):
    response = alice.get(url(files, name))
    assert response.status_code == 200 and response.mimetype == mime
    assert response.data == files[name].read_bytes()


@pytest.mark.parametrize("header,start,end", [("bytes=0-", 0, None), ("bytes=-500", -500, None),
                                              ("bytes=100-199", 100, 200),
                                              ("bytes=10-999999999", 10, None)])
def test_ranges_answer_206_with_content_range(alice, files, header, start, end):
    data = files["bohemian"].read_bytes()
    size = len(data)
    response = alice.get(url(files, "bohemian"), headers={"Range": header})
    assert response.status_code == 206
    expected = data[start:end]
    assert response.data == expected
    first = start if start >= 0 else size + start
    assert response.headers["Content-Range"] == \
        f"bytes {first}-{first + len(expected) - 1}/{size}"
    assert int(response.headers["Content-Length"]) == len(expected)


@pytest.mark.parametrize("header", ["bytes=999999999-", "bytes=0-1,5-9", "bytes=abc",
                                    "items=0-10", "bytes=20-10", "bytes=--5"])
def test_unsatisfiable_or_bad_ranges_are_416_json(alice, files, header):
    size = files["bohemian"].stat().st_size
    response = alice.get(url(files, "bohemian"), headers={"Range": header})
    assert response.status_code == 416
    assert response.get_json()["error"] == "range_not_satisfiable"
    assert response.headers["Content-Range"] == f"bytes */{size}"


def test_etag_revalidation_and_if_range(alice, files):
    first = alice.get(url(files, "one_more"))
    etag = first.headers["ETag"]
    again = alice.get(url(files, "one_more"), headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    same = alice.get(url(files, "one_more"), headers={"Range": "bytes=0-9", "If-Range": etag})
    assert same.status_code == 206 and len(same.data) == 10
    stale = alice.get(url(files, "one_more"), headers={"Range": "bytes=0-9",
                                                       "If-Range": '"not-the-etag"'})
    assert stale.status_code == 200 and stale.data == files["one_more"].read_bytes()


def test_anonymous_gets_401_json(app, files):
    response = app.test_client().get(url(files, "bohemian"))
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"
    assert app.test_client().get(url(files, "bohemian", "/art")).status_code == 401


@pytest.mark.parametrize("path", [
    "/audio/0123456789abcdef",            # well-formed, unknown
    "/audio/0123456789ABCDEF",            # ids are lower-case hex only
    "/audio/0123456789abcde",
    "/audio/..%2f..%2fetc%2fpasswd",
    "/audio/%2e%2e",
    "/audio/0123456789abcdef0",
    "/audio/0123456789abcdef/art",
])
def test_unknown_or_malformed_ids_are_404_json(alice, path):
    response = alice.get(path)
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


def _tamper(r, files, name: str, **changes) -> str:
    track_id = url(files, name).rsplit("/", 1)[1]
    record = json.loads(r.hget(keys.LIBRARY_TRACKS, track_id))
    record.update(changes)
    r.hset(keys.LIBRARY_TRACKS, track_id, json.dumps(record))
    r.set(keys.LIBRARY_VERSION, "tampered")
    shared_index(r).refresh(force=True)
    return f"/audio/{track_id}"


@pytest.mark.parametrize("changes", [
    {"path": "../Music Library-outside/private.mp3"},
    {"path": "/etc/passwd"},
    {"path": "escape.mp3"},                       # a symlink pointing out of the root
    {"path": "escape-dir/private.mp3"},           # through a folder link out
    {"root": "/etc", "path": "passwd"},           # a root that is not configured
    {"path": "Queen/loop/../../../etc/passwd"},
])
def test_an_index_entry_pointing_outside_the_roots_is_never_served(r, alice, files, changes):
    path = _tamper(r, files, "bohemian", **changes)
    response = alice.get(path)
    assert response.status_code == 404
    assert b"Private" not in response.data and b"root:" not in response.data


def test_a_symlink_repointed_out_after_the_scan_is_refused(r, alice, files, tmp_path):
    link = files["bohemian"].parent / "relinked.mp3"
    outside = files["outside_file"]
    link.symlink_to(files["bohemian"])
    try:
        path = _tamper(r, files, "bohemian", path=link.relative_to(
            link.parents[2]).as_posix())
        assert alice.get(path).status_code == 200
        link.unlink()
        link.symlink_to(outside)
        assert alice.get(path).status_code == 404
    finally:
        link.unlink()


def test_embedded_and_folder_cover_art(alice, files):
    embedded = alice.get(url(files, "bohemian", "/art"))
    assert embedded.status_code == 200 and embedded.mimetype == "image/png"
    assert embedded.data == png_bytes()
    assert embedded.headers["ETag"]
    assert alice.get(url(files, "bohemian", "/art"),
                     headers={"If-None-Match": embedded.headers["ETag"]}).status_code == 304
    for name in ("love", "one_more"):  # MP4 covr, FLAC picture
        assert alice.get(url(files, name, "/art")).data == png_bytes()
    folder = alice.get(url(files, "rock_you", "/art"))
    assert folder.status_code == 200 and folder.mimetype == "image/jpeg"
    assert folder.data == JPEG_BYTES
    missing = alice.get(url(files, "joga", "/art"))
    assert missing.status_code == 404 and missing.get_json()["error"] == "not_found"


def test_head_answers_the_headers_without_the_body(alice, files):
    response = alice.head(url(files, "love"))
    assert response.status_code == 200 and response.data == b""
    assert int(response.headers["Content-Length"]) == files["love"].stat().st_size
