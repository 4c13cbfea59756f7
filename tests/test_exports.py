"""``__all__`` of each package matches what it really exports, and the Lcore API is there."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = ["lcore", "lcore_asgi", "lcore_asgi.server", "lcore.middleware"]

#: Names from shared/API.md that existing Lcore code imports from ``lcore``.
LCORE_API = """
Lcore request response ctx abort redirect static_file HTTPResponse HTTPError BaseRequest
BaseResponse RequestContext LocalRequest LocalResponse Route Router ConfigDict load_dotenv
Middleware MiddlewareHook MiddlewarePipeline JSONPlugin TemplatePlugin DependencyContainer
MultiDict FormsDict HeaderDict WSGIHeaderDict FileUpload ResourceManager AppStack cached_property
tob touni html_escape html_quote makelist parse_auth parse_date parse_range_header http_date
load json_dumps json_loads debug run TEMPLATE_PATH TEMPLATES template view jinja2_template
jinja2_view mako_template mako_view cheetah_template cheetah_view SimpleTemplate BaseTemplate
HTTP_CODES DEBUG LcoreException RouteError RouteSyntaxError RouteBuildError RouterUnknownModeError
PluginError TemplateError MultipartError TestClient TestResponse hash_password verify_password
BackgroundTaskPool on_shutdown route get post put delete patch error mount hook install uninstall
url use app default_app __version__ cookie_encode cookie_decode cookie_is_encoded
""".split()


@pytest.mark.parametrize("name", PACKAGES)
def test_all_names_exist(name: str) -> None:
    mod = importlib.import_module(name)
    missing = [n for n in mod.__all__ if not hasattr(mod, n)]
    assert not missing, f"{name}.__all__ names that do not exist: {missing}"
    assert len(set(mod.__all__)) == len(mod.__all__), "duplicates in __all__"


def test_lcore_api_names_are_exported() -> None:
    import lcore

    missing = [n for n in LCORE_API if n not in lcore.__all__ or not hasattr(lcore, n)]
    assert not missing, f"Lcore API names missing from lcore: {missing}"


def test_public_classes_defined_in_lcore_are_listed() -> None:
    import lcore

    unlisted = [
        n
        for n, v in vars(lcore).items()
        if isinstance(v, type)
        and not n.startswith("_")
        and v.__module__.startswith("lcore")
        and n not in lcore.__all__
    ]
    assert not unlisted, f"public classes not in lcore.__all__: {unlisted}"
