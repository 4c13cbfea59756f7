"""Start servers for the WebSocket e2e tests on 127.0.0.1 (the apps in tests/ws/apps);
the command lines and the process handling are tests/e2e/servers.py's."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from e2e.servers import free_port, launch, server_command

APPS = Path(__file__).resolve().parent / "apps"
#: The WebSocket tests' names for e2e.servers' kinds.
_KINDS = {"gunicorn": "gunicorn-sync"}


@contextmanager
def serve(
    kind: str,
    tmp_path: Path,
    *,
    workers: int = 1,
    env: dict[str, str] | None = None,
    spec: str = "ws_app:app",
    tls: tuple[str, str] | None = None,
) -> Iterator[str]:
    """Run a server until the block ends; yields ``127.0.0.1:port`` once it answers.

    ``tls=(certfile, keyfile)`` serves https/wss with that certificate.
    """
    port = free_port()
    cmd = server_command(_KINDS.get(kind, kind), spec, port, workers=workers, grace=3, tls=tls)
    with launch(
        f"{kind}-{port}",
        cmd,
        f"{'https' if tls else 'http'}://127.0.0.1:{port}",
        tmp_path,
        env=env,
        apps=APPS,
        verify=ssl.create_default_context(cafile=tls[0]) if tls else True,
    ):
        yield f"127.0.0.1:{port}"
