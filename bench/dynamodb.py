"""A local DynamoDB (moto) that counts the DynamoDB API calls it receives.

    python -m bench.dynamodb PORT

GET /bench/dynamodb-calls answers the count so far as JSON; the bench reads it
before and after a load run to get "DynamoDB requests per home-page view".
"""

from __future__ import annotations

import json
import sys
import threading

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


class CountingApp:
    def __init__(self, app) -> None:
        self.app = app
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == "/bench/dynamodb-calls":
            body = json.dumps({"calls": self.calls}).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        # Every DynamoDB API call carries X-Amz-Target: DynamoDB_20120810.<Operation>.
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
            with self.lock:
                self.calls += 1
        return self.app(environ, start_response)


def main() -> None:
    port = int(sys.argv[1])
    app = CountingApp(DomainDispatcherApplication(create_backend_app))
    run_simple("127.0.0.1", port, app, threaded=True)


if __name__ == "__main__":
    main()
