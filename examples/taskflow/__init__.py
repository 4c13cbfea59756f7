"""TaskFlow: a project management API and single-page frontend built with lcore.

Serve it from the repository root with any server; the same ``app`` object is WSGI and
ASGI::

    python -m lcore_asgi examples.taskflow.app:app --port 8080
    gunicorn -k gthread --threads 16 -b 127.0.0.1:8080 examples.taskflow.app:app
    uvicorn examples.taskflow.app:app --port 8080
    python -m examples.taskflow          # app.run() on lcore's default server
"""
