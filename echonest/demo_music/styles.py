"""The dozen house styles: grooves, bass figures, chord rhythms, progressions and song forms.

Pattern strings hold one bar, one character per sixteenth note (12 in 3/4, 16 in 4/4).
Drums: `x` hit, `o` soft hit. Bass: `1 3 5 6 7 8` chord root / third / fifth / sixth / seventh /
octave, `a` a half step under the next chord's root. Chords and leads: `x` strikes, `-` holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Drums = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Style:
    name: str
    meter: int                                   # beats per bar
    form: tuple[tuple[str, int], ...]            # (section, bars): intro verse chorus bridge outro
    progressions: dict[str, tuple[str, ...]]     # section → chord symbols (see theory.chord_tones)
    drums: Drums                                 # full groove
    light_drums: Drums                           # intro, bridge
    bass: tuple[str, str]                        # voice, pattern
    chords: tuple[str, str]                      # voice, pattern
    lead: str
    scale: str                                   # melody scale
    pad: str | None = None                       # sustained layer in choruses and the bridge
    bars_per_chord: int = 1
    swing: float = 0.0                           # delay of the off-beat, as a fraction of its grid
    swing_grid: int = 1                          # 1 = swung sixteenths, 2 = swung eighths
    lead_grid: int = 2                           # melody slots in sixteenths
    density: tuple[float, float] = (0.45, 0.6)   # melody note chance in verse, chorus
    lead_range: tuple[int, int] = (62, 84)
    chord_range: tuple[int, int] = (53, 72)
    bass_low: int = 31                           # lowest bass root
    root_only: bool = False                      # chord voice plays roots (power chords)
    fill: str = "snare"
    lofi: bool = False
    reverb: float = 1.0
    gains: dict[str, float] = field(default_factory=dict)


FOUR = 16
_STD_FORM = (("intro", 4), ("verse", 8), ("chorus", 8), ("verse", 8), ("chorus", 8),
             ("outro", 4))

STYLES = {s.name: s for s in (
    Style("house", 4, (("intro", 8), ("verse", 8), ("chorus", 16), ("bridge", 8), ("chorus", 8),
                       ("outro", 8)),
          {"verse": ("i7", "bVI", "bIII", "bVII"), "chorus": ("bVI", "bVII", "i7", "i7")},
          (("kick", "x...x...x...x..."), ("clap", "....x.......x..."),
           ("hat", "x.o.x.o.x.o.x.o."), ("open_hat", "..x...x...x...x.")),
          (("kick", "x...x...x...x..."), ("open_hat", "..x...x...x...x.")),
          ("pluck_bass", "..1-..1-..1-..8-"), ("stab", "..x-....x-..x-.."), "saw_lead",
          "minor_pentatonic", pad="pad", density=(0.4, 0.55), gains={"chords": 0.16}),
    Style("funk", 4, (("intro", 4), ("verse", 8), ("chorus", 8), ("verse", 8), ("bridge", 4),
                      ("chorus", 8), ("outro", 4)),
          {"verse": ("i7", "i7", "IV7", "IV7"), "chorus": ("bVII", "IV7", "i7", "v7")},
          (("kick", "x.....x...x..x.."), ("snare", "....x..o.o..x..o"),
           ("hat", "xoxoxoxoxoxoxoxo")),
          (("hat", "xoxoxoxoxoxoxoxo"), ("kick", "x.....x.........")),
          ("pluck_bass", "1..8..1.5-.1..a7"), ("guitar_chank", "..x...x.x.x...x."), "brass",
          "dorian", swing=0.12, density=(0.4, 0.55), gains={"chords": 0.13}),
    Style("lofi", 4, _STD_FORM,
          {"verse": ("ii7", "V7", "Imaj7", "vi7"), "chorus": ("IVmaj7", "iii7", "ii7", "V7")},
          (("kick808", "x.....x..x......"), ("snare", "....x.......x..."),
           ("hat", "x.o.x.o.x.o.x.oo")),
          (("hat", "x.o.x.o.x.o.x.o."),),
          ("sub_bass", "1-----.1..5-----"), ("epiano", "x--------------."), "flute",
          "major_pentatonic", swing=0.28, density=(0.3, 0.45), lofi=True),
    Style("synthwave", 4, (("intro", 8), ("verse", 8), ("chorus", 8), ("verse", 8),
                           ("chorus", 8), ("outro", 8)),
          {"verse": ("i", "bVI", "bIII", "bVII"), "chorus": ("iv", "bVI", "bVII", "i")},
          (("kick", "x.......x......."), ("snare", "....x.......x..."),
           ("hat", "x.x.x.x.x.x.x.x.")),
          (("kick", "x.......x......."), ("hat", "x.x.x.x.x.x.x.x.")),
          ("pluck_bass", "1.1.1.1.1.1.1.8."), ("pad", "x---------------"), "saw_lead",
          "minor", reverb=1.4, lead_grid=4, density=(0.6, 0.75), gains={"chords": 0.1}),
    Style("triphop", 4, _STD_FORM,
          {"verse": ("i", "i", "bVI", "v"), "chorus": ("iv", "bVI", "i", "v7")},
          (("kick808", "x.........x....."), ("snare", "....x.......x..."),
           ("shaker", "o.x.o.x.o.x.o.x.")),
          (("shaker", "o.x.o.x.o.x.o.x."),),
          ("sub_bass", "1-------......1-"), ("epiano", "x-------x-------"), "vibes", "minor",
          pad="pad", reverb=1.5, density=(0.35, 0.5)),
    Style("rock", 4, (("intro", 4), ("verse", 16), ("chorus", 8), ("verse", 8), ("chorus", 8),
                      ("bridge", 8), ("chorus", 8), ("outro", 4)),
          {"verse": ("I", "V", "vi", "IV"), "chorus": ("IV", "I", "V", "V"),
           "bridge": ("vi", "IV", "I", "V")},
          (("kick", "x.......x.x....."), ("snare", "....x.......x..."),
           ("hat", "x.x.x.x.x.x.x.x.")),
          (("hat", "x.x.x.x.x.x.x.x."),),
          ("rock_bass", "1.1.1.1.1.1.1.1."), ("power_chord", "x-x-x-x-x-x-x-x-"), "dist_lead",
          "major_pentatonic", root_only=True, chord_range=(40, 52), fill="tom",
          lead_grid=4, density=(0.55, 0.7), gains={"chords": 0.3}),
    Style("reggae", 4, _STD_FORM,
          {"verse": ("I", "IV", "I", "V"), "chorus": ("IV", "V", "I", "vi")},
          (("kick", "........x......."), ("rim", "........x......."),
           ("hat", "x.o.x.o.x.o.x.o.")),
          (("rim", "........x......."), ("hat", "x.o.x.o.x.o.x.o.")),
          ("sub_bass", "1---..5.8-..5-3."), ("guitar_chank", "....x.......x..."), "square_lead",
          "major", pad="organ", swing=0.15, density=(0.35, 0.5),
          gains={"pad": 0.06, "chords": 0.4}),
    Style("disco", 4, (("intro", 8), ("verse", 8), ("chorus", 8), ("verse", 8), ("bridge", 8),
                       ("chorus", 8), ("outro", 8)),
          {"verse": ("i7", "iv7", "bVII", "bIII"), "chorus": ("iv7", "bVII7", "bIIImaj7", "bVImaj7")},
          (("kick", "x...x...x...x..."), ("snare", "....x.......x..."),
           ("hat", "xoxoxoxoxoxoxoxo"), ("open_hat", "..x...x...x...x.")),
          (("kick", "x...x...x...x..."), ("open_hat", "..x...x...x...x.")),
          ("pluck_bass", "1.8.1.8.1.8.1.8."), ("strings", "x-------x-------"), "brass", "minor",
          density=(0.45, 0.6), gains={"chords": 0.1}),
    Style("bossa", 4, (("intro", 4), ("verse", 16), ("chorus", 8), ("verse", 16), ("chorus", 8),
                       ("outro", 4)),
          {"verse": ("Imaj7", "Imaj7", "ii7", "V7"),
           "chorus": ("IVmaj7", "iv7", "iii7", "vi7", "ii7", "V7", "Imaj7", "Imaj7")},
          (("rim", "x..x..x...x..x.."), ("kick", "o..x....o..x...."),
           ("shaker", "xoxoxoxoxoxoxoxo")),
          (("rim", "x..x..x...x..x.."), ("shaker", "xoxoxoxoxoxoxoxo")),
          ("upright_bass", "1-----5-1-----5-"), ("nylon", "x-.x-.x-..x-.x-."), "flute", "major",
          density=(0.4, 0.5), lead_grid=2, gains={"chords": 0.14}),
    Style("jazzwaltz", 3, (("intro", 4), ("verse", 16), ("chorus", 16), ("verse", 16),
                           ("chorus", 16), ("outro", 8)),
          {"verse": ("i7", "iv7", "bVII7", "bIIImaj7", "bVImaj7", "iim7b5", "V7", "i7"),
           "chorus": ("iv7", "iv7", "i7", "i7", "iim7b5", "V7", "i7", "i7")},
          (("ride", "x...x.x.x..."), ("brush", "....o...o..."), ("kick", "o...........")),
          (("ride", "x...x.x.x..."),),
          ("upright_bass", "1---5---a---"), ("epiano", "....x-..x-.."), "vibes", "minor",
          swing=0.33, swing_grid=2, density=(0.5, 0.65), bars_per_chord=1, fill="brush",
          gains={"chords": 0.14}),
    Style("blues", 4, (("intro", 4), ("verse", 12), ("chorus", 12), ("verse", 12),
                       ("outro", 4)),
          {"intro": ("I7", "IV7", "I7", "V7"), "outro": ("I7", "IV7", "I7", "I7"),
           "verse": ("I7", "I7", "I7", "I7", "IV7", "IV7", "I7", "I7", "V7", "IV7", "I7", "V7"),
           "chorus": ("I7", "IV7", "I7", "I7", "IV7", "IV7", "I7", "I7", "V7", "IV7", "I7", "V7")},
          (("kick", "x.......x......."), ("snare", "....x.......x..."),
           ("hat", "x.x.x.x.x.x.x.x.")),
          (("hat", "x.x.x.x.x.x.x.x."),),
          ("pluck_bass", "1.3.5.6.8.6.5.3."), ("organ", "x---------------"), "dist_lead",
          "blues", swing=0.33, swing_grid=2, lead_grid=2, density=(0.45, 0.6), fill="snare",
          gains={"chords": 0.09}),
    Style("soul", 4, (("intro", 4), ("verse", 8), ("chorus", 8), ("verse", 8), ("bridge", 4),
                      ("chorus", 8), ("outro", 4)),
          {"verse": ("I", "vi", "IV", "V"),
           "chorus": ("IV", "V", "iii", "vi", "ii7", "V7", "I", "I")},
          (("kick", "x.....x.x......."), ("snare", "....x.......x..."),
           ("shaker", "x...x...x...x..."), ("hat", "x.x.x.x.x.x.x.x.")),
          (("shaker", "x...x...x...x..."),),
          ("pluck_bass", "1..5..8.1...5.3."), ("epiano", "x---x---x---x---"), "organ",
          "major_pentatonic", pad="strings", density=(0.45, 0.6), gains={"pad": 0.07}),
)}
