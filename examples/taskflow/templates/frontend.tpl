<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>TaskFlow</title>
  <link rel="stylesheet" href="/static/style.css">
  <link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
  <script src="/static/frontend.js" defer></script>
</head>
<body>
<!-- Login -->
<section id="login-view" class="login-wrap">
  <form id="login-form" class="card login-card">
    <h1>TaskFlow</h1>
    <p class="muted">Project management on Lcore v{{version}}</p>
    <label>Username <input id="login-username" name="username" autocomplete="username" required></label>
    <label>Password <input id="login-password" name="password" type="password" autocomplete="current-password" required></label>
    <button id="login-submit" type="submit" class="btn">Sign in</button>
    <p id="login-error" class="error" hidden></p>
    <div class="demo">
      <span class="muted">Demo accounts:</span>
      % for username, password, role in [('admin', 'admin123', 'admin'), ('alice', 'alice123', 'member'), ('bob', 'bob123', 'member')]:
      <button type="button" class="chip" data-action="fill-login" data-username="{{username}}" data-password="{{password}}">{{username}} <small>{{role}}</small></button>
      % end
    </div>
  </form>
</section>

<!-- Application shell -->
<section id="app-view" class="shell" hidden>
  <nav class="sidebar">
    <input type="checkbox" id="nav-toggle" class="nav-toggle">
    <div class="sidebar-head">
      <div class="brand">TaskFlow</div>
      <label for="nav-toggle" class="nav-toggle-btn" aria-controls="nav-links">&#9776; Menu</label>
    </div>
    <div class="nav-links" id="nav-links">
    <a href="#/dashboard" data-nav="dashboard">Dashboard</a>
    <a href="#/projects" data-nav="projects">Projects</a>
    <a href="#/team" data-nav="team">Team</a>
    <a href="#/notifications" data-nav="notifications">Notifications</a>
    <a href="#/profile" data-nav="profile">My Profile</a>
    <div class="sidebar-foot">
      <span id="whoami"></span>
      <button type="button" class="btn ghost small" data-action="logout">Log out</button>
    </div>
    </div>
  </nav>
  <main>
    <header class="topbar">
      <h2 id="page-title">Dashboard</h2>
      <div id="topbar-actions"></div>
    </header>
    <div id="live-status" class="live-status" hidden></div>
    <div id="content"></div>
  </main>
</section>

<!-- Modal used by the create forms -->
<div id="modal" class="modal" hidden>
  <form id="modal-form" class="card modal-card">
    <h3 id="modal-title"></h3>
    <div id="modal-body"></div>
    <p id="modal-error" class="error" hidden></p>
    <div class="modal-actions">
      <button type="button" class="btn ghost" data-action="close-modal">Cancel</button>
      <button type="submit" id="modal-submit" class="btn">Save</button>
    </div>
  </form>
</div>
</body>
</html>
