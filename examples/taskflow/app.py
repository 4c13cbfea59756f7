"""TaskFlow: the main entry point that wires everything together.

One ``app`` object for every server (run these from the repository root)::

    python -m lcore_asgi examples.taskflow.app:app --port 8080   # lcore's server
    gunicorn -k gthread --threads 16 examples.taskflow.app:app   # WSGI
    uvicorn examples.taskflow.app:app                            # ASGI
    python -m examples.taskflow                                  # app.run()
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
import uuid

from lcore import (
    TEMPLATE_PATH,
    BodyLimitMiddleware,
    CompressionMiddleware,
    CORSMiddleware,
    Lcore,
    RequestIDMiddleware,
    RequestLoggerMiddleware,
    SecurityHeadersMiddleware,
    __version__,
    ctx,
    on_shutdown,
    redirect,
    request,
    response,
    static_file,
    template,
    validate_request,
)

from . import models
from .config import configure_app
from .models import Database, init_db
from .modules.auth import AdminGuardHook, TokenAuthMiddleware, auth_app, use_sessions
from .modules.live import hub
from .modules.notifications import notifications_app
from .modules.plugins import APIVersionPlugin, AuditLogHook, RequestCounterPlugin, TimingMiddleware
from .modules.products import projects_app
from .modules.users import users_app

HERE = os.path.dirname(os.path.abspath(__file__))
class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is now (servers and test runners replace it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


# TaskFlow's own loggers (app and access log) print at INFO; the root logger is left to
# the server (gunicorn, uvicorn) or to the test runner.
for _name in ('taskflow', 'http'):
    _log = logging.getLogger(_name)
    if not _log.handlers:
        _handler = _StderrHandler()
        _handler.setFormatter(logging.Formatter('%(asctime)s %(name)s %(message)s'))
        _log.addHandler(_handler)
        _log.setLevel(logging.INFO)
        _log.propagate = False
logger = logging.getLogger('taskflow')

app = Lcore()

# -- configuration and database --------------------------------------------------------
settings = configure_app(app)
db_path = settings.db_path
models.DB_PATH = db_path
init_db(db_path)
hub.configure(settings.redis_url)  # live updates across workers when set
use_sessions()  # browser logins: ctx.session under /auth/ (in Redis when set)

# Register template directory
TEMPLATE_PATH.insert(0, os.path.join(HERE, 'templates'))


# -- lifecycle hooks -------------------------------------------------------------------
@app.hook('on_request_start')
def on_request_start():
    ctx.state['start_time'] = time.time()


@app.hook('before_request')
def before_request():
    logger.debug(f"-> {request.method} {request.path}")


@app.hook('after_request')
def after_request():
    response.set_header('X-Powered-By', 'Lcore')


@app.hook('on_response_send')
def on_response_send():
    start = ctx.state.get('start_time', 0)
    duration = (time.time() - start) * 1000
    logger.debug(f"<- {request.method} {request.path} [{response.status_code}] {duration:.1f}ms")


@app.hook('on_module_mount')
def on_module_mount(prefix, child):
    logger.info(f"  Mounted module at {prefix}")


# -- middleware (10, ordered by priority) ----------------------------------------------
cors_origins = [o.strip() for o in str(settings.cors_origins).split(',') if o.strip()]

# Built-in middleware
app.use(BodyLimitMiddleware(
    max_size=int(app.config.get('max_upload_size', 10_485_760))
))
app.use(RequestIDMiddleware())
app.use(RequestLoggerMiddleware(logger=logging.getLogger('http')))
# Custom timing middleware
app.use(TimingMiddleware())
# CORS with full configuration
app.use(CORSMiddleware(
    allow_origins=cors_origins,
    allow_methods=['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    allow_headers=['Content-Type', 'Authorization', 'X-CSRF-Token', 'X-Requested-With'],
    expose_headers=['X-Request-ID', 'X-Response-Time', 'X-API-Version'],
    allow_credentials=True,
    max_age=86400,
))
app.use(SecurityHeadersMiddleware(hsts=True, hsts_max_age=31536000))
# Custom auth middleware with path skipping
app.use(TokenAuthMiddleware(
    skip_paths=['/auth/', '/health', '/docs', '/docs/', '/', '/static/', '/debug/', '/old-api',
                '/frontend', '/live', '/favicon.ico']
))
app.use(AdminGuardHook())
audit_log = app.use(AuditLogHook())
# Compression (high order = runs last)
app.use(CompressionMiddleware(min_size=256, level=6))


# -- dependency injection --------------------------------------------------------------
class AppCache:
    """In-memory cache (singleton lifetime)."""

    def __init__(self):
        self._store = {}

    def get(self, key):
        entry = self._store.get(key)
        if entry and entry['expires'] > time.time():
            return entry['value']
        return None

    def set(self, key, value, ttl=300):
        self._store[key] = {'value': value, 'expires': time.time() + ttl}

    def invalidate(self, key):
        self._store.pop(key, None)


# Singleton: one instance for the entire app lifetime
app.inject('cache', AppCache, lifetime='singleton')
# Scoped: one instance per request, auto-closed via .close()
app.inject('db', lambda: Database(db_path), lifetime='scoped')
# Transient: new value every time it is accessed
app.inject('trace_id', lambda: str(uuid.uuid4()), lifetime='transient')


# -- plugins ---------------------------------------------------------------------------
version_plugin = APIVersionPlugin(version='0.0.1')
app.install(version_plugin)
counter_plugin = RequestCounterPlugin()
app.install(counter_plugin)


# -- sub-applications ------------------------------------------------------------------
# Mount sub-applications at URL prefixes
app.mount('/auth/', auth_app)
app.mount('/api/users/', users_app)
app.mount('/api/projects/', projects_app)
app.mount('/api/notifications/', notifications_app)


# -- pages -----------------------------------------------------------------------------
@app.get('/', name='home', skip_versioning=True)
def home():
    """TaskFlow welcome page with API overview."""
    return template('welcome',
        title='TaskFlow API',
        description='Project management API built with the Lcore framework',
        version=__version__,
        host=request.urlparts.hostname or 'localhost',
        port=request.urlparts.port or (443 if request.urlparts.scheme == 'https' else 80),
        features=[
            {'name': 'SQLite DB', 'desc': 'Real database with projects, tasks, users, comments'},
            {'name': '.env Config', 'desc': 'Multi-source config loading + dataclass validation'},
            {'name': 'Auth', 'desc': 'Signed tokens, Basic Auth, signed cookies, RBAC'},
            {'name': '10 Middleware', 'desc': 'CORS, security headers, request IDs, gzip and more'},
            {'name': 'Plugins', 'desc': 'API version stamp and per-route request counter'},
            {'name': 'Live updates', 'desc': 'Task changes pushed to watchers over SSE (Redis across workers)'},
            {'name': 'Both protocols', 'desc': 'The same app under gunicorn, uvicorn, hypercorn, lcore'},
        ],
        endpoint_groups=[
            {'name': 'Auth', 'endpoints': [
                {'method': 'POST', 'path': '/auth/login', 'desc': 'Login with credentials'},
                {'method': 'POST', 'path': '/auth/register', 'desc': 'Create a member account'},
                {'method': 'GET', 'path': '/auth/me', 'desc': 'Current user (signed cookie)'},
                {'method': 'GET', 'path': '/auth/basic-demo', 'desc': 'HTTP Basic Auth demo'},
            ]},
            {'name': 'Users', 'endpoints': [
                {'method': 'GET', 'path': '/api/users/', 'desc': 'List team members'},
                {'method': 'GET', 'path': '/api/users/search?q=', 'desc': 'Search members'},
                {'method': 'POST', 'path': '/api/users/', 'desc': 'Invite a member (admin)'},
                {'method': 'PUT', 'path': '/api/users/<id>', 'desc': 'Update a profile (admin or self)'},
                {'method': 'PATCH', 'path': '/api/users/<id>', 'desc': 'Change role/status (admin)'},
                {'method': 'DELETE', 'path': '/api/users/<id>', 'desc': 'Remove a member (admin)'},
            ]},
            {'name': 'Projects & Tasks', 'endpoints': [
                {'method': 'GET', 'path': '/api/projects/', 'desc': 'List projects'},
                {'method': 'POST', 'path': '/api/projects/', 'desc': 'Create a project (admin)'},
                {'method': 'GET', 'path': '/api/projects/<id>/tasks', 'desc': 'List tasks'},
                {'method': 'POST', 'path': '/api/projects/<id>/tasks', 'desc': 'Create a task'},
                {'method': 'PUT', 'path': '/api/projects/<id>/tasks/<tid>', 'desc': 'Update a task'},
                {'method': 'POST', 'path': '/api/projects/<id>/tasks/<tid>/comments', 'desc': 'Comment'},
                {'method': 'POST', 'path': '/api/projects/<id>/tasks/<tid>/attachment', 'desc': 'Upload a file'},
                {'method': 'GET', 'path': '/api/projects/<id>/events', 'desc': 'Live task events (SSE)'},
                {'method': 'GET', 'path': '/api/projects/dashboard/overview', 'desc': 'Dashboard (async)'},
            ]},
            {'name': 'Notifications', 'endpoints': [
                {'method': 'POST', 'path': '/api/notifications/email', 'desc': 'Send an email'},
                {'method': 'POST', 'path': '/api/notifications/batch', 'desc': 'Batch notify (async)'},
                {'method': 'GET', 'path': '/api/notifications/history', 'desc': 'Email history'},
            ]},
        ],
    )


@app.get('/frontend', name='frontend', skip_versioning=True)
def frontend():
    """TaskFlow frontend — full project management UI."""
    return template('frontend', version=__version__)


@app.get('/live', name='live', skip_versioning=True)
@validate_request(query={'project': int | None})
def live_page():
    """Live updates page: watch a project's task events as they happen."""
    return template('live', project_id=int(request.query.get('project', '1') or 1),
                    backend=hub.backend)


