"""``python -m lcore_asgi myapp:app``: run the embedded ASGI server."""

from lcore_asgi.server import main

if __name__ == "__main__":
    main()
