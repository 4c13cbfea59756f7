"""TaskFlow's sub-applications, plugins and custom middleware."""
