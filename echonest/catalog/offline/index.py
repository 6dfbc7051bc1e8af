"""SearchIndex: forgiving, ranked free-text search over the offline tracks."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

from echonest.catalog.offline.text import fold
from echonest.catalog.track import Track

TITLE, ARTIST, ALBUM = 0, 1, 2
_FIELD_WEIGHT = {TITLE: 3, ARTIST: 2, ALBUM: 1}
_EXACT, _PREFIX, _INFIX, _TYPO = 10, 6, 2, 1
_MIN_INFIX = 3
_MIN_TYPO = 4
_MAX_TOKENS = 12   # real queries are a few words; this bounds the work a hostile one can cause


def one_edit_apart(a: str, b: str) -> bool:
    """True when b is a with one letter changed, added, dropped, or two neighbours swapped."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        swapped = i + 1 < len(a) and a[i] == b[i + 1] and a[i + 1] == b[i]
        return a[i + 1:] == b[i + 1:] or (swapped and a[i + 2:] == b[i + 2:])
    return a[i:] == b[i + 1:]


class SearchIndex:
    """Inverted index of folded words → (track, field), prefix lookups by bisecting the vocabulary.

    Every query word must match some word of the track (exact or prefix; or, for 3+ letters, a
    substring of the run-together fields, so "acdc" finds AC/DC; or, failing all that, a word
    one typo away); if no track matches all words, tracks matching most of them are returned. Whole-phrase matches on the title
    outrank everything, then artist and album phrase matches, then per-word scores.
    """

    def __init__(self, tracks: Sequence[Track]):
        self.tracks = list(tracks)
        self._titles: list[str] = []
        self._artists: list[tuple[str, ...]] = []
        self._albums: list[str] = []
        self._compact: list[str] = []
        words: dict[str, dict[int, int]] = {}  # word → {track index: best field score}
        for i, track in enumerate(self.tracks):
            title, album = fold(track.title), fold(track.album)
            artists = tuple(fold(a) for a in track.artists)
            self._titles.append(title)
            self._artists.append(artists)
            self._albums.append(album)
            self._compact.append(" ".join(x.replace(" ", "") for x in (title, *artists, album)))
            for field_id, text in ((TITLE, title), (ALBUM, album), *((ARTIST, a) for a in artists)):
                for word in text.split():
                    hits = words.setdefault(word, {})
                    hits[i] = max(hits.get(i, 0), _FIELD_WEIGHT[field_id])
        self._vocab = sorted(words)
        self._words = words

    def _word_hits(self, token: str) -> dict[int, int]:
        hits: dict[int, int] = {}
        for pos in range(bisect_left(self._vocab, token), len(self._vocab)):
            word = self._vocab[pos]
            if not word.startswith(token):
                break
            base = _EXACT if word == token else _PREFIX
            for i, weight in self._words[word].items():
                hits[i] = max(hits.get(i, 0), base * weight)
        if len(token) >= _MIN_INFIX:
            for i, compact in enumerate(self._compact):
                if i not in hits and token in compact:
                    hits[i] = _INFIX
        if not hits and len(token) >= _MIN_TYPO:  # "bohemain", "beyonse": one slip of the thumb
            for word in self._vocab:
                if one_edit_apart(token, word):
                    for i, weight in self._words[word].items():
                        hits[i] = max(hits.get(i, 0), _TYPO * weight)
        return hits

    def _phrase_bonus(self, i: int, phrase: str) -> int:
        title = self._titles[i]
        if title == phrase:
            bonus = 100
        elif title.startswith(phrase):
            bonus = 60
        elif f" {phrase} " in f" {title} ":
            bonus = 25
        else:
            bonus = 0
        if phrase in self._artists[i]:
            bonus += 40
        if phrase == self._albums[i]:
            bonus += 20
        # "artist title" / "title artist": the query is an artist name plus a title's start.
        for artist in self._artists[i]:
            for rest in (phrase.removeprefix(artist + " "), phrase.removesuffix(" " + artist)):
                if rest != phrase and title.startswith(rest):
                    bonus += 50
        return bonus

    def search(self, query: str, limit: int = 10) -> list[Track]:
        phrase = fold(query)
        tokens = list(dict.fromkeys(phrase.split()))[:_MAX_TOKENS]
        if not tokens or limit < 1:
            return []
        per_token = [self._word_hits(t) for t in tokens]
        matched: dict[int, list[int]] = {}
        for hits in per_token:
            for i, score in hits.items():
                matched.setdefault(i, []).append(score)
        if not matched:
            return []
        best = max(len(scores) for scores in matched.values())
        if best < len(tokens) and best * 2 < len(tokens):
            return []  # too little of the query matches anything to be a useful answer
        ranked = sorted(
            (i for i, scores in matched.items() if len(scores) == best),
            key=lambda i: (-(sum(matched[i]) + self._phrase_bonus(i, phrase)),
                           len(self._titles[i]), i),
        )
        return [self.tracks[i] for i in ranked[:limit]]
