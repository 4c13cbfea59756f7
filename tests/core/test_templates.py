"""Tests for lcore.templates: SimpleTemplate, template(), view() and the engine adapters."""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import os
import subprocess
import sys
import traceback

import pytest

import lcore.templates as tpl_mod
from lcore.exceptions import TemplateError
from lcore.templates import (
    TEMPLATE_PATH,
    TEMPLATES,
    BaseTemplate,
    CheetahTemplate,
    Jinja2Template,
    MakoTemplate,
    SimpleTemplate,
    cheetah_template,
    jinja2_template,
    jinja2_view,
    mako_template,
    mako_view,
    template,
    view,
)


@pytest.fixture(autouse=True)
def _isolated_cache(monkeypatch):
    """Give each test an empty template cache and its own TEMPLATE_PATH contents."""
    monkeypatch.setattr(tpl_mod, "DEBUG", False)
    saved_path, saved_cache = list(TEMPLATE_PATH), dict(TEMPLATES)
    TEMPLATES.clear()
    yield
    TEMPLATE_PATH[:] = saved_path
    TEMPLATES.clear()
    TEMPLATES.update(saved_cache)


@pytest.fixture
def views(tmp_path):
    """A template directory that template() searches."""
    directory = tmp_path / "views"
    directory.mkdir()
    TEMPLATE_PATH.insert(0, str(directory))
    return directory


def render(source, **kw):
    return SimpleTemplate(source).render(**kw)


# --------------------------------------------------------------------------- inline expressions


def test_inline_expression():
    assert render("Hello {{name}}!", name="World") == "Hello World!"
    assert render("{{ 1 + 2 }}") == "3"
    assert render("{{name.title() if name else 'stranger'}}", name=None) == "stranger"


def test_inline_escapes_html():
    xss = "<script>alert('x')</script>&\""
    out = render("<p>{{v}}</p>", v=xss)
    assert out == "<p>&lt;script&gt;alert(&#039;x&#039;)&lt;/script&gt;&amp;&quot;</p>"
    assert "<script>" not in out


def test_attribute_xss_is_escaped():
    out = render('<a title="{{t}}">', t='" onmouseover="evil()')
    assert out == '<a title="&quot; onmouseover=&quot;evil()">'


def test_raw_expression():
    assert render("{{!v}}", v="<b>bold</b>") == "<b>bold</b>"
    assert render("{{ !v }}", v="<i>") == "<i>"


def test_none_renders_empty_and_bytes_are_decoded():
    assert render("[{{v}}][{{!v}}]", v=None) == "[][]"
    assert render("{{v}}", v="é".encode()) == "é"
    assert render("{{v}}", v=0) == "0"


def test_expressions_with_braces_and_strings():
    assert render("{{ {'a': {'b': 1}}['a']['b'] }}") == "1"
    assert render("{{ '}}' }}") == "}}"
    assert render('{{ "a" + "{{" }}') == "a{{"


def test_multiline_inline_expression():
    assert render("{{ a +\n  b }}!", a=1, b=2) == "3!"


def test_noescape_setting_flips_escaping():
    t = SimpleTemplate("{{v}}|{{!v}}", noescape=True)
    assert t.render(v="<x>") == "<x>|&lt;x&gt;"


def test_custom_escape_func():
    t = SimpleTemplate("{{v}}", escape_func=lambda s: s.upper())
    assert t.render(v="abc") == "ABC"


# --------------------------------------------------------------------------- code lines and blocks


def test_for_loop_and_whitespace_control():
    source = "<ul>\n  % for i in items:\n  <li>{{i}}</li>\n  % end\n</ul>\n"
    assert render(source, items=[1, 2]) == "<ul>\n  <li>1</li>\n  <li>2</li>\n</ul>\n"


def test_if_elif_else():
    source = "% if n > 0:\npos\n% elif n < 0:\nneg\n% else:\nzero\n% end\n"
    assert render(source, n=1) == "pos\n"
    assert render(source, n=-1) == "neg\n"
    assert render(source, n=0) == "zero\n"


def test_while_loop():
    source = "% i = 0\n% while i < 3:\n{{i}}\n% i += 1\n% end\n"
    assert render(source) == "0\n1\n2\n"


def test_try_except_finally():
    source = (
        "% try:\n% x = 1 / d\nok {{x}}\n% except ZeroDivisionError:\nzero\n"
        "% finally:\ndone\n% end\n"
    )
    assert render(source, d=1) == "ok 1.0\ndone\n"
    assert render(source, d=0) == "zero\ndone\n"


