# modules/users.py, as the getting-started guide lays a multi-module service out
from lcore import Lcore, request

users_app = Lcore()

USERS = {1: {'name': 'Alice'}, 2: {'name': 'Bob'}}


@users_app.route('/')
def list_users():
    return {'users': [USERS[k]['name'] for k in sorted(USERS)]}


@users_app.route('/<id:int>')
def get_user(id):
    if id not in USERS:
        from lcore import abort
        abort(404, 'User not found')
    return {'id': id, 'name': USERS[id]['name']}


@users_app.hook('before_request')
def auth_check():
    request.environ['users.checked'] = 'yes'
