<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>TaskFlow - Live updates</title>
  <link rel="stylesheet" href="/static/style.css">
  <link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
  <script src="/static/live.js" defer></script>
</head>
<body class="page">
<div class="container">
  <h1>Live updates</h1>
  <p class="subtitle">Task changes in a project, pushed by the server as they happen, over
    Server-Sent Events or a WebSocket (fan-out backend: <b id="backend">{{backend}}</b>).
    Under a WSGI server the WebSocket lives on the side-by-side server
    (<code>python -m lcore_ws examples.taskflow.app:app --port 8081</code>).</p>
  <form id="watch-form" class="row">
    <label>Project <input id="project-id" type="number" min="1" value="{{project_id}}"></label>
    <label>Transport <select id="transport">
      <option value="sse">Server-Sent Events</option>
      <option value="ws">WebSocket</option>
    </select></label>
    <button class="btn" type="submit">Watch</button>
    <span id="state" class="muted">not connected</span>
  </form>
  <p class="muted">Sign in on <a href="/frontend">the TaskFlow app</a> first: this page uses the same token.</p>
  <ul id="events" class="events"></ul>
</div>
</body>
</html>