@app.get('/static/<filepath:path>', name='static', skip_versioning=True)
def serve_static(filepath):
    """Stylesheets and scripts of the pages."""
    return static_file(filepath, root=os.path.join(HERE, 'static'))


@app.get('/health', name='health')
def health():
    """Liveness check (no auth)."""
    db = ctx.db
    return {'status': 'ok', 'database': db.count('users') >= 0, 'live_backend': hub.backend,
            'time': time.time()}


@app.get('/old-api', name='old_api')
def old_api():
    """Moved permanently to /api/projects/."""
    redirect('/api/projects/', 301)


# -- live updates over WebSocket -------------------------------------------------------
@app.websocket('/ws/projects/<project_id:int>', name='project_ws')
async def project_ws(ws, project_id):
    """Push the project's task events to a WebSocket (the token comes as ?access_token=)."""
    await ws.accept()
    events = hub.subscribe(project_id)

    async def pump():
        async for message in events:
            if message == '':
                await ws.send_json({'type': 'subscribed', 'project_id': project_id,
                                    'backend': hub.backend, 'pid': os.getpid()})
            else:
                await ws.send_text(message)

    sender = asyncio.create_task(pump())
    try:
        async for message in ws:  # until the client closes; 'ping' gets a 'pong'
            if message == 'ping':
                await ws.send_text('pong')
    finally:
        sender.cancel()
        try:
            await sender
        except (asyncio.CancelledError, Exception):
            pass
        await events.aclose()


