"""moto in server mode, serialized: the embedded backend of the local run and of the tests.

moto 5.2.5's DynamoDB backend has no locking: ``transact_write_items`` deep-copies each table it
touches as a rollback snapshot while other request threads mutate it (seen as ``RuntimeError:
dictionary changed size during iteration`` -> HTTP 500), and a cancelled transaction restores
that snapshot, silently undoing writes other threads made meanwhile. DynamoDB applies each
request and transaction atomically; handling one request at a time inside moto gives that model
back while clients still race over real HTTP with real threads.
"""

from __future__ import annotations

import logging
import threading
from typing import Any


class PortBusy(RuntimeError):
    """moto could not listen on the port it was given."""


def serialized_moto_server(port: int, host: str = "127.0.0.1") -> Any:
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log drowns the output

    class SerializedMotoServer(ThreadedMotoServer):
        failure: OSError | None = None

        def _server_entry(self) -> None:
            dispatcher = DomainDispatcherApplication(create_backend_app)
            lock = threading.Lock()

            def app(environ: Any, start_response: Any) -> Any:
                with lock:
                    return list(dispatcher(environ, start_response))

            try:
                self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
            except OSError as error:  # a busy port: say so, rather than leave start() waiting forever
                self.failure = error
                self._server_ready_event.set()
                return
            self._server_ready_event.set()
            self._server.serve_forever()

        def start(self) -> None:
            self.failure = None
            super().start()
            if self.failure is not None:
                raise PortBusy(f"moto cannot listen on {self._ip_address}:{self._port}: {self.failure}")

    return SerializedMotoServer(ip_address=host, port=port, verbose=False)
