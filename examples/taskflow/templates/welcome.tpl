<!DOCTYPE html>
<html>
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{{title}}</title>
  <link rel="stylesheet" href="/static/style.css">
  <link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
</head>
<body class="page">
<div class="container">
  <h1>{{title}}</h1>
  <p class="subtitle">{{description}}</p>
  <p><a class="btn" href="/frontend">Open the TaskFlow app</a> <a class="btn ghost" href="/live">Live updates</a> <a class="btn ghost" href="/docs">API docs</a></p>

  <div class="features">
  % for feature in features:
    <div class="feature">
      <h3>{{feature['name']}}</h3>
      <p>{{feature['desc']}}</p>
    </div>
  % end
  </div>

  <div class="endpoints">
  % for group in endpoint_groups:
    <div class="endpoint-group">
      <div class="group-title">{{group['name']}}</div>
      % for ep in group['endpoints']:
      <div class="endpoint">
        <span class="method {{ep['method'].lower()}}">{{ep['method']}}</span>
        <span class="path">{{ep['path']}}</span>
        <span class="desc">{{ep['desc']}}</span>
      </div>
      % end
    </div>
  % end
  </div>

  <div class="footer">
    Lcore Framework v{{version}} &middot; Running on {{host}}:{{port}}
  </div>
</div>
</body>
</html>
