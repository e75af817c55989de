"""The API's contract, apart from its transport: request bodies and response views declared once
(``schemas``), path and query parameters and headers (``params``), and the OpenAPI document built
from them (``openapi``). The services parse their input with it; ``routes`` serves it over HTTP."""
