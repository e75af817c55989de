"""API key service: the Chalice app. Routes live in blueprints under chalicelib/routes."""

import os

from chalice import Chalice

from chalicelib.routes import (
    auth,
    common,
    console,
    docs,
    events,
    gateway,
    keys,
    leaks,
    lifecycle,
    platform,
    roles,
    rotation,
    sweeper,
)
from chalicelib.routes.plans import bp as plans_bp

app = Chalice(app_name="apikeys")
# Tracebacks in answers only on a developer's machine, never in a deployed stage.
app.debug = os.environ.get("APIKEYS_DEBUG") == "1"
# A 4xx about one field of the request answers that field as "Field" beside "Code" and "Message".
app.register_middleware(common.field_answers, "http")

app.register_blueprint(auth.bp)
app.register_blueprint(platform.bp)
app.register_blueprint(keys.bp)
app.register_blueprint(docs.bp)
app.register_blueprint(console.bp)
app.register_blueprint(gateway.bp)
app.register_blueprint(rotation.bp)
app.register_blueprint(roles.bp)
app.register_blueprint(events.bp)
app.register_blueprint(leaks.bp)
app.register_blueprint(sweeper.bp)
app.register_blueprint(lifecycle.bp)
app.register_blueprint(plans_bp)
