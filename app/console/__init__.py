"""The operators' console: static pages in ``static/`` (plain ES modules and CSS, no build
step), served by ``app.routers.console`` with the headers of ``headers``."""
