"""Real audio files for the library tests, made in the test session with PyAV and mutagen.

Each format is encoded once (a short sine clip) and copied, then tagged per file, so a whole
fixture library takes well under a second. ``build_library(root)`` lays out the tagged files,
the untagged ones, unicode and spaces, a corrupt file, a text file called .mp3, a symlink loop
and links pointing out of the root; ``build_bench_library(root, n)`` writes n small MP3s.
"""

from __future__ import annotations

import shutil
import struct
import tempfile
import zlib
from pathlib import Path

import av
import numpy as np
from mutagen.flac import FLAC, Picture
from mutagen.id3 import APIC, ID3, TALB, TCON, TDRC, TIT2, TPE1, TPE2, TRCK
from mutagen.mp4 import MP4, MP4Cover
from mutagen.oggopus import OggOpus
from mutagen.wave import WAVE

FORMATS = {  # extension → (encoder, container, sample rate)
    ".mp3": ("libmp3lame", "mp3", 44100),
    ".m4a": ("aac", "ipod", 44100),
    ".opus": ("libopus", "ogg", 48000),
    ".flac": ("flac", "flac", 44100),
    ".wav": ("pcm_s16le", "wav", 44100),
}
_templates: dict[str, Path] = {}
_template_dir: Path | None = None


def png_bytes(rgb: tuple[int, int, int] = (200, 30, 90), size: int = 4) -> bytes:
    """A real (tiny) PNG, so art tests check bytes a browser would show."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + \
            struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    row = b"\x00" + bytes(rgb) * size
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * size)) + chunk(b"IEND", b""))


JPEG_BYTES = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + \
    b"\x00" * 64 + b"\xff\xd9"


def encode(path: Path, seconds: float = 1.0, freq: float = 440.0,
           codec_override: tuple[str, str, int] | None = None) -> Path:
    """A mono sine clip in the format named by ``path``'s extension (or ``codec_override``)."""
    codec, container, rate = codec_override or FORMATS[path.suffix.lower()]
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        n = int(rate * seconds)
        wave = (0.2 * np.sin(2 * np.pi * freq * np.arange(n) / rate)).astype(np.float32)
        step = 4096 if codec == "alac" else 1024
        for start in range(0, n, step):
            frame = av.AudioFrame.from_ndarray(wave[start:start + step].reshape(1, -1),
                                               format="fltp", layout="mono")
            frame.sample_rate = rate
            frame.pts = start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def clip(path: Path, ext: str | None = None) -> Path:
    """Copy the session's template clip of this format to ``path`` (encoded on first use)."""
    global _template_dir
    ext = (ext or path.suffix).lower()
    if ext not in _templates:
        if _template_dir is None:
            _template_dir = Path(tempfile.mkdtemp(prefix="echonest-audio-templates-"))
        _templates[ext] = encode(_template_dir / f"template{ext}")
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_templates[ext], path)
    return path


def tag(path: Path, *, title: str | None = None, artist: str | None = None,
        album: str | None = None, albumartist: str | None = None, genre: str | None = None,
        year: int | None = None, track: int | None = None, cover: bytes | None = None) -> Path:
    """Write real tags the way common taggers do for each format."""
    ext = path.suffix.lower()
    fields = {"title": title, "artist": artist, "album": album, "albumartist": albumartist,
              "genre": genre, "date": str(year) if year else None,
              "tracknumber": str(track) if track else None}
    fields = {k: v for k, v in fields.items() if v is not None}
    if ext in (".mp3", ".wav"):
        frames = {"title": TIT2, "artist": TPE1, "album": TALB, "albumartist": TPE2,
                  "genre": TCON, "date": TDRC, "tracknumber": TRCK}
        if ext == ".wav":
            audio = WAVE(path)
            if audio.tags is None:
                audio.add_tags()
            tags = audio.tags
        else:
            tags = ID3()
        for name, value in fields.items():
            tags.add(frames[name](encoding=3, text=[value]))
        if cover:
            tags.add(APIC(encoding=3, mime="image/png", type=3, desc="Cover", data=cover))
        if ext == ".wav":
            audio.save()
        else:
            tags.save(path)
    elif ext == ".m4a":
        audio = MP4(path)
        names = {"title": "\xa9nam", "artist": "\xa9ART", "album": "\xa9alb",
                 "albumartist": "aART", "genre": "\xa9gen", "date": "\xa9day"}
        for name, value in fields.items():
            if name == "tracknumber":
                audio["trkn"] = [(int(value), 0)]
            else:
                audio[names[name]] = [value]
        if cover:
            audio["covr"] = [MP4Cover(cover, imageformat=MP4Cover.FORMAT_PNG)]
        audio.save()
    else:  # Vorbis comments: FLAC, Ogg Opus
        audio = FLAC(path) if ext == ".flac" else OggOpus(path)
        for name, value in fields.items():
            audio[name] = [value]
        if cover:
            pic = Picture()
            pic.type, pic.mime, pic.data = 3, "image/png", cover
            if isinstance(audio, FLAC):
                audio.add_picture(pic)
            else:
                import base64

                audio["metadata_block_picture"] = [base64.b64encode(pic.write()).decode()]
        audio.save()
    return path


