"""Tests for lcore.config: ConfigDict and load_dotenv."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from typing import Optional

import pytest

from lcore.config import ConfigDict, load_dotenv
from lcore.exceptions import ConfigError

# --------------------------------------------------------------------------- basics


def test_is_a_dict_with_dotted_keys():
    c = ConfigDict()
    c["my_app.db_url"] = "sqlite:///data.db"
    assert isinstance(c, dict)
    assert c["my_app.db_url"] == "sqlite:///data.db"
    assert c.get("missing") is None
    assert c.get("missing", 5) == 5


def test_non_string_keys_are_rejected():
    c = ConfigDict()
    with pytest.raises(TypeError):
        c[1] = "x"
    with pytest.raises(TypeError):
        c.load_dict({2: "x"})


def test_constructor_accepts_items():
    c = ConfigDict({"a": {"b": 1}}, c=2)
    assert c == {"a.b": 1, "c": 2}


def test_repr_names_the_class():
    c = ConfigDict(debug=True)
    assert repr(c) == "ConfigDict({'debug': True})"


def test_load_dict_flattens_nested_dicts():
    c = ConfigDict()
    result = c.load_dict({"debug": True, "my_app": {"db_url": "x", "pool": {"size": 5}}})
    assert result is c
    assert c == {"debug": True, "my_app.db_url": "x", "my_app.pool.size": 5}


def test_load_dict_with_namespace():
    c = ConfigDict().load_dict({"url": "x", "opts": {"a": 1}}, namespace="db")
    assert c == {"db.url": "x", "db.opts.a": 1}


def test_update_flattens_and_accepts_namespace():
    c = ConfigDict()
    assert c.update({"a": {"b": 1}}, c=2) is None
    c.update("db", url="x", opts={"t": 3})
    assert c == {"a.b": 1, "c": 2, "db.url": "x", "db.opts.t": 3}


def test_ior_goes_through_update():
    c = ConfigDict()
    c |= {"a": {"b": 1}}
    assert c == {"a.b": 1}


def test_setdefault_and_pop():
    c = ConfigDict()
    seen = []
    c._add_change_listener(lambda k, v: seen.append((k, v)))
    assert c.setdefault("a", 1) == 1
    assert c.setdefault("a", 2) == 1
    assert c.pop("a") == 1
    assert c.pop("a", "gone") == "gone"
    with pytest.raises(KeyError):
        c.pop("a")
    assert seen == [("a", 1), ("a", None)]


def test_popitem_and_clear_notify():
    c = ConfigDict(a=1, b=2)
    seen = []
    c._add_change_listener(lambda k, v: seen.append((k, v)))
    assert c.popitem() == ("b", 2)
    c.clear()
    assert c == {}
    assert seen == [("b", None), ("a", None)]
    with pytest.raises(KeyError):
        c.popitem()


def test_copy_is_independent_configdict():
    c = ConfigDict(a=1)
    c.meta_set("a", "help", "text")
    d = c.copy()
    assert isinstance(d, ConfigDict) and d == {"a": 1}
    d["a"] = 2
    assert c["a"] == 1
    assert d.meta_get("a", "help") == "text"


def test_copy_deepcopy_pickle_drop_listeners_and_overlay_links():
    import copy
    import pickle

    base = ConfigDict(a={"x": 1}, n=[1])
    base.meta_set("n", "help", "numbers")
    seen = []
    base._add_change_listener(lambda k, v: seen.append(k))
    over = base._make_overlay()
    for clone in (copy.copy(base), copy.deepcopy(base), pickle.loads(pickle.dumps(base))):
        assert type(clone) is ConfigDict and clone == base
        assert clone.meta_get("n", "help") == "numbers"
        clone["b"] = 2
        assert "b" not in over and seen == []
    deep = copy.deepcopy(base)
    deep["n"].append(2)
    assert base["n"] == [1]


# --------------------------------------------------------------------------- listeners


def test_change_listener_on_set_and_delete():
    c = ConfigDict()
    seen = []
    c._add_change_listener(lambda k, v: seen.append((k, v)))
    c["a"] = 1
    c["a"] = 1
    c.update(b=2)
    c.load_dict({"n": {"x": 3}})
    del c["a"]
    assert seen == [("a", 1), ("a", 1), ("b", 2), ("n.x", 3), ("a", None)]


def test_listener_sees_the_new_value():
    c = ConfigDict(a=1)
    seen = []
    c._add_change_listener(lambda k, v: seen.append(c[k]))
    c["a"] = 2
    assert seen == [2]


def test_delete_missing_key_raises():
    with pytest.raises(KeyError):
        del ConfigDict()["nope"]


# --------------------------------------------------------------------------- metadata


def test_meta_get_set_list():
    c = ConfigDict()
    assert c.meta_get("port", "help") is None
    assert c.meta_get("port", "help", "dflt") == "dflt"
    c.meta_set("port", "help", "The port")
    c.meta_set("port", "validate", int)
    assert c.meta_get("port", "help") == "The port"
    assert c.meta_list("port") == ["help", "validate"]
    assert c.meta_list("other") == []


def test_validate_meta_coerces_on_set():
    c = ConfigDict()
    c.meta_set("port", "validate", int)
    c["port"] = "8080"
    assert c["port"] == 8080


def test_validate_meta_rejects_bad_values():
    c = ConfigDict()
    c.meta_set("port", "validate", int)
    with pytest.raises(ConfigError, match="port"):
        c["port"] = "eighty"
    with pytest.raises(ValueError):  # ConfigError is a ValueError
        c["port"] = "x"
    assert "port" not in c


def test_validate_meta_predicate_and_none_results():
    c = ConfigDict()
    c.meta_set("level", "validate", lambda v: v in ("low", "high"))
    c["level"] = "low"
    assert c["level"] == "low"
    with pytest.raises(ConfigError):
        c["level"] = "medium"

    def check(value):
        if value < 0:
            raise ValueError("negative")

    c.meta_set("n", "validate", check)
    c["n"] = 3
    assert c["n"] == 3
    with pytest.raises(ConfigError, match="negative"):
        c["n"] = -1


def test_meta_set_validate_checks_current_value():
    c = ConfigDict(port="81")
    c.meta_set("port", "validate", int)
    assert c["port"] == 81


def test_filter_meta():
    c = ConfigDict()
    c.meta_set("name", "filter", str.upper)
    c["name"] = "abc"
    assert c["name"] == "ABC"


# --------------------------------------------------------------------------- overlays


def test_overlay_reads_through_and_follows_parent():
    base = ConfigDict(a=1, b=2)
    over = base._make_overlay()
    assert over == {"a": 1, "b": 2}
    base["a"] = 10
    base["c"] = 3
    assert over["a"] == 10 and over["c"] == 3
    assert over.get("c") == 3


def test_overlay_override_is_kept_and_local():
    base = ConfigDict(a=1)
    over = base._make_overlay()
    over["a"] = "mine"
    base["a"] = 2
    assert over["a"] == "mine"
    assert base["a"] == 2
    over["x"] = 1
    assert "x" not in base


def test_overlay_delete_reverts_to_parent():
    base = ConfigDict(a=1)
    over = base._make_overlay()
    over["a"] = 5
    del over["a"]
    assert over["a"] == 1
    base["a"] = 7
    assert over["a"] == 7


def test_overlay_inherited_key_cannot_be_deleted_but_follows_parent_delete():
    base = ConfigDict(a=1)
    over = base._make_overlay()
    with pytest.raises(KeyError):
        del over["a"]
    del base["a"]
    assert "a" not in over


def test_overlay_listeners_fire_for_parent_changes():
    base = ConfigDict()
    over = base._make_overlay()
    seen = []
    over._add_change_listener(lambda k, v: seen.append((k, v)))
    base["a"] = 1
    over["b"] = 2
    base["b"] = 3  # overridden in the overlay: no event there
    del base["a"]
    assert seen == [("a", 1), ("b", 2), ("a", None)]


def test_overlay_setdefault_and_update():
    base = ConfigDict(a=1)
    over = base._make_overlay()
    assert over.setdefault("a", 99) == 1
    over.update({"n": {"x": 1}})
    assert over["n.x"] == 1 and "n.x" not in base


def test_nested_overlays_and_meta_inheritance():
    base = ConfigDict()
    base.meta_set("port", "validate", int)
    mid = base._make_overlay()
    leaf = mid._make_overlay()
    base["port"] = "1"
    assert leaf["port"] == 1
    leaf["port"] = "2"
    assert leaf["port"] == 2
    assert leaf.meta_list("port") == ["validate"]
    with pytest.raises(ConfigError):
        leaf["port"] = "x"


def test_overlay_clear_keeps_parent_values():
    base = ConfigDict(a=1)
    over = base._make_overlay()
    over["a"] = 2
    over["b"] = 3
    over.clear()
    assert over == {"a": 1}


# --------------------------------------------------------------------------- load_env


def test_load_env_strips_prefix_and_lowercases(monkeypatch):
    monkeypatch.setenv("MYAPP_DB_URL", "postgres://x")
    monkeypatch.setenv("MYAPP_CACHE__TTL", "60")
    monkeypatch.setenv("OTHER_THING", "no")
    c = ConfigDict()
    assert c.load_env("MYAPP_") is c
    assert c["db_url"] == "postgres://x"
    assert c["cache.ttl"] == "60"
    assert "other_thing" not in c and "thing" not in c


def test_load_env_keep_prefix(monkeypatch):
    monkeypatch.setenv("MYAPP_DEBUG", "true")
    c = ConfigDict().load_env("MYAPP_", strip_prefix=False)
    assert c["myapp_debug"] == "true"


# --------------------------------------------------------------------------- load_dotenv (module)


@pytest.fixture
def clean_env(monkeypatch):
    """Remove the variables the dotenv tests write, and restore them afterwards."""
    names = [
        "LCT_A",
        "LCT_B",
        "LCT_C",
        "LCT_D",
        "LCT_E",
        "LCT_F",
        "LCT_G",
        "LCT_H",
        "LCT_KEEP",
        "LCT_EXPORTED",
        "LCT_EMPTY",
        "LCT_DB__URL",
    ]
    # setenv records the original state (set or not), so everything is undone afterwards.
    for name in names:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    return monkeypatch


DOTENV = """\
# a comment

