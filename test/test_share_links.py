"""Share links reach the server the user is on: domain, request host, LAN address (fake NICs)."""

from __future__ import annotations

import pytest

from config import CONF
from echonest import share_links
from echonest.share_links import base_url, lan_addresses, lan_urls, nest_url

EVERYWHERE = "0.0.0.0"  # noqa: S104 - a config value under test, nothing binds
HOME_NICS = [("lo", "127.0.0.1"), ("docker0", "172.17.0.1"), ("wlan0", "192.168.1.23"),
             ("eth0", "10.0.0.8"), ("zt0", "10.147.17.3"), ("eth1", "169.254.3.3")]


def conf(**values):
    base = {"ECHONEST_DOMAIN": "echone.st", "SHARE_BASE_URL": "", "HOST": "127.0.0.1",
            "PORT": 5000}
    base.update(values)
    return CONF.copy(**base)


def test_lan_addresses_prefer_the_home_network_and_skip_loopback_and_bridges():
    assert lan_addresses(HOME_NICS) == ["192.168.1.23", "10.0.0.8", "10.147.17.3", "172.17.0.1"]
    assert lan_addresses([("lo", "127.0.0.1"), ("eth0", "8.8.8.8"), ("x", "junk"),
                          ("v6", "fe80::1")]) == []
    assert lan_addresses([]) == []


@pytest.mark.parametrize(("host", "scheme", "settings", "expected"), [
    # Served under the domain: the domain's https link.
    ("echone.st", "https", {}, "https://echone.st"),
    ("www.echone.st", "https", {}, "https://echone.st"),
    ("ECHONEST.ST".replace("ECHONEST", "ECHONE"), "http", {}, "https://echone.st"),
    # An operator says what the public address is: always that.
    ("localhost:5000", "http", {"SHARE_BASE_URL": "https://party.example.org/"},
     "https://party.example.org"),
    # Any other name or address the visitor used is reachable by the people they share with.
    ("party.example.org", "https", {}, "https://party.example.org"),
    ("192.168.1.23:5000", "http", {"HOST": EVERYWHERE}, "http://192.168.1.23:5000"),
    # Loopback on a loopback-only server: nobody else can reach it anyway; keep it honest.
    ("localhost:5000", "http", {}, "http://localhost:5000"),
    ("127.0.0.1:5000", "http", {"ECHONEST_DOMAIN": ""}, "http://127.0.0.1:5000"),
    # Loopback on a server listening everywhere: the LAN address guests' phones can open.
    ("localhost:5000", "http", {"HOST": EVERYWHERE}, "http://192.168.1.23:5000"),
    ("127.0.0.1:8080", "http", {"HOST": EVERYWHERE}, "http://192.168.1.23:8080"),
    ("[::1]:5000", "http", {"HOST": "::"}, "http://192.168.1.23:5000"),
    ("localhost", "http", {"HOST": EVERYWHERE, "PORT": 5115}, "http://192.168.1.23:5115"),
])
def test_base_url_per_host_and_domain(host, scheme, settings, expected):
    assert base_url(host, scheme, conf(**settings), interfaces=HOME_NICS) == expected


def test_no_lan_address_falls_back_to_what_the_request_used():
    assert base_url("localhost:5000", "http", conf(HOST=EVERYWHERE),
                    interfaces=[("lo", "127.0.0.1")]) == "http://localhost:5000"


def test_nest_urls():
    assert nest_url("http://10.0.0.8:5000", "X7K2P") == "http://10.0.0.8:5000/X7K2P"
    assert nest_url("https://echone.st", "main", is_main=True) == "https://echone.st/"
    assert nest_url("https://echone.st", "X7K2P", short=False, invite="a b&c") == (
        "https://echone.st/nest/X7K2P?invite=a+b%26c")
    assert nest_url("https://echone.st", "X7K2P", host="") == "https://echone.st/X7K2P"


def test_what_make_run_prints():
    assert lan_urls(conf(HOST=EVERYWHERE), HOME_NICS)[:2] == [
        "http://192.168.1.23:5000", "http://10.0.0.8:5000"]
    assert lan_urls(conf(HOST="127.0.0.1"), HOME_NICS) == ["http://127.0.0.1:5000"]
    assert lan_urls(conf(HOST=EVERYWHERE), []) == ["http://localhost:5000"]
    text = share_links.announce(conf(HOST=EVERYWHERE), HOME_NICS)
    assert text.startswith("Guests on this network can join at: http://192.168.1.23:5000")


def test_the_system_interface_list_is_well_formed():
    for name, address in share_links.system_interfaces():
        assert isinstance(name, str) and address.count(".") == 3


def test_split_host():
    assert share_links.split_host("Example.org:80") == ("example.org", "80")
    assert share_links.split_host("[::1]:5000") == ("[::1]", "5000")
    assert share_links.split_host("") == ("", "")


def test_make_run_prints_a_scannable_qr_block():
    text = share_links.announce(conf(HOST=EVERYWHERE), HOME_NICS)
    lines = text.splitlines()[1:]
    assert len(lines) > 10 and len({len(line) for line in lines}) == 1  # a square-ish block
    assert set("".join(lines)) <= {" ", "█", "▀", "▄"}
