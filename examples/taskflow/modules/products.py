"""Projects, tasks, comments, file uploads, the dashboard and live task events.

Mounted at ``/api/projects/``. Project writes are admin-only; tasks and comments are
open to any signed-in user.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3

from lcore import (
    Lcore,
    ServerSentEvent,
    abort,
    ctx,
    rate_limit,
    request,
    sse,
    static_file,
    validate_request,
)

from ..config import settings
from .auth import _require_admin
from .live import hub

projects_app = Lcore()
projects_app.config['error.format'] = 'json'  # API errors: {"error": ..., "status": N}

TASK_STATUSES = ('todo', 'in_progress', 'done')
PRIORITIES = ('low', 'medium', 'high')


def _get_db():
    """The request's database connection (the scoped ``db`` dependency)."""
    return ctx.db


def _upload_dir() -> str:
    return str(settings.upload_dir)


# -- projects ---------------------------------------------------------------------------

@projects_app.get('/', name='list_projects')
def list_projects():
    """List projects with their task counts."""
    db = _get_db()
    try:
        projects = db.fetchall(
            """SELECT p.*, u.username as owner_name, COUNT(t.id) as task_count
               FROM projects p JOIN users u ON p.owner_id = u.id
               LEFT JOIN tasks t ON t.project_id = p.id
               GROUP BY p.id ORDER BY p.id"""
        )
        return {'projects': projects, 'total': len(projects)}
    finally:
        db.close()


@projects_app.post('/', name='create_project', status=201)
@rate_limit(20, per=60)
@validate_request(body={'name': str})
def create_project():
    """Create a project (admin only)."""
    _require_admin()
    data = request.json
    db = _get_db()
    try:
        project_id = db.insert('projects', {
            'name': data['name'],
            'description': data.get('description', ''),
            'owner_id': ctx.user['id'],
        })
        ctx.cache.invalidate('dashboard')
        return {'id': project_id, 'name': data['name'], 'created': True}
    finally:
        db.close()


@projects_app.get('/<id:int>', name='get_project')
def get_project(id):
    """Fetch a project with its tasks."""
    db = _get_db()
    try:
        project = db.fetchone("SELECT * FROM projects WHERE id = ?", (id,))
        if not project:
            abort(404, 'Project not found')
        project['tasks'] = db.fetchall(
            """SELECT t.*, u.username as assignee_name FROM tasks t
               LEFT JOIN users u ON t.assignee_id = u.id
               WHERE t.project_id = ? ORDER BY t.id""",
            (id,)
        )
        return project
    finally:
        db.close()


@projects_app.put('/<id:int>', name='update_project')
@rate_limit(50, per=60)
def update_project(id):
    """Update a project's name, description or status (admin only)."""
    _require_admin()
    data = request.json or {}
    db = _get_db()
    try:
        if not db.fetchone("SELECT id FROM projects WHERE id = ?", (id,)):
            abort(404, 'Project not found')
        update_data = {k: v for k, v in data.items() if k in ('name', 'description', 'status')}
        if not update_data:
            abort(400, 'No valid fields to update')
        db.update('projects', id, update_data)
        return {'id': id, 'updated': True}
    finally:
        db.close()


@projects_app.delete('/<id:int>', name='delete_project')
@rate_limit(10, per=60)
def delete_project(id):
    """Delete a project with its tasks and comments (admin only)."""
    _require_admin()
    db = _get_db()
    try:
        if not db.fetchone("SELECT id FROM projects WHERE id = ?", (id,)):
            abort(404, 'Project not found')
        db.execute("DELETE FROM comments WHERE task_id IN "
                   "(SELECT id FROM tasks WHERE project_id = ?)", (id,))
        db.execute("DELETE FROM tasks WHERE project_id = ?", (id,))
        db.delete('projects', id)
        ctx.cache.invalidate('dashboard')
        return {'id': id, 'deleted': True}
    finally:
        db.close()


# -- tasks ------------------------------------------------------------------------------

def _task_or_404(db, project_id, task_id):
    task = db.fetchone(
        """SELECT t.*, u.username as assignee_name FROM tasks t
           LEFT JOIN users u ON t.assignee_id = u.id
           WHERE t.id = ? AND t.project_id = ?""",
        (task_id, project_id)
    )
    if not task:
        abort(404, 'Task not found')
    return task


def _check_task_fields(data):
    if 'status' in data and data['status'] not in TASK_STATUSES:
        abort(422, f"status must be one of {', '.join(TASK_STATUSES)}")
    if 'priority' in data and data['priority'] not in PRIORITIES:
        abort(422, f"priority must be one of {', '.join(PRIORITIES)}")