def test_with_statement():
    source = "% import contextlib\n% with contextlib.nullcontext(5) as v:\n{{v}}\n% end\n"
    assert render(source) == "5\n"


def test_def_in_template():
    source = "% def item(x):\n<li>{{x}}</li>\n% end\n% item('a')\n% item('<b>')\n"
    assert render(source) == "<li>a</li>\n<li>&lt;b&gt;</li>\n"


def test_for_else_and_nested_blocks():
    source = "% for row in rows:\n% for cell in row:\n{{cell}}\\\\\n% end\n;\n% else:\nEND\n% end\n"
    assert render(source, rows=[[1, 2], [3]]) == "12;\n3;\nEND\n"


def test_indentation_is_ignored():
    source = "    %   for i in range(2):\n        %if i:\nyes\n     %else:\nno\n  % end\n%end\n"
    assert render(source) == "no\nyes\n"


def test_empty_blocks_are_allowed():
    assert render("% for i in range(3):\n% end\nx") == "x"
    assert render("% if True:\n% else:\n% end\n") == ""


def test_one_line_statement_with_colon_inside():
    assert render("% d = {'a': 1}\n{{d['a']}}") == "1"
    assert render("% if True: x = 'one-liner'\n{{x}}") == "one-liner"


def test_comments_in_code_lines():
    source = "% for i in range(2):  # loop\n{{i}}\n% end  # done\n"
    assert render(source) == "0\n1\n"


def test_multiline_code_line_with_open_brackets():
    source = "% items = [1,\n   2,\n   3]\n{{sum(items)}}"
    assert render(source) == "6"


def test_backslash_continuation_in_code_line():
    assert render("% x = 1 + \\\n  2\n{{x}}") == "3"


def test_comments_with_colons_do_not_open_blocks():
    assert render("% if x:  # note: yes\nY\n% end  # end: here\n", x=1) == "Y\n"
    assert render("% s = '# not a comment:'\n{{s}}") == "# not a comment:"


def test_class_decorator_and_match_blocks():
    assert render("% class A:\n% v = 3\n% end\n{{A.v}}") == "3"
    assert render("% @staticmethod\n% def f():\n% return 1\n% end\n{{f.__func__()}}") == "1"
    source = "% match v:\n% case 1:\none\n% end\n% case _:\nother\n% end\n% end\n"
    assert render(source, v=1) == "one\n"
    assert render(source, v=2) == "other\n"


def test_triple_quoted_string_in_block():
    assert render("<% s = '''a\n%> b''' %>\n{{s}}") == "a\n%&gt; b"


def test_code_block():
    source = (
        "a\n<%\n  # comment\n  name = name.title().strip()\n  if name:\n    greet = 'Hi'\n"
        "  else:\n    greet = 'Who?'\n  end\n%>\n{{greet}} {{name}}\n"
    )
    assert render(source, name="  bob ") == "a\nHi Bob\n"
    assert render(source, name="") == "a\nWho? \n"


def test_code_block_single_line_and_trailing_text():
    assert render("<% x = 2 %>\n{{x}}") == "2"
    assert render("<% x = 3 %> after {{x}}\nnext") == " after 3\nnext"


def test_code_block_opens_and_closes_template_blocks():
    source = "<% for i in range(2): %>\n[{{i}}]\n<% end %>\n"
    assert render(source) == "[0]\n[1]\n"


def test_block_close_token_inside_string():
    assert render("<% x = '%>' %>\n{{x}}") == "%&gt;"


def test_percent_sign_mid_line_is_text():
    assert render("100% sure, a <% b") == "100% sure, a <% b"
    assert render("It is 100% done") == "It is 100% done"


def test_escaped_percent_lines():
    assert render("%% not code\n") == "% not code\n"
    assert render("  %%indented\n") == "  %indented\n"
    assert render("\\% backslash escaped\n") == "% backslash escaped\n"
    assert render("\\<% block escaped\n") == "<% block escaped\n"


def test_double_backslash_joins_lines_before_code():
    source = "<div>\\\\\n % if True:\n<span>content</span>\\\\\n % end\n</div>"
    assert render(source) == "<div><span>content</span></div>"


def test_double_backslash_elsewhere_is_kept():
    assert render("a\\\\\nb") == "a\\\\\nb"


def test_crlf_source():
    source = "% for i in range(2):\r\n<{{i}}>\r\n% end\r\n"
    assert render(source) == "<0>\r\n<1>\r\n"


