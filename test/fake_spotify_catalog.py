"""The fake Spotify's Web API catalog endpoints (search, tracks, episodes, artists, albums).

A mixin for FakeSpotify; handlers answer the shapes the Web API reference documents, built
from fake_spotify_data.
"""

from __future__ import annotations

import json
import re
from typing import Any

import fake_spotify_data as data
from werkzeug.wrappers import Request, Response


def error_response(status: int, message: str, reason: str | None = None,
           headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"error": {"status": status, "message": message}}
    if reason:
        body["error"]["reason"] = reason
    return Response(json.dumps(body), status=status, headers=headers,
                    content_type="application/json")


def json_response(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


_FILTER = re.compile(r'(\w+):(?:"([^"]*)"|(\S+))')


class CatalogEndpoints:
    """Catalog handlers; the host class provides ``api_base``."""

    api_base: str

    def _search(self, request: Request) -> Response:
        args = request.args
        kinds = [k for k in args.get("type", "").split(",") if k]
        if not args.get("q") or not kinds or set(kinds) - {"track", "episode"}:
            return error_response(400, "Bad search type field" if args.get("q") else "No search query")
        limit, offset = int(args.get("limit", 20)), int(args.get("offset", 0))
        if not 0 <= limit <= 50:
            return error_response(400, "Invalid limit")
        words, filters = self._parse_query(args["q"])
        body = {}
        base = self.api_base
        if "track" in kinds:
            hits = [t for t in data.TRACKS if self._track_matches(t, words, filters)]
            hits.sort(key=lambda t: -data.TRACKS[t][5])
            body["tracks"] = data.page([data.track(t, base) for t in hits[offset:offset + limit]],
                                       f"{base}search", limit, offset, len(hits))
        if "episode" in kinds:
            hits = [e for e in data.EPISODES if not filters and self._episode_matches(e, words)]
            body["episodes"] = data.page(
                [data.episode(e, base, with_show=False) for e in hits[offset:offset + limit]],
                f"{base}search", limit, offset, len(hits))
        return json_response(body)

    @staticmethod
    def _parse_query(q: str) -> tuple[list[str], dict[str, str]]:
        filters = {m.group(1).lower(): (m.group(2) or m.group(3)).lower()
                   for m in _FILTER.finditer(q)}
        return _FILTER.sub(" ", q).lower().split(), filters

    @staticmethod
    def _track_matches(track_id: str, words: list[str], filters: dict[str, str]) -> bool:
        name, artist_ids, album_id, *_ = data.TRACKS[track_id]
        artists = [data.ARTISTS[a][0].lower() for a in artist_ids]
        album_name, _, release_date, _ = data.ALBUMS[album_id]
        text = " ".join([name.lower(), album_name.lower(), *artists])
        if any(w not in text for w in words):
            return False
        if "artist" in filters and not any(filters["artist"] in a for a in artists):
            return False
        if "track" in filters and filters["track"] not in name.lower():
            return False
        if "genre" in filters:
            genres = {g for a in artist_ids for g in data.ARTISTS[a][1]}
            if filters["genre"] not in genres:
                return False
        if "year" in filters:
            low, _, high = filters["year"].partition("-")
            if not low.isdigit() or not int(low) <= int(release_date[:4]) <= int(high or low):
                return False
        return True

    @staticmethod
    def _episode_matches(episode_id: str, words: list[str]) -> bool:
        name, show_id, _, _, description = data.EPISODES[episode_id]
        text = " ".join([name, data.SHOWS[show_id][0], description]).lower()
        return bool(words) and all(w in text for w in words)

    def _track(self, request: Request, tid: str) -> Response:
        if tid not in data.TRACKS:
            return error_response(400 if len(tid) != 22 else 404,
                          "invalid id" if len(tid) != 22 else "Non existing id")
        return json_response(data.track(tid, self.api_base))

    def _tracks(self, request: Request) -> Response:
        ids = [i for i in request.args.get("ids", "").split(",") if i]
        if not ids or len(ids) > 50:
            return error_response(400, "Too many ids requested" if ids else "invalid id")
        return json_response({"tracks": [data.track(i, self.api_base) if i in data.TRACKS else None
                                 for i in ids]})

    def _episode(self, request: Request, eid: str) -> Response:
        # Like Spotify: with an app token, episodes outside the given market do not exist.
        if eid not in data.EPISODES or not request.args.get("market"):
            return error_response(404, "Non existing id")
        return json_response(data.episode(eid, self.api_base))

    def _episodes(self, request: Request) -> Response:
        ids = [i for i in request.args.get("ids", "").split(",") if i]
        if not ids or len(ids) > 50:
            return error_response(400, "Too many ids requested" if ids else "invalid id")
        market = request.args.get("market")
        return json_response({"episodes": [data.episode(i, self.api_base)
                                   if i in data.EPISODES and market else None for i in ids]})

    def _artists(self, request: Request) -> Response:
        ids = [i for i in request.args.get("ids", "").split(",") if i]
        if not ids or len(ids) > 50:
            return error_response(400, "Too many ids requested" if ids else "invalid id")
        return json_response({"artists": [data.artist(i, self.api_base) if i in data.ARTISTS else None
                                  for i in ids]})

    def _artist(self, request: Request, aid: str) -> Response:
        if aid not in data.ARTISTS:
            return error_response(404, "Non existing id")
        return json_response(data.artist(aid, self.api_base))

    def _top_tracks(self, request: Request, aid: str) -> Response:
        if not (request.args.get("country") or request.args.get("market")):
            return error_response(400, "Missing market parameter")
        if aid not in data.ARTISTS:
            return error_response(404, "Non existing id")
        ids = sorted((t for t, row in data.TRACKS.items() if aid in row[1]),
                     key=lambda t: -data.TRACKS[t][5])[:10]
        return json_response({"tracks": [data.track(t, self.api_base) for t in ids]})

    def _artist_albums(self, request: Request, aid: str) -> Response:
        if aid not in data.ARTISTS:
            return error_response(404, "Non existing id")
        groups = set(request.args.get("include_groups", "album,single,compilation").split(","))
        ids = [a for a, row in data.ALBUMS.items() if aid in row[1] and row[3] in groups]
        limit, offset = int(request.args.get("limit", 20)), int(request.args.get("offset", 0))
        return json_response(data.page([data.simple_album(a, self.api_base) for a in ids[offset:offset + limit]],
                               f"{self.api_base}artists/{aid}/albums", limit, offset, len(ids)))

    def _album(self, request: Request, alid: str) -> Response:
        if alid not in data.ALBUMS:
            return error_response(404, "Non existing id")
        return json_response(data.album(alid, self.api_base))

    def _album_tracks(self, request: Request, alid: str) -> Response:
        if alid not in data.ALBUMS:
            return error_response(404, "Non existing id")
        return json_response(data.album(alid, self.api_base)["tracks"])
