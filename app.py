"""API key service: the Chalice app. Routes live in blueprints under chalicelib/routes."""

import os

from chalice import Chalice

from chalicelib.routes import auth, keys, platform

app = Chalice(app_name="apikeys")
# Tracebacks in answers only on a developer's machine, never in a deployed stage.
app.debug = os.environ.get("APIKEYS_DEBUG") == "1"

app.register_blueprint(auth.bp)
app.register_blueprint(platform.bp)
app.register_blueprint(keys.bp)
