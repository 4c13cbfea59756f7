/* Live updates page: show a project's task events as the server pushes them,
 * over Server-Sent Events (EventSource) or a WebSocket. */
'use strict';

let source = null;

function show(ev) {
  const li = document.createElement('li');
  const what = ev.task && ev.task.title ? ev.task.title : 'task #' + (ev.task ? ev.task.id : '?');
  li.textContent = new Date(ev.at * 1000).toLocaleTimeString() + '  ' + ev.type + '  ' + what +
    (ev.task && ev.task.status ? ' [' + ev.task.status + ']' : '') + '  by ' + ev.by;
  document.getElementById('events').prepend(li);
}

function watch(projectId, transport) {
  const token = localStorage.getItem('tf_token');
  const stateEl = document.getElementById('state');
  if (source) source.close();
  source = null;
  if (!token) {
    stateEl.textContent = 'sign in on /frontend first';
    return;
  }
  const query = '?access_token=' + encodeURIComponent(token);
  if (transport === 'ws') {
    const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
    const ws = new WebSocket(scheme + location.host + '/ws/projects/' + projectId + query);
    source = ws;
    ws.onmessage = (msg) => {
      const ev = JSON.parse(msg.data);
      if (ev.type === 'subscribed') stateEl.textContent = 'WebSocket: watching project ' + projectId;
      else show(ev);
    };
    ws.onclose = () => { stateEl.textContent = 'WebSocket closed'; };
    return;
  }
  const es = new EventSource('/api/projects/' + projectId + '/events' + query);
  source = es;
  es.onopen = () => { stateEl.textContent = 'SSE: watching project ' + projectId; };
  es.onerror = () => { stateEl.textContent = 'reconnecting...'; };
  es.addEventListener('task', (msg) => show(JSON.parse(msg.data)));
}

document.addEventListener('DOMContentLoaded', () => {
  const input = document.getElementById('project-id');
  const transport = document.getElementById('transport');
  document.getElementById('watch-form').addEventListener('submit', (e) => {
    e.preventDefault();
    watch(+input.value, transport.value);
  });
  watch(+input.value, transport.value);
});
