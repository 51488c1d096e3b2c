"""The web console: server-rendered pages (Jinja2) made live with htmx, served by the same
process as the API. Pages call the same domain functions as the API; nothing here talks to a
store directly."""
