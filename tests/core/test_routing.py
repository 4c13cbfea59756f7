"""Router unit tests: parsing, compiled matching, ordering, escaping, building."""

from __future__ import annotations

import pytest

from lcore import (
    HTTPError,
    Lcore,
    RouteBuildError,
    RouteError,
    RouterUnknownModeError,
    RouteSyntaxError,
)
from lcore.routing import Route, Router


def make_router(*rules, method="GET"):
    app = Lcore()
    router = Router()
    routes = {}
    for rule in rules:
        r = Route(app, rule, method, lambda **kw: None, name=rule)
        router.add(rule, method, r, name=rule)
        routes[rule] = r
    return router, routes


def match(router, path, method="GET"):
    route, args = router.match(method, path)
    return route.rule, args


def test_static_is_dict_lookup():
    router, _ = make_router("/a", "/a/b", "/")
    assert router.static["GET"].keys() == {"/a", "/a/b", "/"}
    assert router.dynamic == {}
    assert match(router, "/a/b") == ("/a/b", {})


def test_dynamic_grouped_by_first_segment():
    router, _ = make_router("/users/<id:int>", "/users/<id:int>/posts", "/items/<x>", "/<any>/z")
    buckets = router.dynamic["GET"]
    assert set(buckets) == {"users", "items", None}
    assert [c.route.rule for c in buckets["users"].entries] == [
        "/users/<id:int>",
        "/users/<id:int>/posts",
    ]
    assert match(router, "/users/5/posts") == ("/users/<id:int>/posts", {"id": 5})
    assert match(router, "/items/q") == ("/items/<x>", {"x": "q"})
    assert match(router, "/zzz/z") == ("/<any>/z", {"any": "zzz"})


def test_combined_regex_one_per_bucket():
    rules = [f"/r/{i}/<x>" for i in range(300)]
    router, _ = make_router(*rules)
    bucket = router.dynamic["GET"]["r"]
    assert match(router, "/r/299/val") == ("/r/299/<x>", {"x": "val"})
    assert match(router, "/r/0/v") == ("/r/0/<x>", {"x": "v"})
    # One compiled pattern for the whole bucket, with an alternative per rule.
    assert bucket._regex.pattern.count("|") == 299


def test_many_args_per_route_do_not_shift_groups():
    router, _ = make_router("/m/<a>/<b>/<c>", "/m/<a>/<b>/<c>/<d>", "/m/<a:re:(x)(y)>/z")
    assert match(router, "/m/1/2/3/4") == (
        "/m/<a>/<b>/<c>/<d>",
        {"a": "1", "b": "2", "c": "3", "d": "4"},
    )
    assert match(router, "/m/xy/z") == ("/m/<a:re:(x)(y)>/z", {"a": "xy"})
    assert match(router, "/m/1/2/3") == ("/m/<a>/<b>/<c>", {"a": "1", "b": "2", "c": "3"})


@pytest.mark.parametrize("wild_first", [True, False])
def test_order_between_segment_bucket_and_wildcard_first(wild_first):
    rules = ["/<kind>/list", "/users/<name>"] if wild_first else ["/users/<name>", "/<kind>/list"]
    router, _ = make_router(*rules)
    # '/users/list' matches both rules: the one registered first wins.
    assert match(router, "/users/list")[0] == rules[0]
    assert match(router, "/users/bob") == ("/users/<name>", {"name": "bob"})
    assert match(router, "/books/list") == ("/<kind>/list", {"kind": "books"})


def test_registration_order_within_bucket():
    router, _ = make_router("/a/<x>", "/a/<x:int>")
    assert match(router, "/a/1") == ("/a/<x>", {"x": "1"})


def test_static_wins_over_dynamic():
    router, _ = make_router("/a/<x>", "/a/fixed")
    assert match(router, "/a/fixed") == ("/a/fixed", {})


def test_filters():
    router, _ = make_router(
        "/i/<v:int>", "/f/<v:float>", "/p/<v:path>", "/u/<v:uuid>", "/r/<v:re:[a-c]+>", "/d/<v>"
    )
    assert match(router, "/i/-3") == ("/i/<v:int>", {"v": -3})
    assert match(router, "/f/2.5") == ("/f/<v:float>", {"v": 2.5})
    assert match(router, "/p/a/b/") == ("/p/<v:path>", {"v": "a/b/"})
    uid = "12345678-1234-1234-1234-1234567890ab"
    assert match(router, f"/u/{uid}") == ("/u/<v:uuid>", {"v": uid})
    assert match(router, "/r/abc") == ("/r/<v:re:[a-c]+>", {"v": "abc"})
    for bad in ("/i/x", "/r/abd", "/u/123", "/d/a/b", "/d/"):
        with pytest.raises(HTTPError) as e:
            router.match("GET", bad)
        assert e.value.status_code == 404


def test_conversion_error_is_400():
    router, _ = make_router("/f/<v:float>")
    with pytest.raises(HTTPError) as e:
        router.match("GET", "/f/1.2.3")
    assert e.value.status_code == 400


def test_custom_filter():
    router = Router()
    router.add_filter(
        "hex", lambda conf: (r"[0-9a-f]+", lambda s: int(s, 16), lambda v: format(v, "x"))
    )
    app = Lcore()
    r = Route(app, "/h/<n:hex>", "GET", lambda n: n, name="h")
    router.add(r.rule, "GET", r, name="h")
    assert router.match("GET", "/h/ff")[1] == {"n": 255}
    assert router.build("h", n=4096) == "/h/1000"


