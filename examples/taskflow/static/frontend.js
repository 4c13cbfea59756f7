/* TaskFlow single-page frontend: vanilla JavaScript over the TaskFlow API.
 * No inline handlers (the Content-Security-Policy allows scripts from 'self' only):
 * every button carries data-action and one delegated listener dispatches it. */
'use strict';

const state = {
  token: localStorage.getItem('tf_token'),
  user: JSON.parse(localStorage.getItem('tf_user') || 'null'),
  users: [],
  events: null,      // the EventSource of the project being viewed
  projectId: null,
  modalSubmit: null,
};

const $ = (sel) => document.querySelector(sel);
const esc = (v) => String(v == null ? '' : v).replace(/[&<>"']/g,
  (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]));
const fmtDate = (ts) => ts ? new Date(ts * 1000).toLocaleString() : '';
const STATUSES = [['todo', 'To Do'], ['in_progress', 'In Progress'], ['done', 'Done']];

function isAdmin() {
  return state.user && state.user.role === 'admin';
}

async function api(method, path, body, isForm) {
  const opts = {method, headers: {}};
  if (state.token) opts.headers['Authorization'] = 'Bearer ' + state.token;
  if (body !== undefined) {
    if (isForm) {
      opts.body = body;
    } else {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
  }
  const res = await fetch(path, opts);
  let data = null;
  const text = await res.text();
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = {error: text}; }
  if (res.status === 401 && !path.startsWith('/auth/')) { logout(); }
  if (!res.ok) {
    const msg = (data && (data.message || data.error || data.detail)) || res.statusText;
    throw new Error(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }
  return data;
}

/* -- login ----------------------------------------------------------------------- */
async function login(username, password) {
  const data = await api('POST', '/auth/login', {username, password});
  state.token = data.token;
  state.user = data.user;
  localStorage.setItem('tf_token', data.token);
  localStorage.setItem('tf_user', JSON.stringify(data.user));
  showApp();
}

function logout() {
  state.token = null;
  state.user = null;
  localStorage.removeItem('tf_token');
  localStorage.removeItem('tf_user');
  stopLive();
  fetch('/auth/logout', {method: 'POST'}).catch(() => {});
  $('#app-view').hidden = true;
  $('#login-view').hidden = false;
}

function showApp() {
  $('#login-view').hidden = true;
  $('#app-view').hidden = false;
  $('#whoami').textContent = state.user.username + ' (' + state.user.role + ')';
  if (!location.hash || location.hash === '#/') location.hash = '#/dashboard';
  else route();
}

/* -- routing --------------------------------------------------------------------- */
function setPage(title, actions) {
  $('#page-title').textContent = title;
  $('#topbar-actions').innerHTML = actions || '';
  document.querySelectorAll('[data-nav]').forEach((a) =>
    a.classList.toggle('active', location.hash.startsWith('#/' + a.dataset.nav)));
}

async function route() {
  if (!state.token) return;
  const parts = location.hash.replace(/^#\//, '').split('/');
  if (parts[0] !== 'projects' || !parts[1]) stopLive();
  $('#content').innerHTML = '<p class="muted">Loading...</p>';
  try {
    if (parts[0] === 'projects' && parts[1] && parts[2] === 'tasks' && parts[3]) {
      await renderTask(+parts[1], +parts[3]);
    } else if (parts[0] === 'projects' && parts[1]) {
      await renderBoard(+parts[1]);
    } else if (parts[0] === 'projects') {
      await renderProjects();
    } else if (parts[0] === 'team') {
      await renderTeam();
    } else if (parts[0] === 'notifications') {
      await renderNotifications();
    } else if (parts[0] === 'profile') {
      await renderProfile();
    } else {
      await renderDashboard();
    }
  } catch (err) {
    $('#content').innerHTML = '<p class="error">' + esc(err.message) + '</p>';
  }
}

/* -- dashboard ------------------------------------------------------------------- */
async function renderDashboard() {
  setPage('Dashboard');
  const [dash, act] = await Promise.all([
    api('GET', '/api/projects/dashboard/overview'),
    api('GET', '/api/projects/activity?limit=10'),
  ]);
  const t = dash.totals;
  let html = '<div class="stats">' +
    stat('Projects', t.projects) + stat('Tasks', t.tasks) + stat('Team', t.users) +
    stat('Overdue', t.overdue) + '</div>';
  html += '<div class="grid2"><div class="card"><h3>Projects</h3><table><tr><th>Project</th>' +
    '<th>Tasks</th><th>Done</th></tr>';
  for (const p of dash.projects) {
    html += '<tr><td><a href="#/projects/' + p.id + '">' + esc(p.name) + '</a></td><td>' +
      p.task_count + '</td><td>' + (p.done_count || 0) + '</td></tr>';
  }
  html += '</table></div><div class="card"><h3>Recent activity</h3><ul class="activity">';
  for (const a of act.activity) {
    html += '<li><b>' + esc(a.username) + '</b> ' + (a.kind === 'comment' ? 'commented: ' : 'task: ') +
      '<a href="#/projects/' + a.project_id + '/tasks/' + a.task_id + '">' + esc(a.text) +
      '</a> <span class="muted">' + fmtDate(a.at) + '</span></li>';
  }
  html += '</ul></div></div>';
  $('#content').innerHTML = html;
}

function stat(label, value) {
  return '<div class="stat card"><div class="stat-value">' + esc(value) +
    '</div><div class="stat-label">' + esc(label) + '</div></div>';
}

/* -- projects -------------------------------------------------------------------- */
async function renderProjects() {
  setPage('Projects', isAdmin() ?
    '<button class="btn" data-action="new-project">+ New Project</button>' : '');
  const data = await api('GET', '/api/projects/');
  let html = '<div class="cards">';
  for (const p of data.projects) {
    html += '<div class="card project"><h3><a href="#/projects/' + p.id + '">' + esc(p.name) +
      '</a></h3><p>' + esc(p.description) + '</p><p class="muted">' + p.task_count +
      ' tasks &middot; owner ' + esc(p.owner_name) + ' &middot; ' + esc(p.status) + '</p>';
    if (isAdmin()) {
      html += '<button class="btn danger small" data-action="delete-project" data-id="' + p.id +
        '">Delete</button>';
    }
    html += '</div>';
  }
  $('#content').innerHTML = html + '</div>';
}

async function loadUsers() {
  if (!state.users.length) state.users = (await api('GET', '/api/users/?limit=100')).users;
  return state.users;
}

async function renderBoard(projectId) {
  const [project] = await Promise.all([api('GET', '/api/projects/' + projectId), loadUsers()]);
  setPage(project.name, '<button class="btn" id="new-task-btn" data-action="new-task" data-project="' +
    projectId + '">+ New Task</button>');
  let html = '<p class="muted">' + esc(project.description) + '</p><div class="board">';
  for (const [status, label] of STATUSES) {
    const tasks = project.tasks.filter((t) => t.status === status);
    html += '<div class="column" data-status="' + status + '"><h3>' + label +
      ' <span class="count">' + tasks.length + '</span></h3>';
    for (const t of tasks) html += taskCard(projectId, t);
    html += '</div>';
  }
  $('#content').innerHTML = html + '</div>';
  startLive(projectId);
}

function taskCard(projectId, t) {
  const idx = STATUSES.findIndex((s) => s[0] === t.status);
  let moves = '';
  if (idx > 0) {
    moves += '<button class="btn ghost small" data-action="move-task" data-project="' + projectId +
      '" data-id="' + t.id + '" data-status="' + STATUSES[idx - 1][0] + '">&larr;</button>';
  }
  if (idx < STATUSES.length - 1) {
    moves += '<button class="btn ghost small" data-action="move-task" data-project="' + projectId +
      '" data-id="' + t.id + '" data-status="' + STATUSES[idx + 1][0] + '">&rarr;</button>';
  }
  return '<div class="task card priority-' + esc(t.priority) + '" data-task-id="' + t.id + '">' +
    '<a class="task-title" href="#/projects/' + projectId + '/tasks/' + t.id + '">' + esc(t.title) +
    '</a><div class="muted">' + esc(t.priority) + (t.assignee_name ? ' &middot; ' + esc(t.assignee_name) : '') +
    (t.due_date ? ' &middot; due ' + esc(t.due_date) : '') + (t.attachment ? ' &middot; &#128206;' : '') +
    '</div><div class="moves">' + moves + '</div></div>';
}

/* -- live updates (Server-Sent Events) ------------------------------------------- */
function startLive(projectId) {
  if (state.events && state.projectId === projectId) return;
  stopLive();
  state.projectId = projectId;
  const es = new EventSource('/api/projects/' + projectId + '/events?access_token=' +
    encodeURIComponent(state.token));
  state.events = es;
  const badge = $('#live-status');
  badge.hidden = false;
  badge.textContent = 'connecting to live updates...';
  es.onopen = () => { badge.textContent = 'live: watching this project'; badge.className = 'live-status on'; };
  es.onerror = () => { badge.textContent = 'live: reconnecting...'; badge.className = 'live-status'; };
  es.addEventListener('task', (msg) => {
    const ev = JSON.parse(msg.data);
    badge.textContent = 'live: ' + ev.type.replace('_', ' ') + ' by ' + ev.by;
    const here = location.hash.replace(/^#\//, '').split('/');
    if (here[0] === 'projects' && +here[1] === projectId && !here[2]) renderBoard(projectId);
    else if (here[2] === 'tasks' && ev.task && +here[3] === ev.task.id) renderTask(projectId, ev.task.id);
  });
}

function stopLive() {
  if (state.events) state.events.close();
  state.events = null;
  state.projectId = null;
  const badge = $('#live-status');
  if (badge) badge.hidden = true;
}

/* -- task detail ----------------------------------------------------------------- */
async function renderTask(projectId, taskId) {
  const t = await api('GET', '/api/projects/' + projectId + '/tasks/' + taskId);
  setPage(t.title, isAdmin() ? '<button class="btn danger" data-action="delete-task" data-project="' +
    projectId + '" data-id="' + taskId + '">Delete</button>' : '');
  startLive(projectId);
  let html = '<p><a href="#/projects/' + projectId + '">&larr; Back to board</a></p><div class="card">' +
    '<p>' + esc(t.description || 'No description.') + '</p><p class="muted">Priority ' + esc(t.priority) +
    ' &middot; assignee ' + esc(t.assignee_name || 'nobody') + (t.due_date ? ' &middot; due ' + esc(t.due_date) : '') +
    '</p><div class="row">';
  for (const [status, label] of STATUSES) {
    html += '<button class="btn ' + (t.status === status ? '' : 'ghost') + ' small" data-action="move-task" ' +
      'data-project="' + projectId + '" data-id="' + taskId + '" data-status="' + status + '">' + label + '</button>';
  }
  html += '</div></div><div class="card"><h3>Attachment</h3>';
  if (t.attachment) {
    html += '<p><a href="#" data-action="download" data-file="' + esc(t.attachment) + '">' + esc(t.attachment) + '</a></p>';
  }
  html += '<form id="upload-form" class="row" data-project="' + projectId + '" data-id="' + taskId + '">' +
    '<input type="file" name="file" required><button class="btn small">Upload</button></form></div>';
  html += '<div class="card"><h3>Comments</h3><ul class="comments">';
  for (const c of t.comments) {
    html += '<li><b>' + esc(c.username) + '</b> <span class="muted">' + fmtDate(c.created_at) +
      '</span><p>' + esc(c.body) + '</p></li>';
  }
  html += '</ul><form id="comment-form" data-project="' + projectId + '" data-id="' + taskId + '">' +
    '<textarea name="body" required placeholder="Write a comment"></textarea>' +
    '<button class="btn small">Comment</button></form></div>';
  $('#content').innerHTML = html;
}

async function download(filename) {
  const res = await fetch('/api/projects/attachments/' + encodeURIComponent(filename),
    {headers: {'Authorization': 'Bearer ' + state.token}});
  const blob = await res.blob();
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = filename;
  a.click();
}

/* -- team, notifications, profile ------------------------------------------------- */
async function renderTeam() {
  setPage('Team', isAdmin() ? '<button class="btn" data-action="new-member">+ Add Member</button>' : '');
  const data = await api('GET', '/api/users/?limit=100');
  state.users = data.users;
  let html = '<table class="card"><tr><th>User</th><th>Email</th><th>Role</th><th></th></tr>';
  for (const u of data.users) {
    html += '<tr><td>' + esc(u.username) + '</td><td>' + esc(u.email) + '</td><td><span class="badge ' +
      esc(u.role) + '">' + esc(u.role) + '</span></td><td>';
    if (isAdmin() && u.id !== state.user.id) {
      html += '<button class="btn danger small" data-action="delete-member" data-id="' + u.id + '">Remove</button>';
    }
    html += '</td></tr>';
  }
  $('#content').innerHTML = html + '</table>';
}

async function renderNotifications() {
  setPage('Notifications', '<button class="btn" data-action="compose">Compose email</button>');
  const data = await api('GET', '/api/notifications/history');
  let html = '<table class="card"><tr><th>To</th><th>Subject</th><th>Status</th><th>When</th></tr>';
  for (const n of data.notifications) {
    html += '<tr><td>' + esc(n.recipient) + '</td><td>' + esc(n.subject) + '</td><td>' + esc(n.status) +
      '</td><td>' + fmtDate(n.created_at) + '</td></tr>';
  }
  $('#content').innerHTML = html + '</table>';
}

async function renderProfile() {
  setPage('My Profile');
  const u = await api('GET', '/api/users/' + state.user.id);
  $('#content').innerHTML = '<form id="profile-form" class="card narrow">' +
    '<label>Username <input name="username" value="' + esc(u.username) + '" required></label>' +
    '<label>Email <input name="email" type="email" value="' + esc(u.email) + '" required></label>' +
    '<button class="btn">Save</button> <span id="profile-msg" class="muted"></span></form>' +
    '<div class="card narrow"><h3>Account</h3><p>Role: <b>' + esc(u.role) + '</b></p><p>Member since ' +
    fmtDate(u.created_at) + '</p><p class="muted">' + (isAdmin() ?
      'Admins can create and delete projects, manage the team and delete tasks.' :
      'Members can work on tasks and comments and edit their own profile.') + '</p></div>';
}

/* -- modals ---------------------------------------------------------------------- */
function openModal(title, body, onSubmit) {
  $('#modal-title').textContent = title;
  $('#modal-body').innerHTML = body;
  $('#modal-error').hidden = true;
  state.modalSubmit = onSubmit;
  $('#modal').hidden = false;
  const first = $('#modal-body input, #modal-body textarea');
  if (first) first.focus();
}

function closeModal() {
  $('#modal').hidden = true;
  state.modalSubmit = null;
}

async function openNewTaskModal(projectId) {
  const users = await loadUsers();
  const options = '<option value="">Unassigned</option>' +
    users.map((u) => '<option value="' + u.id + '">' + esc(u.username) + '</option>').join('');
  openModal('New task',
    '<label>Title <input name="title" id="task-title" required></label>' +
    '<label>Description <textarea name="description"></textarea></label>' +
    '<label>Assignee <select name="assignee_id">' + options + '</select></label>' +
    '<label>Priority <select name="priority"><option>low</option><option selected>medium</option>' +
    '<option>high</option></select></label>' +
    '<label>Due date <input name="due_date" type="date"></label>',
    async (f) => {
      await api('POST', '/api/projects/' + projectId + '/tasks', {
        title: f.title, description: f.description, priority: f.priority,
        assignee_id: f.assignee_id ? +f.assignee_id : null, due_date: f.due_date || null,
      });
      await renderBoard(projectId);
    });
}

const actions = {
  'fill-login': (el) => {
    $('#login-username').value = el.dataset.username;
    $('#login-password').value = el.dataset.password;
  },
  'logout': () => logout(),
  'close-modal': () => closeModal(),
  'new-project': () => openModal('New project',
    '<label>Name <input name="name" required></label><label>Description <textarea name="description"></textarea></label>',
    async (f) => { await api('POST', '/api/projects/', f); await renderProjects(); }),
  'delete-project': async (el) => {
    if (!confirm('Delete this project and all its tasks?')) return;
    await api('DELETE', '/api/projects/' + el.dataset.id);
    await renderProjects();
  },
  'new-task': (el) => openNewTaskModal(+el.dataset.project),
  'move-task': async (el) => {
    await api('PUT', '/api/projects/' + el.dataset.project + '/tasks/' + el.dataset.id,
      {status: el.dataset.status});
    await route();
  },
  'delete-task': async (el) => {
    if (!confirm('Delete this task?')) return;
    await api('DELETE', '/api/projects/' + el.dataset.project + '/tasks/' + el.dataset.id);
    location.hash = '#/projects/' + el.dataset.project;
  },
  'download': (el) => download(el.dataset.file),
  'new-member': () => openModal('Add member',
    '<label>Username <input name="username" required></label><label>Email <input name="email" type="email" required></label>' +
    '<label>Password <input name="password" type="password" required></label>' +
    '<label>Role <select name="role"><option>member</option><option>admin</option></select></label>',
    async (f) => { await api('POST', '/api/users/', f); state.users = []; await renderTeam(); }),
  'delete-member': async (el) => {
    if (!confirm('Remove this member?')) return;
    await api('DELETE', '/api/users/' + el.dataset.id);
    state.users = [];
    await renderTeam();
  },
  'compose': () => openModal('Compose email',
    '<label>To <input name="to" type="email" required></label><label>Subject <input name="subject" required></label>' +
    '<label>Body <textarea name="body" required></textarea></label>',
    async (f) => { await api('POST', '/api/notifications/email', f); await renderNotifications(); }),
};

document.addEventListener('click', async (e) => {
  const el = e.target.closest('[data-action]');
  if (!el || !actions[el.dataset.action]) return;
  e.preventDefault();
  try {
    await actions[el.dataset.action](el);
  } catch (err) {
    alert(err.message);
  }
});

document.addEventListener('submit', async (e) => {
  const form = e.target;
  e.preventDefault();
  try {
    if (form.id === 'login-form') {
      $('#login-error').hidden = true;
      await login($('#login-username').value, $('#login-password').value);
    } else if (form.id === 'modal-form' && state.modalSubmit) {
      const fields = Object.fromEntries(new FormData(form).entries());
      await state.modalSubmit(fields);
      closeModal();
    } else if (form.id === 'comment-form') {
      await api('POST', '/api/projects/' + form.dataset.project + '/tasks/' + form.dataset.id + '/comments',
        {body: form.body.value});
      await renderTask(+form.dataset.project, +form.dataset.id);
    } else if (form.id === 'upload-form') {
      await api('POST', '/api/projects/' + form.dataset.project + '/tasks/' + form.dataset.id + '/attachment',
        new FormData(form), true);
      await renderTask(+form.dataset.project, +form.dataset.id);
    } else if (form.id === 'profile-form') {
      const f = Object.fromEntries(new FormData(form).entries());
      await api('PUT', '/api/users/' + state.user.id, f);
      state.user.username = f.username;
      localStorage.setItem('tf_user', JSON.stringify(state.user));
      $('#whoami').textContent = state.user.username + ' (' + state.user.role + ')';
      $('#profile-msg').textContent = 'Saved.';
    }
  } catch (err) {
    const box = form.id === 'login-form' ? $('#login-error') : $('#modal-error');
    if (form.id === 'login-form' || form.id === 'modal-form') {
      box.textContent = err.message;
      box.hidden = false;
    } else {
      alert(err.message);
    }
  }
});

window.addEventListener('hashchange', route);
// On a narrow screen the sidebar is a menu (a checkbox styled as a button): a pick closes it.
window.addEventListener('hashchange', () => { $('#nav-toggle').checked = false; });
document.addEventListener('DOMContentLoaded', () => {
  if (state.token && state.user) showApp();
});
