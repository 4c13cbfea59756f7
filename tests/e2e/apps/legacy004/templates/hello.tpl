<html>
<body>
<h1>Hello, {{name}}!</h1>
% for item in items:
<p>Item: {{item}}</p>
% end
{{!raw_html}}
</body>
</html>
