"""The WebSocket clock-sync exchange: {"action": "time"} → ack {"t": server epoch ms}."""

from __future__ import annotations

import time

from servers import Guest, WSClient


def test_time_is_answered_with_the_server_clock_in_milliseconds(server, r):
    alice = Guest(server.url, "Alice")
    code = alice.create_nest("Clock Room")
    ws = WSClient(server.ws_url, f"/socket/{code}", alice.cookie)
    try:
        ws.initial_state()
        samples = []
        for i in range(8):
            before = time.time() * 1000
            ws.send("time", ref=f"t{i}")
            reply = ws.reply(f"t{i}")
            after = time.time() * 1000
            assert reply["event"] == "ack" and reply["nest"] == code
            t = reply["data"]["t"]
            assert isinstance(t, float | int) and not isinstance(t, bool)
            # Same machine, same clock: the server read it between our send and our receive.
            assert before - 1 <= t <= after + 1
            samples.append(t)
        assert samples == sorted(samples)
        # Sub-millisecond precision: NTP-style sync keeps the best of several samples.
        assert any(t != int(t) for t in samples)

        # Arguments are ignored; a bad ref is refused like for every other action.
        ws.send("time", {"junk": [1, 2, 3]}, ref=7)
        assert ws.reply(7)["event"] == "ack"
        ws.send("time", ref="x" * 500)
        assert ws.reply(None)["data"]["error"] == "invalid_request"
        # The socket is still good for ordinary actions afterwards.
        ws.send("ping", ref="p")
        assert ws.reply("p")["event"] == "ack"
    finally:
        ws.close()