def test_only_newline_ends_a_line():
    source = "a\x0c% not code\n\u2028{{x}}\n% if True:\nz\n% end"
    assert render(source, x=1) == "a\x0c% not code\n\u20281\nz\n"


def test_custom_syntax():
    t = SimpleTemplate("<?py x = 1 ?>\n$ if x:\n[[x]] [[!h]]\n$ end\n", syntax="<?py ?> $ [[ ]]")
    assert t.render(h="<b>") == "1 <b>\n"
    assert "{{x}}" in SimpleTemplate("{{x}}", syntax="<?py ?> $ [[ ]]").render()


def test_bad_syntax_setting():
    with pytest.raises(TemplateError, match="5 tokens"):
        SimpleTemplate("x", syntax="<% %>")


def test_source_from_bytes_and_file_object(tmp_path):
    assert SimpleTemplate("caf\xe9 {{x}}".encode()).render(x=1) == "caf\xe9 1"
    path = tmp_path / "t.tpl"
    path.write_text("from file {{x}}")
    with open(path) as fp:
        assert SimpleTemplate(fp).render(x=2) == "from file 2"


def test_empty_source_is_a_valid_template():
    assert SimpleTemplate("").render() == ""


def test_no_template_given():
    with pytest.raises(TemplateError, match="No template"):
        SimpleTemplate()


# --------------------------------------------------------------------------- helper functions


def test_get_defined_setdefault():
    source = (
        "% setdefault('text', 'No Text')\n<h1>{{get('title', 'No Title')}}</h1>\n"
        "<p>{{text}}</p>\n% if defined('author'):\nBy {{author}}\n% end\n"
    )
    assert render(source) == "<h1>No Title</h1>\n<p>No Text</p>\n"
    out = render(source, title="T", text="x", author="me")
    assert out == "<h1>T</h1>\n<p>x</p>\nBy me\n"


def test_defined_sees_template_assignments():
    assert render("% x = 1\n{{defined('x')}} {{defined('y')}}") == "True False"


def test_undefined_variable_raises_name_error():
    with pytest.raises(NameError):
        render("{{missing}}")


def test_render_merges_dict_args_and_kwargs():
    t = SimpleTemplate("{{a}}{{b}}{{self}}")
    assert t.render({"a": 1, "b": 1}, {"self": "s"}, b=2) == "12s"


def test_class_defaults():
    class MyTemplate(SimpleTemplate):
        defaults = {"site": "Lcore"}

    assert MyTemplate("{{site}}/{{x}}").render(x=1) == "Lcore/1"
    assert MyTemplate("{{site}}").render(site="over") == "over"


def test_global_config():
    class Configured(SimpleTemplate):
        pass

    Configured.global_config("noescape", True)
    assert Configured.global_config("noescape") is True
    assert Configured("{{v}}").render(v="<b>") == "<b>"
    assert SimpleTemplate("{{v}}").render(v="<b>") == "&lt;b&gt;"  # the base class is unchanged


# --------------------------------------------------------------------------- include and rebase


def test_include(views):
    (views / "header.tpl").write_text("<h1>{{title}}</h1>\n")
    (views / "footer.tpl").write_text("<footer>{{who}}</footer>")
    source = "% include('header', title='Page <1>')\nbody\n% include('footer')"
    assert template(source, who="me") == "<h1>Page &lt;1&gt;</h1>\nbody\n<footer>me</footer>"


def test_include_returns_namespace_and_nests(views):
    (views / "inner.tpl").write_text("% secret = 42\n[{{x}}]")
    (views / "outer.tpl").write_text("<% ns = include('inner', x=1) %>{{ns['secret']}}")
    assert template("outer") == "[1]42"


def test_rebase(views):
    (views / "base.tpl").write_text(
        "<html><title>{{title or 'No title'}}</title>\n<body>{{!base}}</body></html>"
    )
    (views / "page.tpl").write_text("% rebase('base', title='Page')\n<p>Content {{n}}</p>")
    assert (
        template("page", n=1) == "<html><title>Page</title>\n<body><p>Content 1</p></body></html>"
    )


def test_rebase_chain_and_include_inside(views):
    (views / "layout.tpl").write_text("<L>{{!base}}</L>")
    (views / "section.tpl").write_text("% rebase('layout')\n<S>{{!base}}</S>")
    (views / "part.tpl").write_text("part")
    (views / "leaf.tpl").write_text(
        "% rebase('section')\nbefore % include('part')\n% include('part')"
    )
    assert template("leaf") == "<L><S>before % include('part')\npart</S></L>"


