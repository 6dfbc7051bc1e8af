"""The fake Spotify's catalog: ~24 real songs and two podcast episodes as Web API JSON objects.

Ids follow Spotify's format (22 base-62 chars) and are the real ones as far as we know; the fake
only needs them to be self-consistent. Object shapes copy the Web API reference (track, album,
artist, episode, show; simplified variants where Spotify nests them).
"""

from __future__ import annotations

import hashlib
from typing import Any

OPEN_SPOTIFY = "https://open.spotify.com"

# id: (name, genres, popularity)
ARTISTS = {
    "4tZwfgrHOc3mvqYlEYSvVi": ("Daft Punk", ["electro", "filter house", "french house"], 80),
    "2RdwBSPQiwcmiDo9kixcl8": ("Pharrell Williams", ["dance pop", "pop"], 78),
    "3yDIp0kaq9EFKe07X1X2rz": ("Nile Rodgers", ["disco", "funk"], 65),
    "1dfeR4HaWDbWqFHLkxsg1d": ("Queen", ["classic rock", "glam rock", "rock"], 86),
    "0C0XlULifJtAgn6ZNCW2eu": ("The Killers", ["alternative rock", "modern rock", "rock"], 79),
    "1Xyo4u8uXC1ZmMpatF05PJ": ("The Weeknd", ["canadian contemporary r&b", "canadian pop", "pop"], 93),
    "6eUKZXaKkcviH0Ku9w2n3V": ("Ed Sheeran", ["pop", "singer-songwriter pop", "uk pop"], 87),
    "6olE6TJLqED3rqDCT0FyPh": ("Nirvana", ["grunge", "permanent wave", "rock"], 80),
    "3fMbdgg4jU18AjLCKBhRSm": ("Michael Jackson", ["r&b", "soul"], 86),
    "3WrFJ7ztbogyGnTHbHJFl2": ("The Beatles", ["british invasion", "merseybeat", "rock"], 84),
    "2jzc5TC5TVFLXQlBNiIUzE": ("a-ha", ["new wave", "new wave pop", "synthpop"], 72),
    "3hv9jJF3adDNsBSIQDqcjp": ("Mark Ronson", ["dance pop", "pop"], 71),
    "0du5cEVh5yTK9QJze8zA0C": ("Bruno Mars", ["dance pop", "pop"], 88),
    "0ECwFtbIWEVNwjlrfc6xoL": ("Eagles", ["album rock", "classic rock", "soft rock"], 78),
    "6qqNVTkY8uBg9cP3Jd7DAH": ("Billie Eilish", ["art pop", "electropop", "pop"], 89),
    "4dpARuHxo51G3z768sgnrY": ("Adele", ["british soul", "pop", "uk pop"], 83),
    "0LcJLqbBmaGUft1e9Mm8HV": ("ABBA", ["europop", "swedish pop"], 79),
    "0PFtn5NtBbbUNbU9EAmIWF": ("Toto", ["album rock", "soft rock", "yacht rock"], 74),
    "7dGJo4pcD2V6oG8kP0tJRR": ("Eminem", ["detroit hip hop", "hip hop", "rap"], 88),
    "0gxyHStUsqpMadRV0Di1Qt": ("Rick Astley", ["dance rock", "new wave pop"], 70),
    "1G9G7WwrXka3Z1r7aIDjI7": ("Outkast", ["atl hip hop", "hip hop", "rap"], 72),
}

