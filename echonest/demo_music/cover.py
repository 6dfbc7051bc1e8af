"""Album covers: seeded geometric art as PNG bytes, written with zlib and struct (no Pillow)."""

from __future__ import annotations

import colorsys
import random
import struct
import zlib

import numpy as np

SIZE = 512


def png_bytes(rgb: np.ndarray) -> bytes:
    """Encode an (h, w, 3) uint8 array as a PNG (filter 0 on every row)."""
    height, width, _ = rgb.shape
    raw = np.concatenate([np.zeros((height, 1), np.uint8), rgb.reshape(height, -1)], axis=1)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw.tobytes(), 9)) + chunk(b"IEND", b""))


def _colour(hue: float, sat: float, val: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(hue % 1.0, sat, val))


def cover_art(seed: int, size: int = SIZE) -> bytes:
    """A distinct cover per seed: a two-colour gradient with sun, orbits or waves on top."""
    rng = random.Random(seed)
    hue = rng.random()
    top, bottom = _colour(hue, 0.65, 0.35), _colour(hue + 0.35, 0.8, 0.95)
    y, x = np.mgrid[0:size, 0:size] / (size - 1)
    img = top * (1 - y[..., None]) + bottom * y[..., None]
    accent = _colour(hue + 0.5 + rng.uniform(-0.08, 0.08), 0.75, 1.0)
    motif = seed % 3
    if motif == 0:  # a striped sun over a horizon
        r = np.hypot(x - 0.5, y - 0.55)
        sun = (r < 0.3) & ((y < 0.55) | (np.sin(y * 90) > (y - 0.55) * 6 - 0.6))
        glow = np.clip(1 - (r / 0.3 - 0.5) * 1.2, 0, 1)[..., None]
        img = np.where(sun[..., None], accent * glow + _colour(hue + 0.1, 0.9, 1) * (1 - glow), img)
        grid = (y > 0.82) & ((np.abs(np.sin((x - 0.5) / (y - 0.6) * 8)) < 0.08)
                             | (np.abs(np.sin(1 / (y - 0.79) * 2)) < 0.12))
        img = np.where(grid[..., None], accent, img)
    elif motif == 1:  # overlapping translucent discs
        for _ in range(7):
            cx, cy, rad = rng.uniform(0.15, 0.85), rng.uniform(0.15, 0.85), rng.uniform(0.08, 0.3)
            disc = (np.hypot(x - cx, y - cy) < rad)[..., None]
            tint = _colour(hue + rng.uniform(0.3, 0.7), 0.6, 1.0)
            img = np.where(disc, img * 0.45 + tint * 0.55, img)
    else:  # stacked sine waves
        for i in range(9):
            phase, freq = rng.uniform(0, 6.28), rng.uniform(4, 10)
            centre = 0.1 + i * 0.1
            band = np.abs(y - centre - 0.03 * np.sin(x * freq + phase)) < 0.012 + 0.004 * (i % 3)
            img = np.where(band[..., None], accent * (0.6 + 0.04 * i), img)
    vignette = 1 - 0.35 * np.clip(np.hypot(x - 0.5, y - 0.5) * 1.4 - 0.3, 0, 1)
    img = img * vignette[..., None]
    return png_bytes((np.clip(img, 0, 1) * 255).astype(np.uint8))
