"""Code guessing never locks out an office NAT: a guesser blocks themself (and, at a much higher
count, new-code lookups from their address), never the Home Nest or the nests people there use."""

from __future__ import annotations

from servers import Guest, WSClient, web_server
from web_support import ALICE, BOB, create_nest, make_app, user_client

CAROL = "carol@example.com"
MALLORY = "mallory@example.com"
GUESSES = ("ZZZZZ", "YYYYY", "XXXXX", "WWWWW", "VVVVV", "UUUUU")


def test_one_guesser_behind_a_nat_blocks_only_themself(r):
    app = make_app(r, RATE_LIMITS={"unknown_code_user": [3, 60], "unknown_code_ip": [100, 60]})
    alice, bob, mallory = (user_client(app, u) for u in (ALICE, BOB, MALLORY))
    code = create_nest(alice)["code"]
    statuses = [mallory.get(f"/api/nests/{guess}").status_code for guess in GUESSES]
    assert statuses[:3] == [404, 404, 404] and set(statuses[3:]) == {429}
    # No oracle: the guesser's lookup of a real nest they never reached is refused too.
    assert mallory.get(f"/api/nests/{code}").status_code == 429
    assert mallory.get("/api/nests/main").status_code == 200
    # Everyone else on the same address: new codes, pages, API and the Home Nest all work.
    assert bob.get(f"/api/nests/{code}").status_code == 200
    assert bob.get(f"/nest/{code}").status_code == 200
    assert bob.post(f"/api/nests/{code}/vote", json={"id": "1", "up": True}).status_code != 429
    assert alice.get(f"/api/nests/{code}/queue").status_code == 200
    assert bob.get("/").status_code == 200


def test_an_address_over_its_limit_still_reaches_known_nests_and_the_home_nest(r):
    app = make_app(r, RATE_LIMITS={"unknown_code_user": [100, 60], "unknown_code_ip": [3, 60]})
    alice, bob, carol, mallory = (user_client(app, u) for u in (ALICE, BOB, CAROL, MALLORY))
    code = create_nest(alice)["code"]
    assert bob.get(f"/nest/{code}").status_code == 200  # Bob joined before the guessing
    for guess in GUESSES:
        mallory.get(f"/api/nests/{guess}")
    assert mallory.get(f"/api/nests/{code}").status_code == 429
    # Nests people already use keep working for them, pages, API and all.
    assert bob.get(f"/nest/{code}").status_code == 200
    assert bob.get(f"/api/nests/{code}/queue").status_code == 200
    assert alice.get(f"/api/nests/{code}").status_code == 200
    for person in (alice, bob, carol, mallory):
        assert person.get("/api/nests/main/queue").status_code == 200
    # A newcomer from that address waits out the window for codes they never used.
    assert carol.get(f"/api/nests/{code}").status_code == 429


def test_sockets_of_known_nests_and_the_home_nest_open_after_a_neighbour_guessed(r, redis_url):
    limits = {"unknown_code_user": [3, 60], "unknown_code_ip": [3, 60]}
    with web_server(redis_url, {"USE_BENDER": False, "RATE_LIMITS": limits}) as server:
        alice, mallory = Guest(server.url, "Alice"), Guest(server.url, "Mallory")
        code = alice.create_nest()
        for guess in GUESSES:
            mallory.get(f"/api/nests/{guess}")
        assert mallory.get(f"/api/nests/{code}").status_code == 429
        for path in (f"/socket/{code}", "/socket"):
            ws = WSClient(server.ws_url, path, alice.cookie)
            ws.initial_state()
            ws.close()
        assert alice.get(f"/api/nests/{code}").status_code == 200