# id: (name, artist ids, release_date, album_type)
ALBUMS = {
    "4m2880jivSbbyEGAKfITCa": ("Random Access Memories", ["4tZwfgrHOc3mvqYlEYSvVi"], "2013-05-17", "album"),
    "2noRn2Aes5aoNVsU6iWThc": ("Discovery", ["4tZwfgrHOc3mvqYlEYSvVi"], "2001-03-12", "album"),
    "1GbtB4zTqAsyfZEsm1RZfx": ("A Night At The Opera (2011 Remaster)", ["1dfeR4HaWDbWqFHLkxsg1d"], "1975-11-21", "album"),
    "0ov4wFcRVr4ZUQgNoB2pIE": ("Jazz (2011 Remaster)", ["1dfeR4HaWDbWqFHLkxsg1d"], "1978-11-10", "album"),
    "1ZeAmUjh9xuEeAGf3BgqGE": ("The Game (2011 Remaster)", ["1dfeR4HaWDbWqFHLkxsg1d"], "1980-06-27", "album"),
    "4OHNH3sDzIxnmUADXzv2kT": ("Hot Fuss", ["0C0XlULifJtAgn6ZNCW2eu"], "2004-06-07", "album"),
    "4yP0hdKOZPNshxUOjY0cZj": ("After Hours", ["1Xyo4u8uXC1ZmMpatF05PJ"], "2020-03-20", "album"),
    "3T4tUhGYeRNVUGevb0wThu": ("÷ (Deluxe)", ["6eUKZXaKkcviH0Ku9w2n3V"], "2017-03-03", "album"),
    "2UJcKiJxNryhL050F5Z1Fk": ("Nevermind (Remastered)", ["6olE6TJLqED3rqDCT0FyPh"], "1991-09-26", "album"),
    "1C2h7mLntPSeVYciMRTF4a": ("Thriller 25 Super Deluxe Edition", ["3fMbdgg4jU18AjLCKBhRSm"], "1982-11-30", "album"),
    "7vEJAtP3KgKSpOHVgwm3Eh": ("1 (Remastered)", ["3WrFJ7ztbogyGnTHbHJFl2"], "2000-11-13", "compilation"),
    "1ER3B6zev5JEAaqhnyyfbf": ("Hunting High and Low", ["2jzc5TC5TVFLXQlBNiIUzE"], "1985-06-01", "album"),
    "3vLaOYCNCzngDf8QdBg2V1": ("Uptown Special", ["3hv9jJF3adDNsBSIQDqcjp"], "2015-01-12", "album"),
    "2widuo17g5CEC66IbzveRu": ("Hotel California (2013 Remaster)", ["0ECwFtbIWEVNwjlrfc6xoL"], "1976-12-08", "album"),
    "0S0KGZnfBGSIssfF54WSJh": ("WHEN WE ALL FALL ASLEEP, WHERE DO WE GO?", ["6qqNVTkY8uBg9cP3Jd7DAH"], "2019-03-29", "album"),
    "0Lg1uZvI312TPqxNWShFXL": ("21", ["4dpARuHxo51G3z768sgnrY"], "2011-01-24", "album"),
    "1M4anG49aEs4YimBdj96Oy": ("Arrival", ["0LcJLqbBmaGUft1e9Mm8HV"], "1976-10-11", "album"),
    "62U7xIHcID94o20Of5ea4D": ("Toto IV", ["0PFtn5NtBbbUNbU9EAmIWF"], "1982-04-08", "album"),
    "71xFWYFtiHC8eP99QB30AA": ("Curtain Call: The Hits", ["7dGJo4pcD2V6oG8kP0tJRR"], "2005-12-06", "compilation"),
    "6eUW0wxWtzkFdaEFsTJto6": ("Whenever You Need Somebody", ["0gxyHStUsqpMadRV0Di1Qt"], "1987-11-12", "album"),
    "1UsmQ3bpJTyK6ygoOOjG1r": ("Speakerboxxx/The Love Below", ["1G9G7WwrXka3Z1r7aIDjI7"], "2003-09-23", "album"),
}