def test_rebase_in_included_template_wraps_only_its_output(views):
    (views / "wrap.tpl").write_text("({{!base}})")
    (views / "widget.tpl").write_text("% rebase('wrap')\nw")
    assert template("start\n% include('widget')\nend") == "start\n(w)end"


def test_include_missing_template(views):
    with pytest.raises(TemplateError, match="nope"):
        template("x\n% include('nope')")


def test_include_keeps_settings(views):
    (views / "sub.tpl").write_text("[[v]]")
    out = template("$ include('sub')\n", v=1, template_settings={"syntax": "<% %> $ [[ ]]"})
    assert out == "1"


# --------------------------------------------------------------------------- lookup and search


def test_template_by_name_and_extensions(views):
    for ext in ("tpl", "html", "thtml", "stpl"):
        (views / f"t_{ext}.{ext}").write_text(ext + " {{x}}")
        assert template(f"t_{ext}", x=1) == f"{ext} 1"
    (views / "exact.txt").write_text("exact")
    assert template("exact.txt") == "exact"


def test_template_path_order(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (first / "x.tpl").write_text("first")
    (second / "x.tpl").write_text("second")
    (second / "y.tpl").write_text("only second")
    TEMPLATE_PATH[:] = [str(first), str(second)]
    assert template("x") == "first"
    assert template("y") == "only second"


def test_template_lookup_argument(tmp_path):
    (tmp_path / "own.tpl").write_text("own {{v}}")
    assert template("own", template_lookup=[str(tmp_path)], v=1) == "own 1"


def test_subdirectories(views):
    (views / "sub").mkdir()
    (views / "sub" / "x.tpl").write_text("sub")
    assert template("sub/x") == "sub"
    assert template("sub/../sub/x") == "sub"


def test_search_refuses_path_traversal(tmp_path):
    root = tmp_path / "views"
    root.mkdir()
    (tmp_path / "secret.tpl").write_text("secret")
    (root / "ok.tpl").write_text("ok")
    lookup = [str(root)]
    assert SimpleTemplate.search("ok", lookup) == os.path.realpath(root / "ok.tpl")
    assert SimpleTemplate.search("../secret", lookup) is None
    assert SimpleTemplate.search("../secret.tpl", lookup) is None
    assert SimpleTemplate.search(str(tmp_path / "secret.tpl"), lookup) is None
    assert SimpleTemplate.search("ok\x00", lookup) is None
    with pytest.raises(TemplateError, match="not found"):
        template("../secret", template_lookup=lookup)


def test_search_refuses_symlinks_out_of_lookup(tmp_path):
    root = tmp_path / "views"
    root.mkdir()
    (tmp_path / "secret.tpl").write_text("secret")
    os.symlink(tmp_path / "secret.tpl", root / "link.tpl")
    assert SimpleTemplate.search("link", [str(root)]) is None


def test_search_prefix_sibling_directory_is_outside(tmp_path):
    (tmp_path / "views").mkdir()
    (tmp_path / "views2").mkdir()
    (tmp_path / "views2" / "x.tpl").write_text("x")
    assert SimpleTemplate.search("../views2/x", [str(tmp_path / "views")]) is None


def test_unknown_template_error_names_it(views):
    with pytest.raises(TemplateError) as info:
        template("does_not_exist")
    assert "does_not_exist" in str(info.value)
    assert str(views) in str(info.value)


def test_base_template_is_abstract():
    with pytest.raises(NotImplementedError):
        BaseTemplate("x")


# --------------------------------------------------------------------------- template() and caching


def test_template_source_detection():
    assert template("Hello {{x}}", x=1) == "Hello 1"
    assert template("%x = 5\n{{x}}") == "5"
    assert template("line\nbreak") == "line\nbreak"
    assert template("cost: $5") == "cost: $5"
    with pytest.raises(TemplateError, match="not found"):
        template("plain_name_without_markers")


def test_template_merges_dicts_then_kwargs():
    assert template("{{a}}{{b}}{{c}}", {"a": 1, "b": 1}, {"c": 3}, b=2) == "123"


def test_template_accepts_template_objects():
    t = SimpleTemplate("obj {{x}}")
    assert template(t, x=1) == "obj 1"


def test_template_settings_argument():
    assert template("{{v}}", v="<i>", template_settings={"noescape": True}) == "<i>"


def test_compiled_once_and_cached(views, monkeypatch):
    (views / "cached.tpl").write_text("v1 {{x}}")
    calls = []
    original = SimpleTemplate.prepare

    def counting(self, *args, **kwargs):
        calls.append(self.name)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SimpleTemplate, "prepare", counting)
    assert template("cached", x=1) == "v1 1"
    assert template("cached", x=2) == "v1 2"
    assert calls == ["cached"]
    assert len(TEMPLATES) == 1
    (views / "cached.tpl").write_text("v2 {{x}}")
    assert template("cached", x=3) == "v1 3"  # cached: the edit is not seen


