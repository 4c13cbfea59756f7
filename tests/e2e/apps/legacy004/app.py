# app.py: a small Lcore 0.0.4-style service, written from the getting-started and
# advanced guides. Nothing in here knows about ASGI; it is served unchanged by gunicorn,
# uvicorn and lcore's own server.
import logging
import os
import time
from dataclasses import dataclass

from lcore import (
    TEMPLATE_PATH,
    BackgroundTaskPool,
    BodyLimitMiddleware,
    CORSMiddleware,
    Lcore,
    RequestIDMiddleware,
    RequestLoggerMiddleware,
    SecurityHeadersMiddleware,
    auth_basic,
    ctx,
    hash_password,
    on_shutdown,
    rate_limit,
    request,
    response,
    template,
    validate_request,
    verify_password,
    view,
)

from .users import users_app

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE_PATH.insert(0, os.path.join(HERE, 'templates'))

app = Lcore()

app.config.load_dict({'debug': False, 'db_url': 'sqlite:///data.db', 'my_app': {'greeting': 'hi'}})
app.config['error.format'] = 'json'


@dataclass
class AppConfig:
    debug: bool = False
    db_url: str = 'sqlite:///data.db'
    max_upload: int = 10_000_000


app.config.validate_config(AppConfig)

# Production middleware stack
app.use(BodyLimitMiddleware(max_size=64 * 1024))
app.use(RequestIDMiddleware())
app.use(RequestLoggerMiddleware(logger=logging.getLogger('http')))
app.use(SecurityHeadersMiddleware(hsts=True))
app.use(CORSMiddleware(allow_origins=['https://myapp.com'], allow_credentials=True))


# Dependency injection, the three lifetimes
class MemoryCache:
    def __init__(self):
        self.store = {}

    def get(self, key):
        return self.store.get(key)

    def set(self, key, value):
        self.store[key] = value


class DBSession:
    opened = 0
    closed = 0

    def __init__(self):
        DBSession.opened += 1

    def query(self, sql):
        return [{'sql': sql}]

    def close(self):
        DBSession.closed += 1


app.inject('cache', MemoryCache, lifetime='singleton')
app.inject('db', DBSession, lifetime='scoped')
app.inject('stamp', lambda: time.time_ns(), lifetime='transient')

tasks = BackgroundTaskPool(max_workers=2)
SENT = []

# Mount a sub-application, with a module hook from the parent
app.mount('/api/users/', users_app)


@app.module_hook('/api/users/', 'after_request')
def log_user_api():
    response.set_header('X-User-Api', request.environ.get('users.checked', 'no'))


@app.hook('on_request_start')
def set_timer():
    ctx.state['start_time'] = time.time()


@app.hook('on_response_send')
def log_duration():
    duration = time.time() - ctx.state.get('start_time', 0)
    response.set_header('X-Response-Time', f'{duration * 1000:.1f}ms')


@on_shutdown
def cleanup():
    tasks.shutdown(wait=True)


@app.route('/health', skip=True)
def health():
    return 'ok'


@app.route('/')
def index():
    return 'Hello, World!'


@app.route('/api/data')
def data():
    ctx.cache.set('last_query', 'data')
    return {'rows': ctx.db.query('SELECT * FROM data'), 'cached': ctx.cache.get('last_query'),
            'opened_minus_closed_before': DBSession.opened - DBSession.closed}


@app.route('/info')
def info():
    return {'method': ctx.request.method, 'request_id': ctx.request_id, 'state': sorted(ctx.state),
            'greeting': app.config['my_app.greeting']}


@app.route('/hello/<name>')
def hello(name):
    return template('hello', name=name, items=[1, 2], raw_html='<b>raw</b>')


@app.route('/page')
@view('hello')
def page():
    return {'name': '<script>', 'items': ['a'], 'raw_html': ''}


@app.post('/api/items')
@validate_request(body={'name': str, 'price': float}, query={'category': str})
def create_item():
    data = request.json
    response.status = 201
    return {'created': True, 'name': data['name'], 'category': request.query.get('category')}


@app.get('/api/search')
@validate_request(query={'q': str, 'page': int})
def search():
    return {'query': request.query.get('q'), 'page': int(request.query.get('page', 1))}


def check_credentials(username, password):
    return username == 'admin' and verify_password(password, ADMIN_HASH)


ADMIN_HASH = hash_password('s3cret', iterations=1000)


@app.route('/admin')
@auth_basic(check_credentials, realm='Admin Area')
def admin():
    return 'Welcome, admin!'


@app.post('/api/login')
@rate_limit(3, per=300)
def login():
    return {'token': 'abc'}


@app.post('/api/users')
def create_user():
    data = request.json
    tasks.submit(SENT.append, data['email'])
    return {'created': True, 'email': data['email']}


@app.route('/async')
async def async_handler():
    return {'result': 'ok'}


@app.route('/cookie')
def cookie():
    seen = request.get_cookie('account', secret='cookie-secret')
    response.set_cookie('account', 'alice', secret='cookie-secret', httponly=True)
    return {'seen': seen}


if __name__ == '__main__':
    app.run(server='gunicorn', host='127.0.0.1', port=8080)
