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
import socket
import threading
from typing import Any


class PortBusy(RuntimeError):
    """moto could not listen on the port it was given."""

    def __init__(self, host: str, port: int, error: OSError) -> None:
        super().__init__(f"moto cannot listen on {host}:{port}: {error.strerror or error}")
        self.host, self.port = host, port


def serialized_moto_server(port: int, host: str = "127.0.0.1") -> Any:
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log drowns the output

    class SerializedMotoServer(ThreadedMotoServer):
        listener: socket.socket | None = None

        def _server_entry(self) -> None:
            dispatcher = DomainDispatcherApplication(create_backend_app)
            lock = threading.Lock()

            def app(environ: Any, start_response: Any) -> Any:
                with lock:
                    return list(dispatcher(environ, start_response))

            # The socket bound in start(): werkzeug binding its own would, on a busy port, print
            # two lines and sys.exit(1) in this thread, leaving start() to wait forever.
            assert self.listener is not None
            try:
                self._server = make_server(
                    self._ip_address, self._port, app, True, request_handler=MotoRequestHandler,
                    fd=self.listener.fileno(),
                )  # fmt: skip
            finally:
                self.listener.close()  # werkzeug serves a duplicate of it
                self._server_ready_event.set()  # start() never waits for a server that failed
            self._server.serve_forever()

        def start(self) -> None:
            try:
                self.listener = socket.create_server((self._ip_address, self._port))
            except OSError as error:
                raise PortBusy(self._ip_address, self._port, error) from error
            super().start()
            if self._server is None:
                raise RuntimeError(f"moto could not serve on {self._ip_address}:{self._port}")

        def stop(self) -> None:
            if self._thread is not None:  # never started (a busy port): nothing to stop
                super().stop()

    return SerializedMotoServer(ip_address=host, port=port, verbose=False)
