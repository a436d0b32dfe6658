"""The REST API: a falcon WSGI app over the `TaskMaster` facade, served by waitress.

app.py         create_app(core, config): wiring, routes, cache subscription, watcher
resources/     tasks.py, tags.py, meta.py (health, metrics, OpenAPI): thin responders
state.py       what resources share; cached reads (ETag, 304) and writes (If-Match)
inputs.py      the JSON body, query parameters and ids, checked with named fields
bodies.py      what each write route's body takes, derived from its command's parameters
problems.py    RFC 9457 problem documents; domain errors mapped to statuses once
middleware.py  metrics, rate limit, bearer token, body size and type
ratelimit.py   the `limits` moving window behind one small class
sse.py         /api/v1/events: bus events as server-sent events
metrics.py     Prometheus metrics (prometheus_client, one registry per app)
openapi.py     the OpenAPI 3.1 document: the routes and what they answer
openapi_schemas.py  its schemas: tasks from the field table, bodies from bodies.py, answers
openapi_parts.py    its shared parameters, headers, problem responses, operation shapes
server.py      ApiServer and serve(): waitress, signals, clean shutdown
"""

from taskmaster.api.app import TaskMasterApp, create_app
from taskmaster.api.server import ApiServer, serve

__all__ = ["ApiServer", "TaskMasterApp", "create_app", "serve"]