# id: (name, artist ids, album id, track_number, duration_ms, popularity, explicit)
TRACKS = {
    "69kOkLUCkxIZYexIgSG8rq": ("Get Lucky (feat. Pharrell Williams and Nile Rodgers)", ["4tZwfgrHOc3mvqYlEYSvVi", "2RdwBSPQiwcmiDo9kixcl8", "3yDIp0kaq9EFKe07X1X2rz"], "4m2880jivSbbyEGAKfITCa", 8, 369626, 82, False),
    "2cGxRwrMyEAp8dEbuZaVv6": ("Instant Crush (feat. Julian Casablancas)", ["4tZwfgrHOc3mvqYlEYSvVi"], "4m2880jivSbbyEGAKfITCa", 5, 337560, 76, False),
    "5CMjjywI0eZMixPeqNd75R": ("Lose Yourself to Dance (feat. Pharrell Williams)", ["4tZwfgrHOc3mvqYlEYSvVi", "2RdwBSPQiwcmiDo9kixcl8"], "4m2880jivSbbyEGAKfITCa", 6, 353893, 70, False),
    "0DiWol3AO6WpXZgp0goxAV": ("One More Time", ["4tZwfgrHOc3mvqYlEYSvVi"], "2noRn2Aes5aoNVsU6iWThc", 1, 320357, 78, False),
    "5W3cjX2J3tjhG8zb6u0qHn": ("Harder, Better, Faster, Stronger", ["4tZwfgrHOc3mvqYlEYSvVi"], "2noRn2Aes5aoNVsU6iWThc", 4, 224693, 80, False),
    "7tFiyTwD0nx5a1eklYtX2J": ("Bohemian Rhapsody - Remastered 2011", ["1dfeR4HaWDbWqFHLkxsg1d"], "1GbtB4zTqAsyfZEsm1RZfx", 11, 354320, 84, False),
    "5T8EDUDqKcs6OSOwEsfqG7": ("Don't Stop Me Now - Remastered 2011", ["1dfeR4HaWDbWqFHLkxsg1d"], "0ov4wFcRVr4ZUQgNoB2pIE", 12, 209413, 83, False),
    "57JVGBtBLCfHw2muk5416J": ("Another One Bites The Dust - Remastered 2011", ["1dfeR4HaWDbWqFHLkxsg1d"], "1ZeAmUjh9xuEeAGf3BgqGE", 3, 214653, 81, False),
    "3n3Ppam7vgaVa1iaRUc9Lp": ("Mr. Brightside", ["0C0XlULifJtAgn6ZNCW2eu"], "4OHNH3sDzIxnmUADXzv2kT", 2, 222973, 88, False),
    "0VjIjW4GlUZAMYd2vXMi3b": ("Blinding Lights", ["1Xyo4u8uXC1ZmMpatF05PJ"], "4yP0hdKOZPNshxUOjY0cZj", 9, 200040, 91, False),
    "7qiZfU4dY1lWllzX7mPBI3": ("Shape of You", ["6eUKZXaKkcviH0Ku9w2n3V"], "3T4tUhGYeRNVUGevb0wThu", 4, 233712, 87, False),
    "5ghIJDpPoe3CfHMGu71E6T": ("Smells Like Teen Spirit", ["6olE6TJLqED3rqDCT0FyPh"], "2UJcKiJxNryhL050F5Z1Fk", 1, 301920, 82, False),
    "5ChkMS8OtdzJeqyybCc9R5": ("Billie Jean", ["3fMbdgg4jU18AjLCKBhRSm"], "1C2h7mLntPSeVYciMRTF4a", 6, 293826, 85, False),
    "0aym2LBJBk9DAYuHHutrIl": ("Hey Jude - Remastered 2015", ["3WrFJ7ztbogyGnTHbHJFl2"], "7vEJAtP3KgKSpOHVgwm3Eh", 21, 425653, 77, False),
    "2WfaOiMkCvy7F5fcp2zZ8L": ("Take on Me", ["2jzc5TC5TVFLXQlBNiIUzE"], "1ER3B6zev5JEAaqhnyyfbf", 1, 225280, 86, False),
    "32OlwWuMpZ6b0aN2RZOeMS": ("Uptown Funk (feat. Bruno Mars)", ["3hv9jJF3adDNsBSIQDqcjp", "0du5cEVh5yTK9QJze8zA0C"], "3vLaOYCNCzngDf8QdBg2V1", 4, 269666, 84, False),
    "40riOy7x9W7GXjyGp4pjAv": ("Hotel California - 2013 Remaster", ["0ECwFtbIWEVNwjlrfc6xoL"], "2widuo17g5CEC66IbzveRu", 1, 391376, 83, False),
    "2Fxmhks0bxGSBdJ92vM42m": ("bad guy", ["6qqNVTkY8uBg9cP3Jd7DAH"], "0S0KGZnfBGSIssfF54WSJh", 2, 194087, 84, False),
    "1c8gk2PeTE04A1pIDH9YMk": ("Rolling in the Deep", ["4dpARuHxo51G3z768sgnrY"], "0Lg1uZvI312TPqxNWShFXL", 1, 228293, 80, False),
    "0GjEhVFGZW8afUYGChu3Rr": ("Dancing Queen", ["0LcJLqbBmaGUft1e9Mm8HV"], "1M4anG49aEs4YimBdj96Oy", 2, 230400, 81, False),
    "2374M0fQpWi3dLnB54qaLX": ("Africa", ["0PFtn5NtBbbUNbU9EAmIWF"], "62U7xIHcID94o20Of5ea4D", 10, 295893, 85, False),
    "5Z01UMMf7V1o0MzF86s6WJ": ("Lose Yourself - From \"8 Mile\" Soundtrack", ["7dGJo4pcD2V6oG8kP0tJRR"], "71xFWYFtiHC8eP99QB30AA", 12, 326466, 85, True),
    "4cOdK2wGLETKBW3PvgPWqT": ("Never Gonna Give You Up", ["0gxyHStUsqpMadRV0Di1Qt"], "6eUW0wxWtzkFdaEFsTJto6", 1, 213573, 78, False),
    "2PpruBYCo4H7WOBJ7Q2EwM": ("Hey Ya!", ["1G9G7WwrXka3Z1r7aIDjI7"], "1UsmQ3bpJTyK6ygoOOjG1r", 9, 250373, 82, False),
}

