"""SMTP email (simulated when no SMTP user is configured) and async batch notifications.

Mounted at ``/api/notifications/``.
"""

from __future__ import annotations

import asyncio
import smtplib
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

from lcore import Lcore, abort, ctx, rate_limit, request, validate_request

from ..config import settings
from ..models import Database

notifications_app = Lcore()
notifications_app.config['error.format'] = 'json'  # API errors: {"error": ..., "status": N}


class EmailService:
    """SMTP email sender. Simulates when credentials aren't configured."""

    def __init__(self):
        self.host = settings.smtp_host
        self.port = int(settings.smtp_port)
        self.user = settings.smtp_user
        self.password = settings.smtp_password
        self.from_addr = settings.smtp_from
        self.use_tls = bool(settings.smtp_use_tls)

    def send(self, to: str, subject: str, body: str, html: bool = False,
             user_id: int | None = None) -> dict:
        msg = MIMEMultipart('alternative')
        msg['From'] = self.from_addr
        msg['To'] = to
        msg['Subject'] = subject
        msg.attach(MIMEText(body, 'html' if html else 'plain'))

        db = Database()
        try:
            if not self.user or self.user == 'your-email@gmail.com':
                # Simulate - no real SMTP configured
                db.insert('notifications', {
                    'user_id': user_id, 'type': 'email', 'recipient': to,
                    'subject': subject, 'body': body, 'status': 'simulated',
                })
                return {
                    'status': 'simulated', 'to': to, 'subject': subject,
                    'note': 'SMTP not configured - email simulated.',
                }
            # Real SMTP
            server = smtplib.SMTP(self.host, self.port, timeout=10)
            if self.use_tls:
                server.starttls()
            server.login(self.user, self.password)
            server.sendmail(self.from_addr, [to], msg.as_string())
            server.quit()
            db.insert('notifications', {
                'user_id': user_id, 'type': 'email', 'recipient': to,
                'subject': subject, 'body': body, 'status': 'sent',
            })
            return {'status': 'sent', 'to': to, 'subject': subject}
        except Exception as e:
            db.insert('notifications', {
                'user_id': user_id, 'type': 'email', 'recipient': to,
                'subject': subject, 'status': 'failed', 'error': str(e),
            })
            return {'status': 'failed', 'to': to, 'error': str(e)}
        finally:
            db.close()


@notifications_app.post('/email', name='send_email')
@rate_limit(10, per=60)
@validate_request(body={'to': str, 'subject': str, 'body': str})
def send_email():
    """Send an email notification via SMTP."""
    data = request.json
    svc = EmailService()
    return svc.send(data['to'], data['subject'], data['body'], data.get('html', False))


@notifications_app.post('/task-assigned/<task_id:int>', name='notify_assignment')
@rate_limit(20, per=60)
def notify_assignment(task_id):
    """Notify a user they've been assigned a task."""
    db = Database()
    try:
        task = db.fetchone(
            """SELECT t.*, u.email as assignee_email, u.username as assignee_name,
                      p.name as project_name
               FROM tasks t
               JOIN users u ON t.assignee_id = u.id
               JOIN projects p ON t.project_id = p.id
               WHERE t.id = ?""",
            (task_id,)
        )
        if not task:
            abort(404, 'Task not found or has no assignee')
        svc = EmailService()
        return svc.send(
            to=task['assignee_email'],
            subject=f"[TaskFlow] You've been assigned: {task['title']}",
            body=(f"<h2>New Task Assignment</h2><p>Hi {task['assignee_name']}, you have been "
                  f"assigned <b>{task['title']}</b> in {task['project_name']}.</p>"),
            html=True,
            user_id=task['assignee_id'],
        )
    finally:
        db.close()


@notifications_app.post('/batch', name='batch_notify')
@rate_limit(5, per=60)
@validate_request(body={'user_ids': list[int], 'subject': str, 'body': str})
async def batch_notify():
    """Email several users at once: the sends run concurrently with asyncio.gather."""
    data = request.json
    db = Database()
    try:
        marks = ', '.join('?' for _ in data['user_ids']) or 'NULL'
        users = db.fetchall(f"SELECT id, email FROM users WHERE id IN ({marks})",
                            tuple(data['user_ids']))
    finally:
        db.close()
    if not users:
        abort(404, 'No such users')
    svc = EmailService()
    results = await asyncio.gather(*[
        asyncio.to_thread(svc.send, u['email'], data['subject'], data['body'], False, u['id'])
        for u in users
    ])
    return {'sent': len(results), 'results': list(results), 'by': ctx.user['username']}


@notifications_app.get('/history', name='notification_history')
@validate_request(query={'limit': int | None})
def history():
    """The notification log, newest first (?limit=, default 50)."""
    limit = min(int(request.query.get('limit', '50')), 500)
    db = ctx.db
    notifications = db.fetchall(
        "SELECT id, user_id, type, recipient, subject, status, error, created_at "
        "FROM notifications ORDER BY id DESC LIMIT ?", (limit,)
    )
    return {'notifications': notifications, 'total': db.count('notifications')}
