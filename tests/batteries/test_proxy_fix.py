"""ProxyFixMiddleware: forwarded headers are believed only from trusted peers."""

from __future__ import annotations

import pytest

from lcore import Lcore, ProxyFixMiddleware, rate_limit, request


def _app(**kw) -> Lcore:
    app = Lcore()
    app.use(ProxyFixMiddleware(**kw))

    @app.route("/who")
    def who():
        return {
            "addr": request.remote_addr,
            "scheme": request.urlparts.scheme,
            "url": request.url,
            "environ_addr": request.environ.get("REMOTE_ADDR"),
        }

    return app


FWD = {
    "X-Forwarded-For": "203.0.113.7",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "shop.example.com",
}


def test_trusted_peer_sets_address_scheme_and_host(make_client):
    c = make_client(_app(trusted_proxies=["127.0.0.1"]))
    data = c.get("/who", headers=FWD).json
    assert data["addr"] == "203.0.113.7"
    assert data["environ_addr"] == "203.0.113.7"
    assert data["scheme"] == "https"
    assert data["url"] == "https://shop.example.com/who"


def test_untrusted_peer_is_ignored(make_client):
    c = make_client(_app(trusted_proxies=["10.0.0.1"]))
    data = c.get("/who", headers=FWD).json
    assert data["addr"] == "127.0.0.1"
    assert data["scheme"] == "http"
    assert data["url"] == "http://localhost/who"


def test_nothing_trusted_by_default(make_client):
    c = make_client(_app())
    assert c.get("/who", headers=FWD).json["addr"] == "127.0.0.1"


def test_config_proxy_trusted_is_used_when_no_list_given(make_client):
    app = _app()
    app.config["proxy.trusted"] = "127.0.0.1"
    assert make_client(app).get("/who", headers=FWD).json["addr"] == "203.0.113.7"


def test_cidr_networks(make_client):
    c = make_client(_app(trusted_proxies="10.0.0.0/8, 127.0.0.0/8"))
    assert c.get("/who", headers=FWD).json["addr"] == "203.0.113.7"


def test_spoofed_left_entries_are_not_used(make_client):
    c = make_client(_app(trusted_proxies=["127.0.0.1"]))
    # The client sent "1.1.1.1" itself; our proxy appended the address it saw.
    data = c.get("/who", headers={"X-Forwarded-For": "1.1.1.1, 198.51.100.9"}).json
    assert data["addr"] == "198.51.100.9"


def test_num_proxies_counts_from_the_right(make_client):
    c = make_client(_app(trusted_proxies=["127.0.0.1"], num_proxies=2))
    data = c.get("/who", headers={"X-Forwarded-For": "6.6.6.6, 198.51.100.9, 10.0.0.2"}).json
    assert data["addr"] == "198.51.100.9"
    # Fewer entries than proxies: the header cannot be trusted.
    assert c.get("/who", headers={"X-Forwarded-For": "198.51.100.9"}).json["addr"] == "127.0.0.1"


@pytest.mark.parametrize("bad", ["unknown", "not-an-ip", "1.2.3.4.5", ""])
def test_garbage_addresses_are_ignored(make_client, bad):
    c = make_client(_app(trusted_proxies=["127.0.0.1"]))
    assert c.get("/who", headers={"X-Forwarded-For": bad}).json["addr"] == "127.0.0.1"


def test_ports_and_brackets_are_stripped(make_client):
    c = make_client(_app(trusted_proxies=["127.0.0.1"]))
    assert (
        c.get("/who", headers={"X-Forwarded-For": "203.0.113.7:4711"}).json["addr"] == "203.0.113.7"
    )
    assert (
        c.get("/who", headers={"X-Forwarded-For": "[2001:db8::1]:4711"}).json["addr"]
        == "2001:db8::1"
    )


def test_bad_proto_and_host_are_ignored(make_client):
    c = make_client(_app(trusted_proxies=["127.0.0.1"]))
    data = c.get(
        "/who", headers={"X-Forwarded-Proto": "gopher", "X-Forwarded-Host": "evil.com/x?"}
    ).json
    assert data["scheme"] == "http"
    assert data["url"] == "http://localhost/who"


def test_peer_from_test_client_address(proto):
    from lcore import TestClient

    app = _app(trusted_proxies=["10.1.2.3"])
    with TestClient(app, protocol=proto, client=("10.1.2.3", 1234)) as c:
        assert c.get("/who", headers=FWD).json["addr"] == "203.0.113.7"
    with TestClient(app, protocol=proto, client=("10.1.2.4", 1234)) as c:
        assert c.get("/who", headers=FWD).json["addr"] == "10.1.2.4"


def test_rate_limit_keys_on_the_forwarded_client(make_client):
    app = Lcore()
    app.use(ProxyFixMiddleware(trusted_proxies=["127.0.0.1"]))

    @app.route("/limited")
    @rate_limit(1, per=60)
    def limited():
        return "ok"

    c = make_client(app)
    assert c.get("/limited", headers={"X-Forwarded-For": "192.0.2.1"}).status_code == 200
    assert c.get("/limited", headers={"X-Forwarded-For": "192.0.2.1"}).status_code == 429
    assert c.get("/limited", headers={"X-Forwarded-For": "192.0.2.2"}).status_code == 200


def test_invalid_arguments():
    with pytest.raises(ValueError):
        ProxyFixMiddleware(num_proxies=0)
    with pytest.raises(ValueError):
        ProxyFixMiddleware(trusted_proxies=["not a network"])
