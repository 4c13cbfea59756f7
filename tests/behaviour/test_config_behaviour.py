"""Config keys that change request behaviour: catchall, debug, json.enable, error.format, ..."""

from __future__ import annotations

from lcore import Lcore, request


def test_constructor_config():
    app = Lcore(catchall=False, debug=False, **{"error.format": "json"})
    assert app.config["catchall"] is False
    assert app.catchall is False
    assert app.config["error.format"] == "json"
    app.catchall = True
    assert app.config["catchall"] is True


def test_defaults():
    app = Lcore()
    assert (
        app.config["catchall"],
        app.config["debug"],
        app.config["json.enable"],
        app.config["error.format"],
    ) == (True, False, True, "html")


def test_config_read_only_attribute():
    import pytest

    app = Lcore()
    with pytest.raises(AttributeError):
        app.config = {}


def test_error_format_switch_at_runtime(make_client):
    app = Lcore()
    app.route("/", callback=lambda: 1 / 0)
    c = make_client(app)
    assert c.get("/").headers["content-type"] == "text/html; charset=UTF-8"
    app.config.load_dict({"error": {"format": "json"}})
    r = c.get("/")
    assert r.headers["content-type"] == "application/json"
    assert r.json == {"error": "Internal Server Error", "status": 500}


def test_debug_toggle(make_client):
    app = Lcore()
    app.route("/", callback=lambda: {}["missing"])
    c = make_client(app)
    assert "KeyError" not in c.get("/").text
    app.config["debug"] = True
    assert "KeyError" in c.get("/").text
    app.config["debug"] = False
    assert "KeyError" not in c.get("/").text


def test_json_enable_false_turns_json_conversion_off(make_client, caplog):
    # Lcore 0.0.4: json.enable = False really turns JSON conversion off; a dict left over
    # is a 500 whose log line names the route (0.0.4 sent the dict's keys).
    app = Lcore(**{"json.enable": False})
    app.route("/", callback=lambda: {"a": [1]})
    app.route("/text", callback=lambda: "t")
    c = make_client(app)
    assert c.get("/").status_code == 500
    assert "route GET '/' returned a dict, but JSON conversion is off" in caplog.text
    assert c.get("/text").text == "t"


def test_proxy_trusted_from_load_dict(make_client):
    app = Lcore()
    app.config.load_dict({"proxy": {"trusted": "127.0.0.1"}})
    app.route("/", callback=lambda: request.remote_addr)
    assert make_client(app).get("/", headers={"X-Forwarded-For": "9.9.9.9"}).text == "9.9.9.9"


def test_request_max_body_from_env(make_client, monkeypatch):
    monkeypatch.setenv("MYAPP_REQUEST__MAX_BODY", "3")
    app = Lcore()
    app.config.load_env("MYAPP_")
    app.post("/", callback=lambda: request.body.read())
    c = make_client(app)
    assert c.post("/", body=b"abc").body == b"abc"
    assert c.post("/", body=b"abcd").status_code == 413


def test_config_hook_fires_for_changes():
    app = Lcore()
    seen = []
    app.add_hook("config", lambda key, value: seen.append((key, value)))
    app.config.update({"a": 1})
    app.config["b.c"] = 2
    assert seen == [("a", 1), ("b.c", 2)]


def test_debug_enables_docs(make_client):
    app = Lcore(debug=True)
    app.route("/x", callback=lambda: "x")
    c = make_client(app)
    assert c.get("/docs").status_code == 200
    assert c.get("/docs/json").status_code == 200
    assert Lcore().config["debug"] is False
    assert make_client(Lcore()).get("/docs").status_code == 404
