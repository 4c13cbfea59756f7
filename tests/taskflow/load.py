"""Import the TaskFlow example for tests, on a temporary database (once per process)."""

from __future__ import annotations

import importlib
import os
import sys
import uuid
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def import_taskflow(base: Path) -> ModuleType:
    """``examples.taskflow.app`` configured for the directory ``base`` (its database,
    uploads and a fresh secret come from ``APP_*`` variables set before the import); the
    module already imported, if any."""
    if "examples.taskflow.app" in sys.modules:
        return sys.modules["examples.taskflow.app"]
    if str(ROOT) not in sys.path:  # `examples` is a namespace package at the repository root
        sys.path.insert(0, str(ROOT))
    os.environ["APP_DB_PATH"] = str(base / "taskflow.db")
    os.environ["APP_UPLOAD_DIR"] = str(base / "uploads")
    os.environ["APP_DEBUG"] = "true"
    os.environ["APP_SECRET_KEY"] = "test-secret-" + uuid.uuid4().hex
    os.environ.pop("TASKFLOW_REDIS_URL", None)
    return importlib.import_module("examples.taskflow.app")