def test_cache_key_separates_adapters_lookup_and_settings(views):
    (views / "k.tpl").write_text("{{v}}")
    template("k", v="<")
    template("k", v="<", template_settings={"noescape": True})
    template("k", v="<", template_lookup=[str(views)])
    assert len(TEMPLATES) == 3
    assert template("k", v="<", template_adapter=Jinja2Template) == "&lt;"
    assert len(TEMPLATES) == 4
    template("k", v="<")
    assert len(TEMPLATES) == 4


def test_unhashable_settings_are_cached_too():
    out = template("{{x}}", x=1, template_settings={"escape_func": str, "unused": [1]})
    assert out == "1"
    assert len(TEMPLATES) == 1


def test_debug_mode_recompiles(views):
    (views / "live.tpl").write_text("old")
    assert template("live") == "old"
    (views / "live.tpl").write_text("new")
    assert template("live") == "old"
    tpl_mod._set_debug(True)
    assert tpl_mod.DEBUG is True
    assert template("live") == "new"
    tpl_mod._set_debug(False)


def test_debug_mode_keeps_template_source_strings_cached():
    tpl_mod._set_debug(True)
    assert template("{{x}}!", x=1) == "1!"
    [compiled] = TEMPLATES.values()
    assert template("{{x}}!", x=2) == "2!"
    assert list(TEMPLATES.values()) == [compiled]


_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Import lcore.templates in a fresh interpreter without running lcore/__init__.py, so the
# check is about this module alone.
_FRESH_IMPORT = (
    "import sys, types; pkg = types.ModuleType('lcore'); pkg.__path__ = ['lcore']; "
    "sys.modules['lcore'] = pkg; import lcore.templates as t; "
)


def _fresh(code):
    result = subprocess.run(
        [sys.executable, "-c", _FRESH_IMPORT + code],
        capture_output=True,
        text=True,
        check=True,
        cwd=_REPO,
    )
    return result.stdout.strip()


def test_template_path_default():
    assert tpl_mod.TEMPLATE_PATH is TEMPLATE_PATH
    assert _fresh("print(t.TEMPLATE_PATH, t.TEMPLATES, t.DEBUG)") == "['./', './views/'] {} False"


def test_importing_templates_does_not_import_engines():
    assert _fresh("print([m for m in ('jinja2', 'mako', 'Cheetah') if m in sys.modules])") == "[]"


# --------------------------------------------------------------------------- errors and line numbers


def test_syntax_error_names_template_and_line():
    with pytest.raises(TemplateError) as info:
        SimpleTemplate("line 1\nline 2\n% if x = 1:\n% end\n", name=None)
    assert "line 3" in str(info.value)
    assert info.value.lineno == 3


def test_syntax_error_in_file_template(views):
    (views / "broken.tpl").write_text("ok\n\n{{ 1 + }}\n")
    with pytest.raises(TemplateError) as info:
        template("broken")
    message = str(info.value)
    assert message.startswith("broken, line 3:")
    assert info.value.template == "broken"


def test_syntax_error_in_block_line_number():
    with pytest.raises(TemplateError, match="line 4"):
        SimpleTemplate("a\n<%\n x = 1\n y = = 2\n%>\n")


def test_compile_stage_error_line_number():
    with pytest.raises(TemplateError, match="line 2"):
        SimpleTemplate("x\n% return 5\n")


def test_unclosed_tokens():
    with pytest.raises(TemplateError, match="line 2.*never closed"):
        SimpleTemplate("a\nb {{ x \n")
    with pytest.raises(TemplateError, match="line 1.*never closed"):
        SimpleTemplate("<% x = 1\n")
    with pytest.raises(TemplateError, match="line 1"):
        SimpleTemplate("% x = (1,\n")
    with pytest.raises(TemplateError, match="empty"):
        SimpleTemplate("{{ }}")


def test_end_without_block():
    with pytest.raises(TemplateError, match="line 2.*'end'"):
        SimpleTemplate("x\n% end\n")


