"""API key service: everything but the Chalice wiring in ``app.py``."""