LCT_A=plain
LCT_B = spaced value
LCT_C="double quoted # not a comment"
LCT_D='single quoted'
LCT_E=value # inline comment
export LCT_EXPORTED=yes
LCT_F="line\\nbreak"
LCT_G=a#b
LCT_EMPTY=
1BAD=skipped
BAD-NAME=skipped
$(rm -rf)=skipped
not an assignment
LCT_H='unterminated
"""


def test_load_dotenv_parses_file(tmp_path, clean_env):
    path = tmp_path / ".env"
    path.write_text(DOTENV)
    assert load_dotenv(path) is True
    env = os.environ
    assert env["LCT_A"] == "plain"
    assert env["LCT_B"] == "spaced value"
    assert env["LCT_C"] == "double quoted # not a comment"
    assert env["LCT_D"] == "single quoted"
    assert env["LCT_E"] == "value"
    assert env["LCT_EXPORTED"] == "yes"
    assert env["LCT_F"] == "line\nbreak"
    assert env["LCT_G"] == "a#b"
    assert env["LCT_EMPTY"] == ""
    assert env["LCT_H"] == "'unterminated"
    assert "1BAD" not in env and "BAD-NAME" not in env


def test_load_dotenv_does_not_override_by_default(tmp_path, clean_env):
    clean_env.setenv("LCT_KEEP", "from-shell")
    path = tmp_path / ".env"
    path.write_text("LCT_KEEP=from-file\nLCT_A=new\n")
    assert load_dotenv(str(path)) is True
    assert os.environ["LCT_KEEP"] == "from-shell"
    assert os.environ["LCT_A"] == "new"
    assert load_dotenv(path, override=True) is True
    assert os.environ["LCT_KEEP"] == "from-file"


def test_load_dotenv_missing_file_returns_false(tmp_path):
    assert load_dotenv(tmp_path / "nope.env") is False
    assert load_dotenv(tmp_path) is False  # a directory is not a .env file


def test_load_dotenv_defaults_to_cwd(tmp_path, clean_env):
    (tmp_path / ".env").write_text("LCT_A=cwd\n")
    clean_env.chdir(tmp_path)
    assert load_dotenv() is True
    assert os.environ["LCT_A"] == "cwd"


def test_load_dotenv_accepts_bom_and_crlf(tmp_path, clean_env):
    (tmp_path / ".env").write_bytes(b"\xef\xbb\xbfLCT_A=one\r\nLCT_B='two'\r\n")
    assert load_dotenv(tmp_path / ".env")
    assert os.environ["LCT_A"] == "one" and os.environ["LCT_B"] == "two"


# --------------------------------------------------------------------------- ConfigDict.load_dotenv


def test_configdict_load_dotenv(tmp_path, clean_env):
    clean_env.setenv("LCT_KEEP", "shell")
    path = tmp_path / ".env"
    path.write_text("LCT_A=1\nLCT_DB__URL=sqlite://\nLCT_KEEP=file\nbad name=x\n")
    c = ConfigDict()
    assert c.load_dotenv(path) is c
    assert os.environ["LCT_A"] == "1"
    assert c["lct_a"] == "1"
    assert c["lct_db.url"] == "sqlite://"
    assert c["lct_keep"] == "shell"  # the environment wins, as in os.environ


def test_configdict_load_dotenv_prefix(tmp_path, clean_env):
    path = tmp_path / ".env"
    path.write_text("LCT_A=1\nOTHER_LCT=2\n")
    c = ConfigDict().load_dotenv(path, prefix="LCT_")
    assert c == {"a": "1"}


def test_configdict_load_dotenv_missing_file(tmp_path):
    c = ConfigDict()
    assert c.load_dotenv(tmp_path / "missing") is c
    assert c == {}


def test_configdict_load_dotenv_default_path(tmp_path, clean_env):
    (tmp_path / ".env").write_text("LCT_A=here\n")
    clean_env.chdir(tmp_path)
    assert ConfigDict().load_dotenv()["lct_a"] == "here"


def test_three_source_priority(tmp_path, clean_env):
    """Defaults from a dict, then .env, then real environment variables win."""
    clean_env.setenv("LCT_C", "env")
    (tmp_path / ".env").write_text("LCT_B=dotenv\nLCT_C=dotenv\n")
    c = ConfigDict().load_dict({"a": "dict", "b": "dict", "c": "dict"})
    c.load_dotenv(tmp_path / ".env").load_env("LCT_")
    assert (c["a"], c["b"], c["c"]) == ("dict", "dotenv", "env")


# --------------------------------------------------------------------------- JSON / INI / module


def test_load_json(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"debug": True, "db": {"url": "x", "pool": 5}}))
    c = ConfigDict()
    assert c.load_json(path) is c
    assert c == {"debug": True, "db.url": "x", "db.pool": 5}


def test_load_json_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(ConfigError, match="bad.json"):
        ConfigDict().load_json(bad)
    arr = tmp_path / "arr.json"
    arr.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="object"):
        ConfigDict().load_json(arr)
    with pytest.raises(FileNotFoundError):
        ConfigDict().load_json(tmp_path / "missing.json")


INI = """\
[DEFAULT]
region = eu