def test_unclosed_block_at_end_is_closed():
    assert render("% for i in range(2):\n{{i}}\n") == "0\n1\n"


_PLUS_200K = "+".join(["1"] * 200_000)  # a RecursionError in Python's compiler
_UNARY_100K = "-" * 100_000 + "1"  # a MemoryError (parser stack) in Python's compiler


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ("a\nb\n{{ " + _PLUS_200K + " }}\n", 3),
        ("a\n{{!" + _UNARY_100K + "}}", 2),
        ("% x = 1\n% y = " + _PLUS_200K + "\n{{y}}", 2),
        ("% if " + _UNARY_100K + ":\nyes\n% end", 1),
        ("% for i in []:\n% pass\n% else:\n% z = x" + ".a" * 100_000 + "\n% end", 4),
        ("<%\nx = 1\n\ny = x" + "[0]" * 100_000 + "\n%>", 4),
        ("% if 0:\n% elif " + _UNARY_100K + ":\n% end", 2),
        ("{{ '" + "x" * 1_000_000 + "' }}\n{{ " + _PLUS_200K + " }}", 2),  # not the longest
    ],
    ids=[
        "inline-plus",
        "raw-unary",
        "line-plus",
        "if-unary",
        "else-attr",
        "block-subscript",
        "elif-unary",
        "found-by-trying",
    ],
)
def test_too_complex_expression_is_template_error_with_line(source, line):
    with pytest.raises(TemplateError, match=f"line {line}: .*nested or chained too deeply") as info:
        SimpleTemplate(source)
    assert info.value.lineno == line
    with pytest.raises(TemplateError, match=f"line {line}:"):
        template(source)


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ("ok\n{{ '\ud800' }}", 2),
        ("% x = '\ud800'\n{{x}}", 1),
        ("a\nb\n<% y = 1\nz = '\udfff' %>", 4),
    ],
    ids=["inline", "line", "block"],
)
def test_lone_surrogate_in_code_is_template_error_with_line(source, line):
    with pytest.raises(TemplateError, match=f"line {line}: .*lone surrogate") as info:
        SimpleTemplate(source)
    assert info.value.lineno == line


def test_lone_surrogate_in_text_is_kept():
    assert render("a\ud800b {{x}}", x=1) == "a\ud800b 1"


def test_too_complex_included_template_is_template_error(views):
    (views / "deep.tpl").write_text("x\n{{ " + _PLUS_200K + " }}")
    with pytest.raises(TemplateError, match="deep, line 2"):
        template("{{x}}\n% include('deep')", x=1)


def test_jinja2_too_complex_expression_is_template_error():
    with pytest.raises(TemplateError, match="nested or chained too deeply"):
        jinja2_template("{{ " + _PLUS_200K + " }}")
    with pytest.raises(TemplateError, match="nested or chained too deeply"):
        jinja2_template("{{ " + "(" * 100_000 + " }}")


def test_runtime_error_traceback_points_at_template_line(views):
    (views / "boom.tpl").write_text("one\ntwo {{x}}\nthree {{ 1 / zero }}\n")
    with pytest.raises(ZeroDivisionError) as info:
        template("boom", x=1, zero=0)
    frames = traceback.extract_tb(info.value.__traceback__)
    assert any(f.filename.endswith("boom.tpl") and f.lineno == 3 for f in frames)
    assert "three {{ 1 / zero }}" in "".join(traceback.format_tb(info.value.__traceback__))
    if sys.version_info >= (3, 11):
        assert "while rendering template boom, line 3" in info.value.__notes__


def test_runtime_error_in_source_template_has_note():
    if sys.version_info < (3, 11):
        pytest.skip("exception notes need Python 3.11")
    with pytest.raises(NameError) as info:
        render("a\n\n{{nope}}")
    assert info.value.__notes__ == ["while rendering template <string>, line 3"]


# --------------------------------------------------------------------------- view()


def test_view_renders_dict(views):
    (views / "page.tpl").write_text("<h1>{{title}}</h1>{{len(items)}}")

    @view("page", items=[])
    def page():
        return {"title": "My <Page>", "items": [1, 2, 3]}

    assert page() == "<h1>My &lt;Page&gt;</h1>3"


def test_view_none_uses_defaults_and_other_results_pass_through(views):
    (views / "d.tpl").write_text("{{title}}")

    @view("d", title="Default")
    def handler(result):
        return result

    assert handler(None) == "Default"
    assert handler({"title": "Given"}) == "Given"
    assert handler("plain string") == "plain string"
    marker = object()
    assert handler(marker) is marker