def test_escaping_of_literal_text():
    router, _ = make_router("/file.<ext>", "/a+b/<x>", "/lit/\\<x>")
    assert match(router, "/file.txt") == ("/file.<ext>", {"ext": "txt"})
    with pytest.raises(HTTPError):
        router.match("GET", "/fileXtxt")
    assert match(router, "/a+b/1") == ("/a+b/<x>", {"x": "1"})
    with pytest.raises(HTTPError):
        router.match("GET", "/aab/1")
    # An escaped '<' is literal text: a static rule.
    assert match(router, "/lit/<x>") == ("/lit/\\<x>", {})


def test_anonymous_wildcard():
    router, _ = make_router("/mnt/<:re:.*>")
    assert match(router, "/mnt/any/thing") == ("/mnt/<:re:.*>", {})


def test_methods_head_any_and_405():
    app = Lcore()
    router = Router()
    for rule, method in (("/x", "GET"), ("/x", "POST"), ("/y", "ANY"), ("/z/<n>", "PUT")):
        router.add(rule, method, Route(app, rule, method, lambda **k: None))
    assert router.match("HEAD", "/x")[0].method == "GET"
    assert router.match("DELETE", "/y")[0].method == "ANY"
    with pytest.raises(HTTPError) as e:
        router.match("DELETE", "/x")
    assert (e.value.status_code, e.value.get_header("Allow")) == (405, "GET,HEAD,POST")
    with pytest.raises(HTTPError) as e:
        router.match("GET", "/z/1")
    assert (e.value.status_code, e.value.get_header("Allow")) == (405, "PUT")
    with pytest.raises(HTTPError) as e:
        router.match("GET", "/nothing")
    assert e.value.status_code == 404


def test_syntax_errors():
    router = Router()
    app = Lcore()
    with pytest.raises(RouteSyntaxError):
        router.add("/bad/<x:re:(>", "GET", Route(app, "/bad", "GET", lambda: None))
    with pytest.raises(RouterUnknownModeError):
        router.add("/bad/<x:nofilter>", "GET", Route(app, "/bad", "GET", lambda: None))
    with pytest.raises(RouteSyntaxError):
        router.add("/bad/<x", "GET", Route(app, "/bad", "GET", lambda: None))
    assert issubclass(RouteSyntaxError, RouteError) and issubclass(RouteError, ValueError)


def test_app_level_route_errors():
    app = Lcore()
    with pytest.raises(RouteSyntaxError):
        app.route("/x/<y:re:[>", callback=lambda y: y)
    with pytest.raises(TypeError):
        app.route("/x", callback="not callable")


def test_build():
    router, _ = make_router("/u/<id:int>/<slug>", "/p/<rest:path>", "/s", "/a/<:re:.*>/<x>")
    assert router.build("/u/<id:int>/<slug>", id=3, slug="a/b c") == "/u/3/a%2Fb%20c"
    assert (
        router.build("/u/<id:int>/<slug>", id="7", slug="s", q="1 2", z="x") == "/u/7/s?q=1+2&z=x"
    )
    assert router.build("/p/<rest:path>", rest="a/b c") == "/p/a/b%20c"
    assert router.build("/s") == "/s"
    assert router.build("/a/<:re:.*>/<x>", "anon", x="1") == "/a/anon/1"


def test_build_errors():
    router, _ = make_router("/u/<id:int>")
    with pytest.raises(RouteBuildError, match="No route with the name 'nope'"):
        router.build("nope")
    with pytest.raises(RouteBuildError, match="Missing URL argument: 'id'"):
        router.build("/u/<id:int>")
    with pytest.raises(ValueError):
        router.build("/u/<id:int>", id="not-an-int")


def test_thousand_routes_match():
    rules = [f"/s{i}/<x>" for i in range(500)] + [f"/d/{i}/<x>" for i in range(500)]
    router, _ = make_router(*rules)
    assert match(router, "/s499/q") == ("/s499/<x>", {"x": "q"})
    assert match(router, "/d/499/q") == ("/d/499/<x>", {"x": "q"})
    assert len(router.dynamic["GET"]) == 501


def test_same_rule_registered_again_replaces():
    """Bottle semantics: re-adding an identical rule overrides it (static and dynamic alike)."""
    app = Lcore()
    app.route("/s", callback=lambda: "old")
    app.route("/s", callback=lambda: "new")
    app.route("/d/<x>", callback=lambda x: "old")
    app.route("/d/<x>", callback=lambda x: "new")
    assert app.match("GET", "/s")[0].call() == "new"
    assert app.match("GET", "/d/1")[0].call(x="1") == "new"


def test_dynamic_match_prefers_the_method_then_any_then_order_with_wildcards():
    app = Lcore()
    router = Router()

    def add(rule, method):
        r = Route(app, rule, method, lambda **kw: None, name=f"{method} {rule}")
        router.add(rule, method, r, name=f"{method} {rule}")

    add("/items/<id:int>", "ANY")
    add("/items/<id:int>", "GET")
    add("/<kind>/<n:int>", "POST")  # a wildcard first segment, added before the next
    add("/items/<n:int>", "POST")
    add("/files/<name>", "PUT")
    route, args = router.match("GET", "/items/7")
    assert (route.name, args) == ("GET /items/<id:int>", {"id": 7})
    assert router.match("HEAD", "/items/7")[0].name == "GET /items/<id:int>"
    assert router.match("DELETE", "/items/7")[0].name == "ANY /items/<id:int>"
    # with a wildcard rule in the method, registration order decides
    assert router.match("POST", "/items/3")[0].name == "POST /<kind>/<n:int>"
    assert router.match("POST", "/other/4")[1] == {"kind": "other", "n": 4}
    with pytest.raises(HTTPError) as e:
        router.match("GET", "/files/a")
    assert e.value.status_code == 405 and e.value.get_header("Allow") == "PUT"
    with pytest.raises(HTTPError) as e:
        router.match("GET", "/items/x")
    assert e.value.status_code in (404, 405)
