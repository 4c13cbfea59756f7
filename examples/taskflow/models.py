"""SQLite database layer: schema, seed data and the ``Database`` wrapper."""

from __future__ import annotations

import sqlite3
import time

from lcore import hash_password

DB_PATH = './taskflow.db'  # replaced by app.py with the configured path

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT UNIQUE NOT NULL,
    email TEXT UNIQUE NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'member',
    avatar TEXT,
    is_active INTEGER NOT NULL DEFAULT 1,
    created_at REAL NOT NULL,
    updated_at REAL
);
CREATE TABLE IF NOT EXISTS projects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    description TEXT DEFAULT '',
    owner_id INTEGER NOT NULL REFERENCES users(id),
    status TEXT NOT NULL DEFAULT 'active',
    created_at REAL NOT NULL,
    updated_at REAL
);
CREATE TABLE IF NOT EXISTS tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    description TEXT DEFAULT '',
    project_id INTEGER NOT NULL REFERENCES projects(id),
    assignee_id INTEGER REFERENCES users(id),
    creator_id INTEGER NOT NULL REFERENCES users(id),
    status TEXT NOT NULL DEFAULT 'todo',
    priority TEXT NOT NULL DEFAULT 'medium',
    due_date TEXT,
    attachment TEXT,
    created_at REAL NOT NULL,
    updated_at REAL
);
CREATE TABLE IF NOT EXISTS comments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id INTEGER NOT NULL REFERENCES tasks(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    body TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER REFERENCES users(id),
    type TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT,
    status TEXT NOT NULL DEFAULT 'pending',
    error TEXT,
    created_at REAL NOT NULL
);
"""


class Database:
    """SQLite wrapper used as a scoped dependency (one per request)."""

    def __init__(self, db_path: str | None = None):
        self.db_path = db_path or DB_PATH
        # One connection per request, but the request may hop threads (async handlers,
        # the end-of-request close), so sqlite's same-thread check is turned off.
        self.conn = sqlite3.connect(self.db_path, timeout=10, check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA foreign_keys=ON")

    def execute(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def fetchone(self, sql: str, params: tuple = ()) -> dict | None:
        row = self.conn.execute(sql, params).fetchone()
        return dict(row) if row else None

    def fetchall(self, sql: str, params: tuple = ()) -> list[dict]:
        rows = self.conn.execute(sql, params).fetchall()
        return [dict(r) for r in rows]

    def insert(self, table: str, data: dict) -> int:
        data['created_at'] = time.time()
        cols = ', '.join(data.keys())
        placeholders = ', '.join('?' for _ in data)
        cur = self.conn.execute(
            f"INSERT INTO {table} ({cols}) VALUES ({placeholders})",
            tuple(data.values())
        )
        self.conn.commit()
        return cur.lastrowid

    def update(self, table: str, row_id: int, data: dict) -> bool:
        data['updated_at'] = time.time()
        sets = ', '.join(f"{k} = ?" for k in data)
        self.conn.execute(
            f"UPDATE {table} SET {sets} WHERE id = ?",
            (*data.values(), row_id)
        )
        self.conn.commit()
        return True

    def delete(self, table: str, row_id: int) -> bool:
        cur = self.conn.execute(f"DELETE FROM {table} WHERE id = ?", (row_id,))
        self.conn.commit()
        return cur.rowcount > 0

    def count(self, table: str) -> int:
        row = self.conn.execute(f"SELECT COUNT(*) as cnt FROM {table}").fetchone()
        return row['cnt']

    def close(self):
        self.conn.close()


def init_db(db_path: str | None = None):
    """Initialize the database schema and seed demo data."""
    path = db_path or DB_PATH
    conn = sqlite3.connect(path, timeout=10)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(SCHEMA)
    # Several workers may start at once: one of them seeds, under a write lock.
    conn.execute("BEGIN IMMEDIATE")
    count = conn.execute("SELECT COUNT(*) FROM users").fetchone()[0]
    if count == 0:
        now = time.time()
        users = [
            ('admin', 'admin@taskflow.local', 'admin123', 'admin'),  # Admin user
            ('alice', 'alice@taskflow.local', 'alice123', 'member'),  # Regular users
            ('bob', 'bob@taskflow.local', 'bob123', 'member'),
        ]
        for username, email, password, role in users:
            conn.execute(
                "INSERT INTO users (username, email, password_hash, role, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (username, email, hash_password(password), role, now)
            )
        # Demo projects and tasks
        conn.execute(
            "INSERT INTO projects (name, description, owner_id, created_at) VALUES (?, ?, ?, ?)",
            ('Website Redesign', 'New landing page and docs site', 1, now)
        )
        conn.execute(
            "INSERT INTO projects (name, description, owner_id, created_at) VALUES (?, ?, ?, ?)",
            ('Mobile App', 'iOS and Android client for TaskFlow', 1, now)
        )
        tasks = [
            ('Design mockups', 1, 2, 'done', 'high', '2024-01-15'),
            ('Implement header', 1, 3, 'in_progress', 'medium', None),
            ('Set up CI', 2, 2, 'todo', 'low', '2024-02-01'),
        ]
        for title, project_id, assignee_id, status, priority, due in tasks:
            conn.execute(
                "INSERT INTO tasks (title, project_id, assignee_id, creator_id, status, "
                "priority, due_date, created_at) VALUES (?, ?, ?, 1, ?, ?, ?, ?)",
                (title, project_id, assignee_id, status, priority, due, now)
            )
    conn.commit()
    conn.close()