@projects_app.get('/<project_id:int>/tasks', name='list_tasks')
@validate_request(query={'status': str | None, 'assignee_id': int | None})
def list_tasks(project_id):
    """List a project's tasks, optionally filtered by ?status= and ?assignee_id=."""
    db = _get_db()
    try:
        if not db.fetchone("SELECT id FROM projects WHERE id = ?", (project_id,)):
            abort(404, 'Project not found')
        sql = ("SELECT t.*, u.username as assignee_name FROM tasks t "
               "LEFT JOIN users u ON t.assignee_id = u.id WHERE t.project_id = ?")
        params = [project_id]
        if request.query.get('status'):
            sql += " AND t.status = ?"
            params.append(request.query.get('status'))
        if request.query.get('assignee_id'):
            sql += " AND t.assignee_id = ?"
            params.append(int(request.query.get('assignee_id')))
        tasks = db.fetchall(sql + " ORDER BY t.id", tuple(params))
        return {'tasks': tasks, 'total': len(tasks)}
    finally:
        db.close()


@projects_app.post('/<project_id:int>/tasks', name='create_task', status=201)
@rate_limit(60, per=60)
@validate_request(body={'title': str})
def create_task(project_id):
    """Create a task in a project."""
    data = request.json
    _check_task_fields(data)
    db = _get_db()
    try:
        if not db.fetchone("SELECT id FROM projects WHERE id = ?", (project_id,)):
            abort(404, 'Project not found')
        try:
            task_id = db.insert('tasks', {
                'title': data['title'],
                'description': data.get('description', ''),
                'project_id': project_id,
                'assignee_id': data.get('assignee_id') or None,
                'creator_id': ctx.user['id'],
                'status': data.get('status', 'todo'),
                'priority': data.get('priority', 'medium'),
                'due_date': data.get('due_date') or None,
            })
        except sqlite3.IntegrityError:
            abort(422, 'assignee_id is not a user')
        task = _task_or_404(db, project_id, task_id)
        ctx.cache.invalidate('dashboard')
        hub.publish(project_id, 'task_created', task=task, by=ctx.user['username'])
        return task
    finally:
        db.close()


@projects_app.get('/<project_id:int>/tasks/<task_id:int>', name='get_task')
def get_task(project_id, task_id):
    """Fetch a task with its comments."""
    db = _get_db()
    try:
        task = _task_or_404(db, project_id, task_id)
        task['comments'] = db.fetchall(
            """SELECT c.*, u.username FROM comments c JOIN users u ON c.user_id = u.id
               WHERE c.task_id = ? ORDER BY c.id""",
            (task_id,)
        )
        return task
    finally:
        db.close()


@projects_app.put('/<project_id:int>/tasks/<task_id:int>', name='update_task')
@rate_limit(100, per=60)
def update_task(project_id, task_id):
    """Update a task (status, priority, assignee, title, description, due date)."""
    data = request.json or {}
    _check_task_fields(data)
    db = _get_db()
    try:
        _task_or_404(db, project_id, task_id)
        allowed = {'title', 'description', 'status', 'priority', 'assignee_id', 'due_date'}
        update_data = {k: v for k, v in data.items() if k in allowed}
        if not update_data:
            abort(400, 'No valid fields to update')
        fields = sorted(update_data)
        try:
            db.update('tasks', task_id, update_data)
        except sqlite3.IntegrityError:
            abort(422, 'assignee_id is not a user')
        task = _task_or_404(db, project_id, task_id)
        ctx.cache.invalidate('dashboard')
        hub.publish(project_id, 'task_updated', task=task, fields=fields,
                    by=ctx.user['username'])
        return task
    finally:
        db.close()


@projects_app.delete('/<project_id:int>/tasks/<task_id:int>', name='delete_task')
@rate_limit(30, per=60)
def delete_task(project_id, task_id):
    """Delete a task and its comments (admin only)."""
    _require_admin()
    db = _get_db()
    try:
        _task_or_404(db, project_id, task_id)
        db.execute("DELETE FROM comments WHERE task_id = ?", (task_id,))
        db.delete('tasks', task_id)
        ctx.cache.invalidate('dashboard')
        hub.publish(project_id, 'task_deleted', task={'id': task_id}, by=ctx.user['username'])
        return {'id': task_id, 'deleted': True}
    finally:
        db.close()


@projects_app.post('/<project_id:int>/tasks/<task_id:int>/comments', name='add_comment', status=201)
@rate_limit(60, per=60)
@validate_request(body={'body': str})
def add_comment(project_id, task_id):
    """Add a comment to a task."""
    data = request.json
    if not data['body'].strip():
        abort(422, 'Comment body must not be empty')
    db = _get_db()
    try:
        _task_or_404(db, project_id, task_id)
        comment_id = db.insert('comments', {
            'task_id': task_id,
            'user_id': ctx.user['id'],
            'body': data['body'],
        })
        comment = db.fetchone(
            "SELECT c.*, u.username FROM comments c JOIN users u ON c.user_id = u.id "
            "WHERE c.id = ?", (comment_id,)
        )
        hub.publish(project_id, 'comment_added', task={'id': task_id}, comment=comment,
                    by=ctx.user['username'])
        return comment
    finally:
        db.close()