# id: (name, publisher, description)
SHOWS = {
    "38bS44xjbVVZ3No3ByF1dJ": ("Vetenskapsradion Historia", "Sveriges Radio",
                               "Lyssna på berättelser om kulturer, krig, människoöden och samhällen."),
    "5CfCWKI5pZ28U0uOzXkDHe": ("Song Exploder", "Hrishikesh Hirway",
                               "Musicians take apart their songs and tell the story of how they were made."),
}

# id: (name, show id, release_date, duration_ms, description)
EPISODES = {
    "512ojhOuo1ktJprKbVcKyQ": ("Tredje rikets knarkande granskas", "38bS44xjbVVZ3No3ByF1dJ",
                               "2015-10-01", 1502795, "Historikern Lena Håkansson om drogerna i Tredje riket."),
    "4rOoJ6Egrf8K2IrywzwOMk": ("Daft Punk - Touch", "5CfCWKI5pZ28U0uOzXkDHe", "2013-09-03",
                               1046000, "Thomas Bangalter of Daft Punk on the making of Touch."),
}

# Discovery's art is listed smallest first on purpose: clients must not trust the order.
UNORDERED_ART = {"2noRn2Aes5aoNVsU6iWThc"}


def _images(seed: str, prefix: str = "ab67616d0000") -> list[dict[str, Any]]:
    digest = hashlib.sha256(seed.encode()).hexdigest()[:24]
    sizes = [("b273", 640), ("1e02", 300), ("4851", 64)]
    images = [{"url": f"https://i.scdn.co/image/{prefix}{code}{digest}", "height": px, "width": px}
              for code, px in sizes]
    return images[::-1] if seed in UNORDERED_ART else images


