/* Live updates page: show a project's task events as the server pushes them (SSE). */
'use strict';

let source = null;

function watch(projectId) {
  const token = localStorage.getItem('tf_token');
  const stateEl = document.getElementById('state');
  if (source) source.close();
  if (!token) {
    stateEl.textContent = 'sign in on /frontend first';
    return;
  }
  source = new EventSource('/api/projects/' + projectId + '/events?access_token=' +
    encodeURIComponent(token));
  source.onopen = () => { stateEl.textContent = 'connected: watching project ' + projectId; };
  source.onerror = () => { stateEl.textContent = 'reconnecting...'; };
  source.addEventListener('task', (msg) => {
    const ev = JSON.parse(msg.data);
    const li = document.createElement('li');
    const what = ev.task && ev.task.title ? ev.task.title : 'task #' + (ev.task ? ev.task.id : '?');
    li.textContent = new Date(ev.at * 1000).toLocaleTimeString() + '  ' + ev.type + '  ' + what +
      (ev.task && ev.task.status ? ' [' + ev.task.status + ']' : '') + '  by ' + ev.by;
    document.getElementById('events').prepend(li);
  });
}

document.addEventListener('DOMContentLoaded', () => {
  const input = document.getElementById('project-id');
  document.getElementById('watch-form').addEventListener('submit', (e) => {
    e.preventDefault();
    watch(+input.value);
  });
  watch(+input.value);
});
