"""WSGI entry point for gunicorn: ``gunicorn wsgi:app`` (``vnsearch serve`` does this)."""

from webapp import create_app

app = create_app()
