"""The ASGI ``lifespan`` protocol: startup before serving, shutdown after."""

from __future__ import annotations

from typing import Any

import anyio
import anyio.abc

from ._state import error_logger

__all__ = ["Lifespan", "LifespanFailure"]


class LifespanFailure(RuntimeError):
    """The app reported (or raised) a lifespan startup failure; the server must not start."""


class Lifespan:
    """Drive one app's lifespan task; ``mode`` is ``"auto"``, ``"on"`` or ``"off"``."""

    def __init__(self, app: Any, mode: str, state: dict[str, Any]) -> None:
        self.app = app
        self.mode = mode
        self.state = state
        self._send_stream, self._receive_stream = anyio.create_memory_object_stream[dict[str, Any]](
            2
        )
        self._startup_done = anyio.Event()
        self._shutdown_done = anyio.Event()
        self._supported = True
        self._failure: str | None = None
        self._exited = False

    async def startup(self, task_group: anyio.abc.TaskGroup) -> None:
        """Start the lifespan task and wait for startup; raise LifespanFailure on failure."""
        if self.mode == "off":
            return
        self._send_stream.send_nowait({"type": "lifespan.startup"})
        task_group.start_soon(self._main)
        await self._startup_done.wait()
        if self._failure is not None:
            raise LifespanFailure(self._failure)

    def close(self) -> None:
        """Release the message channel (always called once the server stops)."""
        self._send_stream.close()
        self._receive_stream.close()

    async def shutdown(self) -> None:
        """Send ``lifespan.shutdown`` and wait for the app to finish it."""
        if self.mode == "off" or not self._supported or self._exited:
            return
        try:
            self._send_stream.send_nowait({"type": "lifespan.shutdown"})
        except anyio.BrokenResourceError:
            return
        await self._shutdown_done.wait()
        if self._failure is not None:
            error_logger.error("Lifespan shutdown failed: %s", self._failure)

    async def _main(self) -> None:
        scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        try:
            await self.app(scope, self._receive, self._send)
        except Exception as exc:
            if self._startup_done.is_set() or self.mode == "on" or self._failure:
                if self._failure is None:
                    self._failure = f"{type(exc).__name__}: {exc}"
                error_logger.exception("Exception in ASGI lifespan")
            else:
                self._supported = False
                error_logger.info("ASGI 'lifespan' protocol appears unsupported by the app.")
        finally:
            self._exited = True
            self._receive_stream.close()
            self._startup_done.set()
            self._shutdown_done.set()

    async def _receive(self) -> dict[str, Any]:
        try:
            return await self._receive_stream.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            await anyio.sleep_forever()
            raise AssertionError("unreachable") from None

    async def _send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "lifespan.startup.complete":
            self._startup_done.set()
        elif kind == "lifespan.startup.failed":
            self._failure = message.get("message") or "startup failed"
            self._startup_done.set()
        elif kind == "lifespan.shutdown.complete":
            self._shutdown_done.set()
        elif kind == "lifespan.shutdown.failed":
            self._failure = message.get("message") or "shutdown failed"
            self._shutdown_done.set()
        else:
            raise RuntimeError(f"unexpected ASGI lifespan message {kind!r}")
