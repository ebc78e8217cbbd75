"""The explorer's web app: a FastAPI application over one :class:`ExploreSession`.

    app = create_app(session)        # serve with uvicorn (aekit.explore.serve), or test with
                                     # fastapi.testclient.TestClient(app)

The page (``/``) and its assets (``/static/…``) are files of this package: nothing comes from a CDN.
The JSON API lives under ``/api`` and is described by its OpenAPI schema at ``/api/openapi.json``
(docs/EXPLORER.md has it with examples). Every request is validated: bodies are size-limited
(:data:`MAX_BODY`), fields are strict (no extra keys, no strings for numbers, finite numbers only),
and the session checks values (code length and range, labels, indices); a bad request gets a 4xx
with ``{"error": …, "fix": …}``, never a 500. No endpoint reads a path from the request.
"""
# no `from __future__ import annotations`: FastAPI reads the endpoints' annotations at run time

from importlib import resources
from typing import Any

from ..errors import AekitError
from .session import MAX_BODY, ExploreSession


__all__ = ["create_app", "MAX_BODY"]


def _missing(e: ImportError) -> AekitError:
    return AekitError(f"the explorer needs FastAPI and uvicorn ({e.name} is not installed)", "pip install 'aekit[explore]'")


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes, declared (Content-Length) or streamed,
    is answered 413 before the app sees it. Bodies are small, so the request's is read here first
    and replayed to the app."""

    def __init__(self, app: Any, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            return await _reject(send, self.limit)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                return await _reject(send, self.limit)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _reject(send: Any, limit: int) -> None:
    import json

    body = json.dumps({"error": f"the request body is larger than {limit // 1024} KiB", "fix": "send less"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def validation_message(errors: list[dict]) -> str:
    """pydantic's errors in one line: one entry per field and problem (list items grouped), body
    errors (malformed JSON, not an object) in words."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for err in errors:
        loc = list(err.get("loc", ()))
        if err.get("type") == "json_invalid":
            return "the body is not valid JSON" + (f" (at character {loc[-1]})" if len(loc) > 1 else "")
        if err.get("type") == "missing" and loc == ["body"]:
            return "the request has no JSON body"
        if loc and loc[0] in ("body", "path", "query", "header"):
            loc = loc[1:]
        field = str(loc[0]) if loc else "body"
        items = [str(p) for p in loc[1:] if isinstance(p, int)]
        grouped.setdefault((field, str(err.get("msg", "invalid"))), []).extend(items[:1])
    parts = []
    for (field, msg), items in list(grouped.items())[:5]:
        where = f"{field} (items {', '.join(items[:3])}{', …' if len(items) > 3 else ''})" if items else field
        parts.append(f"{where}: {msg}")
    return "; ".join(parts) or "invalid request"


def create_app(session: ExploreSession, max_body: int = MAX_BODY) -> Any:
    """The FastAPI app serving ``session``: the page, its assets and the JSON API."""
    try:
        from fastapi import FastAPI, Request
        from fastapi.exceptions import RequestValidationError
        from fastapi.responses import FileResponse, JSONResponse, Response
        from fastapi.staticfiles import StaticFiles

        from .schema import DecodeRequest, EncodeRequest, InterpolateRequest, NeighboursRequest
    except ImportError as e:  # pragma: no cover - the extra is installed in the test environment
        raise _missing(e) from None

    app = FastAPI(title="aekit explorer", version="1", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json",
                  description="The latent space of one trained aekit run: decode codes, encode examples, the map of "
                              "test codes, interpolations and nearest neighbours. Errors: 4xx with {error, fix}.")
    app.add_middleware(BodyLimit, limit=max_body)
    static = resources.files("aekit.explore") / "static"

    @app.exception_handler(AekitError)
    async def aekit_error(request: Request, e: AekitError) -> JSONResponse:
        return JSONResponse({"error": e.message, "fix": e.hint}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": validation_message(e.errors()), "fix": "see /api/openapi.json for the request's fields"},
                            status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, e: Exception) -> JSONResponse:  # a bug: say so, never a traceback page
        return JSONResponse({"error": f"internal error ({type(e).__name__})", "fix": "report it with the request that caused it"},
                            status_code=500)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(str(static / "index.html"), media_type="text/html")

    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    @app.get("/api/info", summary="the model: shapes, classes, sliders, limits")
    def info() -> dict[str, Any]:
        return session.info()

    @app.get("/api/map", summary="the 2-D map of the examples' codes, with labels, anomaly scores and reconstruction errors")
    def map_() -> dict[str, Any]:
        return session.map()

    @app.get("/api/example/{index}.png", summary="one example of the map as PNG (image models)",
             response_class=Response, responses={200: {"content": {"image/png": {}}}})
    def example_png(index: int) -> Response:
        return Response(session.example_png(index), media_type="image/png", headers={"Cache-Control": "max-age=3600"})

    @app.get("/api/example/{index}", summary="one example of the map: its code z, map point, label, and the example (image as data URL, series values or text)")
    def example(index: int) -> dict[str, Any]:
        return session.example(index)

    @app.post("/api/decode", summary="decode a code: a PNG (image models) or JSON",
              response_class=Response, responses={200: {"content": {"image/png": {}, "application/json": {}}}})
    def decode(req: DecodeRequest) -> Response:
        if req.format == "png":
            return Response(session.decode_png(req.z, req.label), media_type="image/png")
        return JSONResponse(session.decode_json(req.z, req.label))

    @app.post("/api/encode", summary="encode an example or a drawing: code, map point, reconstruction, neighbours")
    def encode(req: EncodeRequest) -> dict[str, Any]:
        return session.encode(req.x, req.image, req.label, req.center, req.k)

    @app.post("/api/interpolate", summary="decoded steps between two examples' codes (linear or spherical)")
    def interpolate(req: InterpolateRequest) -> dict[str, Any]:
        return session.interpolate(req.from_, req.to, req.steps, req.method, req.label)

    @app.post("/api/neighbours", summary="the nearest examples in code space (Euclidean) to an example or a code")
    def neighbours(req: NeighboursRequest) -> dict[str, Any]:
        return session.neighbours_of(req.index, req.z, req.k)

    return app
