"""Token auth, Basic Auth, signed cookies and RBAC (mounted at ``/auth/``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

from lcore import (
    HTTPResponse,
    Lcore,
    Middleware,
    MiddlewareHook,
    abort,
    auth_basic,
    ctx,
    hash_password,
    rate_limit,
    request,
    validate_request,
    verify_password,
)
from lcore.sessions import RedisSessionStore, SessionMiddleware

from ..config import settings
from ..models import Database

auth_app = Lcore()
auth_app.config['error.format'] = 'json'  # API errors: {"error": ..., "status": N}


def use_sessions() -> None:
    """Cookie login: ctx.session for /auth/*, in Redis when TaskFlow has one (every
    worker sees a login), else in the signed cookie itself."""
    store = RedisSessionStore(settings.redis_url, prefix='taskflow:session:') if settings.redis_url else None
    auth_app.use(SessionMiddleware(str(settings.secret_key), store,
                                   cookie_name='session_user', max_age=3600))


def _get_secret() -> str:
    return str(settings.secret_key)


def generate_token(user_id: int, username: str, role: str) -> str:
    """Generate a signed auth token (base64 JSON + HMAC-SHA256)."""
    payload = {
        'sub': user_id,
        'username': username,
        'role': role,
        'iat': int(time.time()),
        'exp': int(time.time()) + 3600,
    }
    payload_b64 = base64.urlsafe_b64encode(
        json.dumps(payload).encode()
    ).decode()
    signature = hmac.new(
        _get_secret().encode(), payload_b64.encode(), hashlib.sha256
    ).hexdigest()
    return f"{payload_b64}.{signature}"


def verify_token(token: str) -> dict | None:
    """Verify and decode a signed auth token."""
    try:
        payload_b64, signature = token.rsplit('.', 1)
        expected_sig = hmac.new(
            _get_secret().encode(), payload_b64.encode(), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(signature, expected_sig):
            return None
        payload = json.loads(base64.urlsafe_b64decode(payload_b64))
        if payload.get('exp', 0) < time.time():
            return None
        return payload
    except Exception:
        return None


class TokenAuthMiddleware(Middleware):
    """Validates Bearer tokens on protected API routes."""
    name = 'token_auth'
    order = 6

    def __init__(self, skip_paths=None):
        self.skip_paths = skip_paths or []

    def _skips(self, path):
        return any(skip == path or (len(skip) > 1 and skip.endswith('/') and path.startswith(skip))
                   for skip in self.skip_paths)

    def describe_openapi(self, path, method):
        """For the OpenAPI document: the routes it guards need a Bearer token."""
        if self._skips(path):
            return None
        return {'security': ['bearer'], 'responses': {401: 'Missing, invalid or expired token'}}

    def __call__(self, ctx, next_handler):
        if self._skips(ctx.request.path):
            return next_handler(ctx)
        auth_header = ctx.request.get_header('Authorization')
        token = None
        if auth_header and auth_header.startswith('Bearer '):
            token = auth_header[7:]
        elif ctx.request.method == 'GET' and ctx.request.query.get('access_token'):
            # EventSource (SSE) cannot send headers: the token may come in the query.
            token = ctx.request.query.get('access_token')
        if not token:
            ctx.response.status = 401
            return {'error': 'Missing or invalid Authorization header'}
        payload = verify_token(token)
        if not payload:
            ctx.response.status = 401
            return {'error': 'Invalid or expired token'}
        ctx.user = {
            'id': payload['sub'],
            'username': payload['username'],
            'role': payload['role'],
        }
        return next_handler(ctx)


class AdminGuardHook(MiddlewareHook):
    """Restricts /admin/* to admin users."""
    name = 'admin_guard'
    order = 7

    def pre(self, ctx):
        if not ctx.request.path.startswith('/admin'):
            return None
        user = getattr(ctx, 'user', None)
        if not user or user.get('role') != 'admin':
            return HTTPResponse(
                body=json.dumps({'error': 'Admin access required'}),
                status=403,
                headers={'Content-Type': 'application/json'}
            )
        return None

    def post(self, ctx, result):
        return result

    def describe_openapi(self, path, method):
        """For the OpenAPI document: /admin/* answers 403 to non-admins."""
        return {'responses': {403: 'Admin access required'}} if path.startswith('/admin') else None


def _require_admin():
    """Abort 403 if current user is not an admin."""
    user = getattr(ctx, 'user', None)
    if not user or user.get('role') != 'admin':
        abort(403, 'Admin access required')


def _check_basic_auth(username: str, password: str) -> bool:
    db = Database()
    try:
        user = db.fetchone("SELECT password_hash FROM users WHERE username = ? AND is_active = 1",
                           (username,))
        return bool(user) and verify_password(password, user['password_hash'])
    finally:
        db.close()


@auth_app.post('/login', name='login')
@rate_limit(5, per=300)
@validate_request(body={'username': str, 'password': str})
def login():
    """Authenticate and return a signed token + session cookie."""
    data = request.json
    db = Database()
    try:
        user = db.fetchone("SELECT * FROM users WHERE username = ?", (data['username'],))
        if not user or not user['is_active'] or not verify_password(data['password'], user['password_hash']):
            abort(401, 'Invalid credentials')
        token = generate_token(user['id'], user['username'], user['role'])
        # Cookie session for browser logins: a fresh session id at each login
        ctx.session.regenerate()
        ctx.session['username'] = user['username']
        return {
            'token': token,
            'user': {'id': user['id'], 'username': user['username'], 'role': user['role']}
        }
    finally:
        db.close()


@auth_app.post('/register', name='register', status=201)
@rate_limit(10, per=300)
@validate_request(body={'username': str, 'email': str, 'password': str})
def register():
    """Create a member account and return a token for it."""
    data = request.json
    if len(data['password']) < 6:
        abort(422, 'Password must be at least 6 characters')
    db = Database()
    try:
        if db.fetchone("SELECT id FROM users WHERE username = ? OR email = ?",
                       (data['username'], data['email'])):
            abort(409, 'Username or email already exists')
        user_id = db.insert('users', {
            'username': data['username'],
            'email': data['email'],
            'password_hash': hash_password(data['password']),
            'role': 'member',
        })
        return {
            'token': generate_token(user_id, data['username'], 'member'),
            'user': {'id': user_id, 'username': data['username'], 'role': 'member'},
        }
    finally:
        db.close()


@auth_app.get('/me', name='me', security='cookie:session_user')
def me():
    """Get current user from the session (its cookie is signed)."""
    username = ctx.session.get('username')
    if not username:
        abort(401, 'Not authenticated')
    db = Database()
    try:
        user = db.fetchone("SELECT id, username, email, role FROM users WHERE username = ?",
                           (username,))
        if not user:
            abort(401, 'Not authenticated')
        return {'user': user, 'via': 'signed_cookie'}
    finally:
        db.close()


@auth_app.post('/logout', name='logout')
def logout():
    """End the session (its data and its cookie)."""
    ctx.session.clear()
    return {'logged_out': True}


# HTTP Basic Auth on a specific route
@auth_app.get('/basic-demo', name='basic_demo')
@auth_basic(_check_basic_auth, realm='TaskFlow')
def basic_auth_demo():
    """Protected by HTTP Basic Auth."""
    return {'message': 'Authenticated via HTTP Basic Auth!', 'user': request.auth[0]}
