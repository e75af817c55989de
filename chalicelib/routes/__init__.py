"""Blueprints: each route reads the request, calls the service and maps its errors."""