def _link(kind: str, obj_id: str, base: str) -> dict[str, Any]:
    return {
        "external_urls": {"spotify": f"{OPEN_SPOTIFY}/{kind}/{obj_id}"},
        "href": f"{base}{kind}s/{obj_id}",
        "id": obj_id,
        "type": kind,
        "uri": f"spotify:{kind}:{obj_id}",
    }


def simple_artist(artist_id: str, base: str) -> dict[str, Any]:
    return {**_link("artist", artist_id, base), "name": ARTISTS[artist_id][0]}


def artist(artist_id: str, base: str) -> dict[str, Any]:
    name, genres, popularity = ARTISTS[artist_id]
    return {**simple_artist(artist_id, base), "genres": genres, "popularity": popularity,
            "followers": {"href": None, "total": popularity * 123_457},
            "images": _images(artist_id, "ab6761610000")}


def simple_album(album_id: str, base: str) -> dict[str, Any]:
    name, artist_ids, release_date, album_type = ALBUMS[album_id]
    return {
        **_link("album", album_id, base),
        "album_type": album_type,
        "artists": [simple_artist(a, base) for a in artist_ids],
        "available_markets": ["US", "GB", "DE", "SE"],
        "images": _images(album_id),
        "name": name,
        "release_date": release_date,
        "release_date_precision": "day",
        "total_tracks": sum(1 for t in TRACKS.values() if t[2] == album_id),
    }


def simple_track(track_id: str, base: str) -> dict[str, Any]:
    name, artist_ids, _album, number, duration_ms, _pop, explicit = TRACKS[track_id]
    return {
        **_link("track", track_id, base),
        "artists": [simple_artist(a, base) for a in artist_ids],
        "available_markets": ["US", "GB", "DE", "SE"],
        "disc_number": 1,
        "duration_ms": duration_ms,
        "explicit": explicit,
        "is_local": False,
        "name": name,
        "preview_url": None,
        "track_number": number,
    }


def track(track_id: str, base: str) -> dict[str, Any]:
    _name, _artists, album_id, _number, _ms, popularity, _explicit = TRACKS[track_id]
    return {**simple_track(track_id, base), "album": simple_album(album_id, base),
            "external_ids": {"isrc": "FAKE" + track_id[:8].upper()}, "popularity": popularity}


def album(album_id: str, base: str) -> dict[str, Any]:
    items = sorted((t for t, row in TRACKS.items() if row[2] == album_id),
                   key=lambda t: TRACKS[t][3])
    return {**simple_album(album_id, base), "genres": [], "label": "Fake Records",
            "popularity": 70, "tracks": page([simple_track(t, base) for t in items],
                                              f"{base}albums/{album_id}/tracks", 50, 0)}


def show(show_id: str, base: str) -> dict[str, Any]:
    name, publisher, description = SHOWS[show_id]
    return {**_link("show", show_id, base), "name": name, "publisher": publisher,
            "description": description, "images": _images(show_id, "ab6765630000"),
            "media_type": "audio", "explicit": False, "languages": ["en"],
            "total_episodes": sum(1 for e in EPISODES.values() if e[1] == show_id)}


def episode(episode_id: str, base: str, *, with_show: bool = True) -> dict[str, Any]:
    name, show_id, release_date, duration_ms, description = EPISODES[episode_id]
    body = {**_link("episode", episode_id, base), "name": name, "description": description,
            "duration_ms": duration_ms, "release_date": release_date,
            "release_date_precision": "day", "explicit": False, "is_playable": True,
            "language": "en", "images": _images(episode_id, "ab6765630000"),
            "audio_preview_url": None}
    if with_show:
        body["show"] = show(show_id, base)
    return body


def page(items: list[Any], href: str, limit: int, offset: int,
         total: int | None = None) -> dict[str, Any]:
    total = len(items) if total is None else total
    return {"href": f"{href}?offset={offset}&limit={limit}", "items": items, "limit": limit,
            "next": None if offset + limit >= total else f"{href}?offset={offset + limit}",
            "offset": offset, "previous": None if offset == 0 else f"{href}?offset=0",
            "total": total}
