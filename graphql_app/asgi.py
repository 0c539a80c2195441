"""The ASGI entry point for uvicorn: `uvicorn graphql_app.asgi:app` (settings from the env)."""

from .app import create_app

app = create_app()
