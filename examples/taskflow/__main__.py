"""``python -m examples.taskflow``: run TaskFlow with ``app.run()``."""

from .app import main

main()