# -- attachments ------------------------------------------------------------------------

@projects_app.post('/<project_id:int>/tasks/<task_id:int>/attachment', name='upload_attachment')
@rate_limit(10, per=60)
def upload_attachment(project_id, task_id):
    """Upload a file attachment to a task."""
    db = _get_db()
    try:
        if not db.fetchone("SELECT id FROM tasks WHERE id = ? AND project_id = ?",
                           (task_id, project_id)):
            abort(404, 'Task not found')
        upload = request.files.get('file')
        if not upload:
            abort(400, 'No file provided (field name: "file")')
        upload_dir = _upload_dir()
        os.makedirs(upload_dir, exist_ok=True)
        safe_name = f"task_{task_id}_{upload.filename}"
        upload.save(os.path.join(upload_dir, safe_name), overwrite=True)
        db.update('tasks', task_id, {'attachment': safe_name})
        hub.publish(project_id, 'attachment_uploaded', task={'id': task_id},
                    filename=safe_name, by=ctx.user['username'])
        return {
            'task_id': task_id,
            'filename': safe_name,
            'content_type': upload.content_type,
            'uploaded': True,
        }
    finally:
        db.close()


@projects_app.get('/attachments/<filename:path>', name='serve_attachment')
def serve_attachment(filename):
    """Serve uploaded task attachments. Demonstrates static_file()."""
    return static_file(filename, root=_upload_dir(),
                       headers={'Cache-Control': 'max-age=3600'})


# -- dashboard and activity -------------------------------------------------------------

@projects_app.get('/dashboard/overview', name='dashboard_overview')
async def dashboard_overview():
    """Project dashboard with aggregated stats."""
    db = _get_db()
    try:
        async def get_project_stats():
            await asyncio.sleep(0.01)
            return db.fetchall(
                """SELECT p.id, p.name, p.status,
                          COUNT(t.id) as task_count,
                          SUM(CASE WHEN t.status = 'done' THEN 1 ELSE 0 END) as done_count
                   FROM projects p LEFT JOIN tasks t ON p.id = t.project_id
                   GROUP BY p.id"""
            )

        async def get_overdue_tasks():
            await asyncio.sleep(0.01)
            return db.fetchall(
                """SELECT t.id, t.title, t.due_date, p.name as project_name
                   FROM tasks t JOIN projects p ON t.project_id = p.id
                   WHERE t.due_date < date('now') AND t.status != 'done'"""
            )

        projects, overdue = await asyncio.gather(
            get_project_stats(),
            get_overdue_tasks()
        )
        total_tasks = db.count('tasks')
        total_users = db.count('users')
        return {
            'projects': projects,
            'overdue_tasks': overdue,
            'totals': {
                'projects': len(projects),
                'tasks': total_tasks,
                'users': total_users,
                'overdue': len(overdue),
            }
        }
    finally:
        db.close()


@projects_app.get('/activity', name='activity')
@validate_request(query={'limit': int | None})
def activity():
    """Recent activity: tasks created or changed and comments, newest first."""
    limit = min(int(request.query.get('limit', '20')), 100)
    db = _get_db()
    try:
        items = db.fetchall(
            """SELECT * FROM (
                 SELECT 'task' as kind, t.id as task_id, t.project_id, t.title as text,
                        t.status, u.username, COALESCE(t.updated_at, t.created_at) as at
                 FROM tasks t JOIN users u ON t.creator_id = u.id
                 UNION ALL
                 SELECT 'comment', c.task_id, t.project_id, c.body, NULL, u.username,
                        c.created_at
                 FROM comments c JOIN users u ON c.user_id = u.id
                 JOIN tasks t ON c.task_id = t.id
               ) ORDER BY at DESC LIMIT ?""",
            (limit,)
        )
        return {'activity': items, 'count': len(items)}
    finally:
        db.close()


# -- live updates (Server-Sent Events) --------------------------------------------------

@projects_app.get('/<project_id:int>/events', name='project_events')
def project_events(project_id):
    """Stream the project's task events as Server-Sent Events (``text/event-stream``)."""
    db = _get_db()
    try:
        if not db.fetchone("SELECT id FROM projects WHERE id = ?", (project_id,)):
            abort(404, 'Project not found')
    finally:
        db.close()

    async def events():
        async for message in hub.subscribe(project_id):
            if message == '':  # subscribed: tell the client (a comment, ignored by EventSource)
                yield ServerSentEvent(
                    comment=f"watching project {project_id} ({hub.backend}, pid {os.getpid()})")
            else:
                yield ServerSentEvent(message, event='task')

    return sse(events(), heartbeat=float(settings.sse_heartbeat), retry=2000)