[lcore]
debug = true
catchall = False

[db]
url = sqlite:///%(region)s.db
Pool_Size = 5

[Cache]
ttl = 60
"""


def test_load_config_ini(tmp_path):
    path = tmp_path / "settings.ini"
    path.write_text(INI)
    c = ConfigDict()
    assert c.load_config(path) is c
    assert c == {
        "region": "eu",
        "debug": "true",
        "catchall": "False",
        "db.url": "sqlite:///eu.db",
        "db.pool_size": "5",
        "cache.ttl": "60",
    }


def test_load_config_options_and_errors(tmp_path):
    path = tmp_path / "raw.ini"
    path.write_text("[app]\npattern = 100%(x)s\n")
    c = ConfigDict().load_config(path, interpolation=None)
    assert c["app.pattern"] == "100%(x)s"
    bad = tmp_path / "bad.ini"
    bad.write_text("no section header\n")
    with pytest.raises(ConfigError, match="bad.ini"):
        ConfigDict().load_config(bad)
    with pytest.raises(FileNotFoundError):
        ConfigDict().load_config(tmp_path / "missing.ini")


def test_load_module(tmp_path, monkeypatch):
    (tmp_path / "lct_settings_mod.py").write_text(
        "DEBUG = True\nDB = {'url': 'x', 'pool': {'size': 2}}\nlowercase = 'ignored'\n_PRIVATE = 1\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "lct_settings_mod", raising=False)
    c = ConfigDict()
    assert c.load_module("lct_settings_mod") is c
    assert c == {"debug": True, "db.url": "x", "db.pool.size": 2}
    flat = ConfigDict().load_module("lct_settings_mod", squash=False)
    assert flat == {"debug": True, "db": {"url": "x", "pool": {"size": 2}}}


def test_load_module_object_path(tmp_path, monkeypatch):
    (tmp_path / "lct_settings_obj.py").write_text("class Prod:\n    PORT = 80\n    name = 'x'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "lct_settings_obj", raising=False)
    assert ConfigDict().load_module("lct_settings_obj:Prod") == {"port": 80}


# --------------------------------------------------------------------------- check_config
# (the (ok, errors) form; validate_config raises: tests/behaviour/test_compat_004.py)


@dataclasses.dataclass
class AppConfig:
    debug: bool = False
    db_url: str = "sqlite:///data.db"
    max_upload: int = 10_000_000
    ratio: float = 0.5


def test_check_config_ok_and_defaults():
    c = ConfigDict().load_dict({"debug": True, "db_url": "postgres://..."})
    assert c.check_config(AppConfig) == (True, [])
    assert "max_upload" not in c  # defaults are not written


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("true", True),
        ("1", True),
        ("YES", True),
        ("on", True),
        ("false", False),
        ("0", False),
        ("no", False),
        ("Off", False),
    ],
)
def test_check_config_coerces_bools(raw, expected):
    c = ConfigDict(debug=raw)
    ok, errors = c.check_config(AppConfig)
    assert ok and errors == []
    assert c["debug"] is expected


def test_check_config_coerces_numbers_and_writes_back():
    c = ConfigDict(max_upload="42", ratio="0.25")
    seen = []
    c._add_change_listener(lambda k, v: seen.append((k, v)))
    assert c.check_config(AppConfig) == (True, [])
    assert c["max_upload"] == 42 and c["ratio"] == 0.25
    assert seen == [("max_upload", 42), ("ratio", 0.25)]
    c2 = ConfigDict(ratio=2)
    assert c2.check_config(AppConfig)[0] and c2["ratio"] == 2.0


def test_check_config_reports_bad_values():
    c = ConfigDict(debug="maybe", max_upload="lots", ratio="x", db_url=5)
    ok, errors = c.check_config(AppConfig)
    assert not ok
    assert len(errors) == 4
    assert any("debug" in e and "bool" in e for e in errors)
    assert any("max_upload" in e and "int" in e for e in errors)
    assert any("ratio" in e and "float" in e for e in errors)
    assert any("db_url" in e and "str" in e for e in errors)
    assert c["max_upload"] == "lots"  # untouched


def test_check_config_missing_required():
    @dataclasses.dataclass
    class Needs:
        secret_key: str
        port: int = 80
        tags: list = dataclasses.field(default_factory=list)

    ok, errors = ConfigDict().check_config(Needs)
    assert not ok
    assert errors == ["Missing required config key: secret_key (or secret.key)"]


def test_check_config_dotted_keys_match_underscore_fields():
    @dataclasses.dataclass
    class Schema:
        db_url: str
        smtp_use_tls: bool = True

    c = ConfigDict().load_dict({"db": {"url": "x"}, "smtp": {"use_tls": "no"}})
    assert c.check_config(Schema) == (True, [])
    assert c["smtp.use_tls"] is False
    exact = ConfigDict({"db_url": "exact", "db.url": "dotted"})
    assert exact.check_config(Schema)[0]


def test_check_config_optional_and_union_fields():
    @dataclasses.dataclass
    class Schema:
        timeout: Optional[int] = None  # noqa: UP045 - the typing form on purpose
        limit: int | None = None
        mode: str | int = "a"

    c = ConfigDict(timeout="5", limit=None, mode="7")
    assert c.check_config(Schema) == (True, [])
    assert c["timeout"] == 5 and c["limit"] is None and c["mode"] == "7"


def test_check_config_accepts_instances_and_rejects_non_dataclasses():
    assert ConfigDict().check_config(AppConfig())[0]
    with pytest.raises(TypeError):
        ConfigDict().check_config(dict)
    with pytest.raises(TypeError):
        ConfigDict().check_config({"debug": bool})


def test_check_config_runs_validate_meta_on_write_back():
    c = ConfigDict(max_upload="5")
    c.meta_set("max_upload", "validate", lambda v: isinstance(v, str) or v < 3)
    ok, errors = c.check_config(AppConfig)
    assert not ok
    assert len(errors) == 1 and "max_upload" in errors[0]