def alac(path: Path) -> Path:
    """Apple Lossless in an .m4a: a real file browsers (Chromium) cannot play."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return encode(path, codec_override=("alac", "ipod", 44100))


def tagged(path: Path, **fields) -> Path:
    return tag(clip(path), **fields)


# --- the fixture library ------------------------------------------------------------------------
QUEEN_OPERA = "Queen/A Night at the Opera"


def build_library(root: Path) -> dict[str, Path]:
    """A small real library; returns name → path for the files tests talk about."""
    root.mkdir(parents=True, exist_ok=True)
    art = png_bytes()
    f: dict[str, Path] = {}
    f["bohemian"] = tagged(root / QUEEN_OPERA / "01 - Bohemian Rhapsody.mp3",
                           title="Bohemian Rhapsody", artist="Queen", album="A Night at the Opera",
                           albumartist="Queen", genre="Rock", year=1975, track=1, cover=art)
    f["love"] = tagged(root / QUEEN_OPERA / "02 - Love of My Life.m4a", title="Love of My Life",
                       artist="Queen", album="A Night at the Opera", albumartist="Queen",
                       genre="Rock", year=1975, track=2, cover=art)
    f["rock_you"] = tagged(root / "Queen/News of the World/We Will Rock You.opus",
                           title="We Will Rock You", artist="Queen", album="News of the World",
                           genre="Rock", year=1977, track=1)
    f["folder_cover"] = root / "Queen/News of the World/Cover.JPG"
    f["folder_cover"].write_bytes(JPEG_BYTES)
    f["one_more"] = tagged(root / "Daft Punk/Discovery/One More Time.flac",
                           title="One More Time", artist="Daft Punk", album="Discovery",
                           genre="Electronic", year=2001, track=1, cover=art)
    f["joga"] = tagged(root / "Björk/Homogenic/Jóga.wav", title="Jóga", artist="Björk",
                       album="Homogenic", genre="Electronic", year=1997, track=3)
    f["untagged"] = clip(root / "Untagged Artist/Some Album/03 - No Tags Here.mp3")
    f["named"] = clip(root / "Nina Simone - Feeling Good.mp3")
    f["unicode"] = tagged(root / "with spaces & ünïcödé/日本語 の 曲.mp3", title="夜に駆ける",
                          artist="YOASOBI", album="THE BOOK", genre="J-Pop", year=2021)
    broken = root / "broken"
    broken.mkdir(exist_ok=True)
    f["corrupt"] = broken / "corrupt.flac"
    f["corrupt"].write_bytes(b"fLaC\x00\x00\x00\x22" + bytes(range(256)) * 4)
    f["not_audio"] = broken / "not audio.mp3"
    f["not_audio"].write_text("this is not audio, only words\n" * 40)
    f["readme"] = root / "README.txt"
    f["readme"].write_text("not scanned: not an audio extension\n")
    hidden = clip(root / ".hidden" / "secret.mp3")
    f["hidden"] = hidden
    outside = root.parent / f"{root.name}-outside"
    f["outside_file"] = tagged(outside / "private.mp3", title="Private", artist="Nobody")
    (root / "Queen" / "loop").symlink_to("..")                     # a symlink loop
    (root / "escape.mp3").symlink_to(f["outside_file"])            # a file link out
    (root / "escape-dir").symlink_to(outside, target_is_directory=True)  # a folder link out
    return f


PLAYABLE = ("bohemian", "love", "rock_you", "one_more", "joga", "untagged", "named", "unicode")


def build_bench_library(root: Path, count: int = 2000) -> Path:
    """``count`` small tagged MP3s over 100 artists × 4 albums (the scan benchmark)."""
    for i in range(count):
        artist, album = f"Bench Artist {i % 100:03d}", f"Album {(i // 100) % 4}"
        path = clip(root / artist / album / f"{i:05d} Song {i}.mp3")
        tag(path, title=f"Song {i}", artist=artist, album=album, genre="Rock",
            year=1970 + i % 50, track=i % 20 + 1)
    return root
