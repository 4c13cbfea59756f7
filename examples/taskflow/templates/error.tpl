<!DOCTYPE html>
<html>
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Error {{status_code}}</title>
  <link rel="stylesheet" href="/static/style.css">
  <link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
</head>
<body class="page">
  <div class="card error-card">
    <h1>{{status_code}}</h1>
    <h2>{{status_text}}</h2>
    <p>{{message}}</p>
    <p><a href="/">Back to Home</a></p>
  </div>
</body>
</html>