# -- admin (AdminGuardHook lets admins only) -------------------------------------------
@app.get('/admin/overview', name='admin_overview')
def admin_overview():
    """Admin overview: counts and the latest audit log entries."""
    db = ctx.db
    return {
        'users': db.count('users'),
        'projects': db.count('projects'),
        'tasks': db.count('tasks'),
        'notifications': db.count('notifications'),
        'audit': list(audit_log.entries[-20:]),
        'admin': ctx.user['username'],
    }


# -- debug routes (only when debug is on) ----------------------------------------------
is_debug = str(app.config.get('debug', 'false')).lower() in ('true', '1', 'yes')

SECRET_WORDS = ('secret', 'password', 'token', 'key')

if is_debug:
    @app.get('/debug/routes', name='debug_routes')
    def debug_routes():
        """Every route of the app and of its mounted modules."""
        routes = [{'method': r['method'], 'rule': r['rule'], 'name': r['name']}
                  for r in app.show_routes()]
        for prefix, child in (('/auth', auth_app), ('/api/users', users_app),
                              ('/api/projects', projects_app),
                              ('/api/notifications', notifications_app)):
            routes += [{'method': r['method'], 'rule': prefix + r['rule'], 'name': r['name']}
                       for r in child.show_routes()]
        return {'routes': routes, 'count': len(routes)}

    @app.get('/debug/middleware', name='debug_middleware')
    def debug_middleware():
        """The middleware stack, in the order it runs."""
        stack = app.show_middleware()
        return {'middleware': stack, 'count': len(stack)}

    @app.get('/debug/config', name='debug_config')
    def debug_config():
        """The effective config, secrets redacted."""
        config = {}
        for key in sorted(app.config):
            value = app.config[key]
            if any(word in key.lower() for word in SECRET_WORDS) and value:
                value = '***'
            config[key] = value if isinstance(value, (str, int, float, bool)) else str(value)
        return {'config': config}

    @app.get('/debug/stats', name='debug_stats')
    def debug_stats():
        """Per-route request counts (RequestCounterPlugin) and live subscribers."""
        return {'request_counts': counter_plugin.get_stats(), 'pid': os.getpid(),
                'live_subscribers': hub.subscriber_count(), 'live_backend': hub.backend,
                'python': sys.version.split()[0]}

    @app.get('/debug/di', name='debug_di')
    def debug_di():
        """Dependency injection demo - shows different lifetimes."""
        return {
            'trace_id_1': ctx.trace_id,
            'trace_id_2': ctx.trace_id,  # Different each access (transient)
            'cache_type': type(ctx.cache).__name__,
            'db_type': type(ctx.db).__name__,
        }

    app.enable_docs()
    logger.info("  API docs at /docs")


# -- error handlers --------------------------------------------------------------------
@app.error(404)
def error_404(error):
    if 'application/json' in (request.get_header('Accept') or ''):
        return {'error': 'Not Found', 'path': request.path, 'status': 404}
    return template('error', status_code=404, status_text='Not Found',
                    message=f"The path '{request.path}' does not exist.")


@app.error(500)
def error_500(error):
    if 'application/json' in (request.get_header('Accept') or ''):
        return {'error': 'Internal Server Error', 'status': 500}
    return template('error', status_code=500, status_text='Internal Server Error',
                    message='Something went wrong. Please try again later.')


@app.error(429)
def error_429(error):
    return {'error': 'Too Many Requests', 'status': 429,
            'message': 'Rate limit exceeded. Please slow down.'}


@app.error(403)
def error_403(error):
    return {'error': 'Forbidden', 'status': 403,
            'message': 'You do not have permission to access this resource.'}


@on_shutdown
def goodbye():
    logger.info("TaskFlow shutting down")


def main():
    """Run TaskFlow on lcore's default server (``python -m examples.taskflow``)."""
    app.run(host=settings.host, port=int(settings.port), debug=is_debug)


if __name__ == '__main__':
    main()