def test_view_keeps_metadata_and_signature(views):
    @view("x")
    def handler(name: str, count: int = 1) -> dict:
        """Docs."""
        return {}

    assert handler.__name__ == "handler"
    assert handler.__doc__ == "Docs."
    assert list(inspect.signature(handler).parameters) == ["name", "count"]
    assert not inspect.iscoroutinefunction(handler)


def test_view_on_async_function(views):
    (views / "async.tpl").write_text("async {{v}}")

    @view("async", v="default")
    async def handler(v=None):
        """Async docs."""
        await asyncio.sleep(0)
        return {"v": v} if v else None

    assert inspect.iscoroutinefunction(handler)
    assert handler.__doc__ == "Async docs."
    assert list(inspect.signature(handler).parameters) == ["v"]
    assert asyncio.run(handler("<x>")) == "async &lt;x&gt;"
    assert asyncio.run(handler()) == "async default"


def test_view_with_other_adapter(views):
    (views / "j.html").write_text("{{ v }}")

    @jinja2_view("j.html")
    def handler():
        return {"v": "<b>"}

    assert handler() == "&lt;b&gt;"


# --------------------------------------------------------------------------- Jinja2


def test_jinja2_source_autoescapes():
    assert jinja2_template("Hello {{ name }}!", name="<World>") == "Hello &lt;World&gt;!"
    assert jinja2_template("{{ v|safe }}", v="<b>") == "<b>"


def test_jinja2_lookup_and_autoescape_for_every_extension(views):
    (views / "page.html").write_text("<p>{{ v }}</p>{% include 'part.txt' %}")
    (views / "part.txt").write_text("[{{ v }}]")
    (views / "plain.txt").write_text("{{ v }}")
    (views / "feed.xml").write_text("<x>{{ v }}</x>")
    assert jinja2_template("page.html", v="<i>") == "<p>&lt;i&gt;</p>[&lt;i&gt;]"
    assert jinja2_template("page", v="&") == "<p>&amp;</p>[&amp;]"  # extension found by search
    assert jinja2_template("plain.txt", v="<i>") == "&lt;i&gt;"
    assert jinja2_template("feed.xml", v="<i>") == "<x>&lt;i&gt;</x>"


def test_jinja2_tpl_file_found_by_name_is_escaped(views):
    # .tpl is the first extension searched, and Jinja2 itself escapes only .html/.htm/.xml.
    (views / "page.tpl").write_text('<a title="{{ v }}">{{ v }}</a>')
    xss = '"><script>alert(1)</script>'
    escaped = "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
    assert jinja2_template("page", v=xss) == f'<a title="{escaped}">{escaped}</a>'

    @jinja2_view("page")
    def handler():
        return {"v": "<b>"}

    assert handler() == '<a title="&lt;b&gt;">&lt;b&gt;</a>'


def test_jinja2_opting_out_of_escaping_is_explicit(views):
    import jinja2

    (views / "raw.tpl").write_text("{{ v }}")
    (views / "page.html").write_text("{{ v }}")
    off = {"autoescape": False}
    assert jinja2_template("raw", v="<b>", template_settings=off) == "<b>"
    jinja_default = {"autoescape": jinja2.select_autoescape()}  # Jinja2's own choice by extension
    assert jinja2_template("raw", v="<b>", template_settings=jinja_default) == "<b>"
    assert jinja2_template("page.html", v="<b>", template_settings=jinja_default) == "&lt;b&gt;"
    assert jinja2_template("raw", v="<b>") == "&lt;b&gt;"


def test_jinja2_extends(views):
    (views / "base.html").write_text("<t>{% block body %}{% endblock %}</t>")
    (views / "child.html").write_text(
        "{% extends 'base.html' %}{% block body %}{{ v }}{% endblock %}"
    )
    assert jinja2_template("child", v="<c>") == "<t>&lt;c&gt;</t>"


def test_jinja2_settings_filters_and_globals():
    out = jinja2_template(
        "{{ v|shout }} {{ site }}",
        v="hi",
        template_settings={"filters": {"shout": str.upper}, "globals": {"site": "L"}},
    )
    assert out == "HI L"
    assert jinja2_template("{{ v }}", v="<b>", template_settings={"autoescape": False}) == "<b>"


