"""The demo library's track list: who "recorded" what, when, in which style, tempo and key."""

from __future__ import annotations

from dataclasses import dataclass

from echonest.demo_music.styles import STYLES, Style

TAIL_SECONDS = 2.0  # after the last bar: reverb and releases ring out under the fade


@dataclass(frozen=True)
class TrackPlan:
    artist: str
    album: str
    year: int
    number: int
    title: str
    genre: str      # spelled as the offline catalog spells it, so Bender's genre strategy matches
    style: str
    bpm: int
    key: str        # "F# minor": the tonic drives every pitch; the melody uses the style's scale
    seed: int

    @property
    def spec(self) -> Style:
        return STYLES[self.style]

    @property
    def bar_seconds(self) -> float:
        return self.spec.meter * 60.0 / self.bpm

    @property
    def planned_seconds(self) -> float:
        return sum(bars for _, bars in self.spec.form) * self.bar_seconds + TAIL_SECONDS


HOUSE_BAND = "The EchoNest House Band"
HERON = "Neon Heron"
QUAIL = "The Quiet Quail Trio"

PLAN: tuple[TrackPlan, ...] = (
    TrackPlan(HOUSE_BAND, "Feathers & Funk", 1974, 1, "Strut of the Starling", "Funk", "funk",
              104, "E dorian", 1101),
    TrackPlan(HOUSE_BAND, "Feathers & Funk", 1974, 2, "Sunday Morning Nest", "Soul", "soul",
              100, "Ab major", 1102),
    TrackPlan(HOUSE_BAND, "Night Roost", 2013, 1, "Mirrorball Migration", "Disco", "disco",
              118, "A minor", 1201),
    TrackPlan(HOUSE_BAND, "Night Roost", 2013, 2, "Late Train Shuffle", "Blues", "blues",
              96, "F# mixolydian", 1202),
    TrackPlan(HERON, "Chrome Horizon", 1986, 1, "Neon Heron", "Pop", "synthwave",
              110, "C# minor", 2101),
    TrackPlan(HERON, "Chrome Horizon", 1986, 2, "Headlights on the Highway", "Rock", "rock",
              144, "D major", 2102),
    TrackPlan(HERON, "Warehouse Wings", 1995, 1, "Warehouse Wings", "Electronic", "house",
              124, "F minor", 2201),
    TrackPlan(HERON, "Warehouse Wings", 1995, 2, "Fog over the Estuary", "Trip-Hop", "triphop",
              88, "C minor", 2202),
    TrackPlan(QUAIL, "Café Pássaro", 2004, 1, "Pássaro de Verão", "Latin", "bossa",
              136, "Eb major", 3101),
    TrackPlan(QUAIL, "Café Pássaro", 2004, 2, "Waltz for a Wren", "Jazz", "jazzwaltz",
              152, "B minor", 3102),
    TrackPlan(QUAIL, "Rainy Window Loops", 2022, 1, "Rain on the Skylight", "Hip-Hop", "lofi",
              82, "Bb major", 3201),
    TrackPlan(QUAIL, "Rainy Window Loops", 2022, 2, "Island Perch", "Reggae", "reggae",
              76, "G major", 3202),
)
