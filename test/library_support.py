"""Shared library-test setup: a generated music folder, its config, a scanned index."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from audio_fixtures import build_library

from config import CONF


def library_conf(*roots: Path, **overrides):
    values = {"MUSIC_DIR": ":".join(str(r) for r in roots), "DEMO_MUSIC": "false",
              "DEMO_MUSIC_DIR": "", "LIBRARY_RESCAN_SECONDS": 60, "CATALOG": "offline"}
    values.update(overrides)
    return CONF.copy(**values)


@pytest.fixture(scope="session")
def library_template(tmp_path_factory):
    """The fixture library, generated once per session (tests that change files copy it)."""
    root = tmp_path_factory.mktemp("lib") / "Music Library"
    return root, build_library(root)


@pytest.fixture
def fresh_indexes():
    from echonest.catalog import reset_catalogs
    from echonest.catalog.library.index import reset_indexes

    reset_indexes()
    reset_catalogs()
    yield
    reset_indexes()
    reset_catalogs()


@pytest.fixture
def library(r, library_template, fresh_indexes):
    """(conf, files) with the session library scanned into the clean Redis."""
    from echonest.catalog.library.scan import Scanner

    root, files = library_template
    conf = library_conf(root)
    Scanner(r, conf).scan()
    return conf, files


@pytest.fixture
def own_library(r, tmp_path, library_template, fresh_indexes):
    """A private copy of the fixture library (symlinks kept) that a test may change."""
    root, files = library_template
    copy = tmp_path / "Music Copy"
    shutil.copytree(root, copy, symlinks=True)
    outside = root.parent / f"{root.name}-outside"
    shutil.copytree(outside, tmp_path / f"{copy.name}-outside")
    mapped = {name: copy / path.relative_to(root) if path.is_relative_to(root) else path
              for name, path in files.items()}
    return library_conf(copy), copy, mapped


def track_id_of(root: Path, path: Path) -> str:
    from echonest.catalog.library.roots import track_id

    return track_id(root.resolve(), path.relative_to(root).as_posix())