def test_jinja2_not_found_and_syntax_error(views):
    with pytest.raises(TemplateError, match="missing_one"):
        jinja2_template("missing_one")
    (views / "bad.html").write_text("ok\n{% if %}\n")
    with pytest.raises(TemplateError, match="line 2"):
        jinja2_template("bad.html")


def test_jinja2_refuses_traversal_in_include(tmp_path):
    root = tmp_path / "views"
    root.mkdir()
    (tmp_path / "secret.html").write_text("secret")
    import jinja2

    with pytest.raises(jinja2.TemplateNotFound):
        jinja2_template("{% include '../secret.html' %}", template_lookup=[str(root)])


# --------------------------------------------------------------------------- Mako and Cheetah


def test_engine_missing_error_is_clear(monkeypatch):
    real_find_spec = importlib.util.find_spec

    def fake_find_spec(name, *args):
        return None if name in ("mako", "Cheetah") else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", fake_find_spec)
    with pytest.raises(ImportError, match="pip install mako"):
        mako_template("${x}", x=1)
    with pytest.raises(TemplateError, match="pip install mako"):
        MakoTemplate(source="${x}")
    with pytest.raises(TemplateError, match="pip install cheetah3"):
        cheetah_template("$x", x=1)
    with pytest.raises(ImportError, match="pip install cheetah3"):
        CheetahTemplate(source="$x")


@pytest.mark.skipif(importlib.util.find_spec("Cheetah") is not None, reason="Cheetah installed")
def test_cheetah_missing_for_real():
    with pytest.raises(ImportError, match="cheetah3"):
        cheetah_template("$x", x=1)


@pytest.mark.skipif(importlib.util.find_spec("Cheetah") is None, reason="needs cheetah3")
@pytest.mark.filterwarnings("ignore:'cgi' is deprecated:DeprecationWarning")  # Cheetah3 imports cgi
def test_cheetah_renders():  # pragma: no cover - only where cheetah3 is installed
    assert cheetah_template("Hello $name", name="World") == "Hello World"


@pytest.mark.skipif(importlib.util.find_spec("mako") is None, reason="needs mako")
def test_mako_renders(views):
    assert mako_template("Hello ${name}!", name="World") == "Hello World!"
    (views / "m.tpl").write_text("<%include file='part.mako'/>${x}")
    (views / "part.mako").write_text("[part]")
    assert mako_template("m", x=1) == "[part]1"

    @mako_view("m", x="d")
    def handler():
        return None

    assert handler() == "[part]d"


@pytest.mark.skipif(importlib.util.find_spec("mako") is None, reason="needs mako")
def test_mako_escapes_by_default(views):
    (views / "m.tpl").write_text('<a title="${v}">${v}</a>${v | n}')
    out = mako_template("m", v='"<b>')
    assert out == '<a title="&#34;&lt;b&gt;">&#34;&lt;b&gt;</a>"<b>'
    assert mako_template("${v}", v="<&>") == "&lt;&amp;&gt;"
    assert mako_template("${v}", v=None) == "None"  # as Mako's own default, only escaped
    raw = {"default_filters": ["str"]}
    assert mako_template("m", v="<b>", template_settings=raw) == '<a title="<b>"><b></a><b>'


@pytest.mark.skipif(importlib.util.find_spec("Cheetah") is None, reason="needs cheetah3")
@pytest.mark.filterwarnings("ignore:'cgi' is deprecated:DeprecationWarning")  # Cheetah3 imports cgi
def test_cheetah_escapes_by_default():  # pragma: no cover - only where cheetah3 is installed
    assert cheetah_template('<a title="$v">$v</a>', v='"<b>') == (
        '<a title="&quot;&lt;b&gt;">&quot;&lt;b&gt;</a>'
    )
    assert cheetah_template("[$v]", v=None) == "[]"
    raw = {"filter": "RawOrEncodedUnicode"}
    assert cheetah_template("$v", v="<b>", template_settings=raw) == "<b>"


def test_simpletemplate_file_found_by_name_is_escaped(views):
    (views / "page.tpl").write_text('<a title="{{v}}">{{v}}</a>{{!v}}')
    assert template("page", v='"<b>') == '<a title="&quot;&lt;b&gt;">&quot;&lt;b&gt;</a>"<b>'
    raw = {"noescape": True}
    assert template("page", v="<b>", template_settings=raw) == '<a title="<b>"><b></a>&lt;b&gt;'


@pytest.mark.skipif(importlib.util.find_spec("mako") is None, reason="needs mako")
def test_mako_syntax_error():
    with pytest.raises(TemplateError):
        mako_template("% for x in\n")
