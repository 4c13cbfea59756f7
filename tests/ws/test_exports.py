"""``lcore_ws`` exports what ``__all__`` says, and importing lcore or lcore_ws stays light."""

from __future__ import annotations

import subprocess
import sys

import lcore_ws


def test_all_names_exist():
    missing = [n for n in lcore_ws.__all__ if not hasattr(lcore_ws, n)]
    assert not missing
    assert len(set(lcore_ws.__all__)) == len(lcore_ws.__all__)


def test_websocket_names_from_lcore_too():
    import lcore

    assert lcore.WebSocket is lcore_ws.WebSocket
    assert lcore.WebSocketDisconnect is lcore_ws.WebSocketDisconnect
    assert lcore.WebSocketState is lcore_ws.WebSocketState


def test_imports_do_not_pull_optional_dependencies():
    code = (
        "import sys, lcore, lcore_ws\n"
        "from lcore import Lcore\n"
        "app = Lcore()\n"
        "app.websocket('/ws', callback=lambda ws: None)\n"
        "print([m for m in ('websockets', 'redis') if m in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]", out.stdout
