"""The explorer's JSON API (``aekit explore``), in-process: every endpoint, every bad input the issue
names (wrong-length, non-finite and absurd codes, malformed and oversized images, unknown labels,
oversized and malformed bodies) answered 4xx with {error, fix} and never a 500; concurrent requests
against the real server; the command.

Runs are briefly trained on the embedded MNIST digits (and ECG5000 for series).
"""
from __future__ import annotations

import base64
import io
import json
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402
from PIL import Image  # noqa: E402

import aekit  # noqa: E402
from aekit.errors import AekitError  # noqa: E402
from aekit.explore import ExploreSession, ServerThread, bind, create_app, is_loopback  # noqa: E402
from aekit.explore import render  # noqa: E402
from conftest import assert_user_error, cli  # noqa: E402

QUIET = dict(progress=False, quiet=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("explore")
    return {
        "vae": aekit.train_run("vae", "mnist-sample", out=root / "vae", hidden=[128], latent_dim=20, epochs=1, limit=3000, **QUIET),
        "cvae": aekit.train_run("cvae", "mnist-sample", out=root / "cvae", hidden=[64], latent_dim=4, epochs=5, **QUIET),
        "ae2": aekit.train_run("ae", "mnist-sample", out=root / "ae2", net="conv", latent_dim=2, epochs=1, limit=2000, **QUIET),
    }


@pytest.fixture(scope="module")
def vae(runs: dict[str, Path]) -> ExploreSession:
    return ExploreSession.from_run(runs["vae"], n_map=300)


@pytest.fixture(scope="module")
def client(vae: ExploreSession) -> TestClient:
    return TestClient(create_app(vae), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def cvae_client(runs: dict[str, Path]) -> TestClient:
    session = ExploreSession.from_run(runs["cvae"], n_map=200)
    c = TestClient(create_app(session), raise_server_exceptions=False)
    c.app_session = session
    return c


def assert_refused(r, *needles: str, status: int = 422) -> None:
    """A 4xx with the API's error body; never a 500."""
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"error", "fix"} and body["error"] and body["fix"], body
    for n in needles:
        assert n.lower() in body["error"].lower(), (n, body)


def png_array(content: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(content)))


def png_url(a: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


# ---- info, map, examples ---------------------------------------------------------------------------

def test_info_ranks_at_most_16_sliders_by_kl(client: TestClient, vae: ExploreSession) -> None:
    info = client.get("/api/info").json()
    assert info["kind"] == "image" and info["input_shape"] == [1, 28, 28] and info["latent_dim"] == 20
    assert info["slider_rank"] == "KL (nats)" and len(info["sliders"]) == 16
    ranks = [s["rank"] for s in info["sliders"]]
    assert ranks == sorted(ranks, reverse=True)
    kl = vae.model.kl_per_dim(vae.model.to_model_space(vae.model.as_input(vae.x)[0]))
    assert {s["dim"] for s in info["sliders"]} == set(np.argsort(-kl)[:16].tolist())  # the 4 lowest-KL dims stay at the mean
    for s in info["sliders"]:
        assert s["min"] < s["mean"] < s["max"]
    assert info["classes"] == [str(i) for i in range(10)] and info["drawable"] and not info["decodes_labels"]


def test_map_is_the_pca_of_the_codes_with_labels_scores_and_errors(client: TestClient, vae: ExploreSession) -> None:
    from sklearn.decomposition import PCA

    m = client.get("/api/map").json()
    pts = np.array(m["points"])
    assert pts.shape == (300, 2) and len(m["labels"]) == len(m["score"]) == len(m["error"]) == 300
    ref = PCA(n_components=2, random_state=0).fit_transform(np.asarray(vae.model.encode(vae.x), np.float64))
    assert np.allclose(np.abs(pts), np.abs(ref), atol=1e-3)
    assert m["score_kind"] == "elbo" and min(m["error"]) >= 0 and m["axes"][0].startswith("PC1")


def test_non_finite_scores_go_out_as_null(vae: ExploreSession) -> None:
    scores = vae.scores.copy()
    try:
        vae.scores[0], vae.scores[1] = np.inf, np.nan
        m = vae.map()
        assert m["score"][:2] == [None, None] and json.dumps(m, allow_nan=False)
    finally:
        vae.scores = scores


def test_two_d_codes_are_the_map_itself(runs: dict[str, Path]) -> None:
    s = ExploreSession.from_run(runs["ae2"], n_map=100)
    assert np.allclose(s.points, s.codes) and s.axes == ["z1", "z2"] and s.rank_kind == "variance"


def test_example_gives_its_code_point_label_and_image(client: TestClient, vae: ExploreSession) -> None:
    e = client.get("/api/example/7").json()
    assert e["label"] == int(vae.y[7]) and np.allclose(e["z"], vae.codes[7], atol=1e-5)
    png = client.get("/api/example/7.png")
    assert png.headers["content-type"] == "image/png"
    assert np.array_equal(png_array(png.content), np.rint(vae.x[7, 0] * 255).astype(np.uint8))
    assert_refused(client.get("/api/example/300"), "not on the map")
    assert_refused(client.get("/api/example/-1"), "not on the map")
    assert_refused(client.get("/api/example/abc"), "index")


# ---- decode ----------------------------------------------------------------------------------------

def test_decode_answers_the_models_decoded_png(client: TestClient, vae: ExploreSession) -> None:
    z = np.linspace(-1, 1, 20).astype(np.float32)
    r = client.post("/api/decode", json={"z": z.tolist()})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    want = np.rint(np.clip(vae.model.decode(z[None])[0, 0], 0, 1) * 255).astype(np.uint8)
    assert np.abs(png_array(r.content).astype(int) - want).max() <= 1
    j = client.post("/api/decode", json={"z": z.tolist(), "format": "json"}).json()
    assert j["png"].startswith("data:image/png;base64,")


@pytest.mark.parametrize("body, needle", [
    ({"z": [0.0] * 19}, "19 values"),
    ({"z": [0.0] * 21}, "21 values"),
    ({"z": ["0"] * 20}, "valid number"),
    ({"z": [True] * 20}, "valid number"),
    ({"z": [[0.0]] * 20}, "valid number"),
    ({"z": [1e9] + [0.0] * 19}, "outside"),
    ({"z": [0.0] * 20, "label": 3}, "without labels"),
    ({"z": [0.0] * 20, "label": -1}, "greater than or equal"),
    ({"z": [0.0] * 20, "label": "3"}, "valid integer"),
    ({"z": [0.0] * 20, "format": "gif"}, "png"),
    ({"z": [0.0] * 20, "path": "/etc/passwd"}, "extra inputs"),
    ({}, "z: field required"),
    ({"z": []}, "at least 1"),
    ([0.0] * 20, "dictionary"),
    ("z", "dictionary"),
])
def test_decode_refuses_bad_bodies(client: TestClient, body, needle: str) -> None:
    assert_refused(client.post("/api/decode", json=body), needle)


@pytest.mark.parametrize("raw, needle", [
    (b'{"z": [NaN' + b', 0' * 19 + b']}', "finite"),
    (b'{"z": [Infinity' + b', 0' * 19 + b']}', "finite"),
    (b'{"z": [1e400' + b', 0' * 19 + b']}', "finite"),
    (b'{"z": [0, 0', "not valid json"),
    (b'', "no json body"),
    (b'\xff\xfe', "not valid json"),
])
def test_decode_refuses_non_finite_and_malformed_json(client: TestClient, raw: bytes, needle: str) -> None:
    assert_refused(client.post("/api/decode", content=raw, headers={"content-type": "application/json"}), needle)


def test_bodies_over_the_limit_are_refused_declared_or_streamed(client: TestClient) -> None:
    big = b'{"z": [' + b"0," * (1_200_000) + b"0]}"
    assert_refused(client.post("/api/decode", content=big, headers={"content-type": "application/json"}), "larger than", status=413)

    def chunks():  # no Content-Length: counted as it streams
        yield b'{"z": ['
        for _ in range(300):
            yield b"0," * 5000
        yield b"0]}"

    assert_refused(client.post("/api/decode", content=chunks(), headers={"content-type": "application/json"}), "larger than", status=413)
    assert_refused(client.post("/api/decode", content=b"{}", headers={"content-length": "abc", "content-type": "application/json"}),
                   status=413)


def test_label_decoding_keeps_the_style_and_checks_the_label(cvae_client: TestClient) -> None:
    info = cvae_client.get("/api/info").json()
    assert info["decodes_labels"] and len(info["classes"]) == 10
    z = [0.3, -0.2, 0.1, 0.0]
    model = cvae_client.app_session.model
    images = {}
    for label in (1, 8):
        images[label] = png_array(cvae_client.post("/api/decode", json={"z": z, "label": label}).content).astype(int)
        want = np.rint(np.clip(model.decode(np.array([z], np.float32), label=label)[0, 0], 0, 1) * 255)
        assert np.abs(images[label] - want).max() <= 1  # p(x | z, y) with this label
    assert np.abs(images[1] - images[8]).max() > 25  # same z, another label: another image (a decoder ignoring y: 0)
    assert cvae_client.post("/api/decode", json={"z": z}).status_code == 200  # no label: the mean over labels
    session = cvae_client.app_session  # the map's codes are each example's posterior under its own label
    assert np.allclose(session.codes[:20], model.encode(session.x[:20], y=session.y[:20]), atol=1e-5)
    x = session.x[0].reshape(-1).tolist()
    assert cvae_client.post("/api/encode", json={"x": x, "label": 4}).json()["label"] == 4
    assert cvae_client.post("/api/encode", json={"x": x}).json()["label"] == int(model.classify(session.x[:1])[0])  # its q(y|x)
    assert_refused(cvae_client.post("/api/decode", json={"z": z, "label": 10}), "not one of the model's classes")


# ---- encode, drawing -------------------------------------------------------------------------------

def test_encode_values_and_images_give_the_models_code(client: TestClient, vae: ExploreSession) -> None:
    x = vae.x[3]
    r = client.post("/api/encode", json={"x": x.reshape(-1).tolist()}).json()
    assert np.allclose(r["z"], vae.model.encode(x[None])[0], atol=1e-5)
    assert r["point"] == pytest.approx(vae.point_of(np.array(r["z"])), abs=1e-4) and len(r["neighbours"]) == 8
    assert r["neighbours"][0]["index"] == 3 and r["neighbours"][0]["distance"] < 1e-3  # itself, on the map
    nested = client.post("/api/encode", json={"x": x.tolist(), "k": 3}).json()  # (1, 28, 28) nested lists
    assert np.allclose(nested["z"], r["z"]) and len(nested["neighbours"]) == 3
    img = np.rint(x[0] * 255).astype(np.uint8)
    via_png = client.post("/api/encode", json={"image": png_url(img), "center": False}).json()
    assert np.allclose(via_png["z"], vae.model.encode((img / 255.0).astype(np.float32)[None, None])[0], atol=1e-4)
    assert via_png["reconstruction"]["png"].startswith("data:image/png;base64,") and via_png["label"] is None


def test_a_drawing_is_centred_by_mass_as_mnist(client: TestClient) -> None:
    canvas = np.zeros((280, 280), np.uint8)
    canvas[20:120, 180:200] = 255  # a stroke in the top right corner
    r = client.post("/api/encode", json={"image": png_url(canvas)})
    assert r.status_code == 200
    seen = png_array(base64.b64decode(r.json()["input"]["png"].split(",", 1)[1])).astype(float)
    ys, xs = np.nonzero(seen > 12)
    assert ys.max() - ys.min() + 1 <= 21 and xs.max() - xs.min() + 1 <= 21  # fitted into the 20×20 box
    cy, cx = (np.indices(seen.shape) * seen).reshape(2, -1).sum(1) / seen.sum()
    assert abs(cy - 13.5) <= 1 and abs(cx - 13.5) <= 1
    assert render.center_by_mass(np.zeros((50, 50)), (28, 28)).sum() == 0  # an empty drawing stays empty


@pytest.mark.parametrize("body, needle", [
    ({"image": "data:image/png;base64,AAAA"}, "could not be read"),
    ({"image": "data:image/png;base64,@@@"}, "not valid base64"),
    ({"image": "data:image/png,plain"}, "not base64-encoded"),
    ({"image": ""}, "base64"),
    ({"image": base64.b64encode(b"GIF89a" + b"\0" * 20).decode()}, "could not be read"),
    ({"x": [0.5] * 10}, "10 values"),
    ({"x": [1e6] * 784}, "outside"),
    ({"x": [0.0] * 784, "image": "data:image/png;base64,AAAA"}, "either x"),
    ({}, "either x"),
    ({"x": [0.0] * 784, "label": 2}, "without labels"),
    ({"x": [0.0] * 784, "k": 0}, "greater than or equal"),
    ({"x": [0.0] * 784, "k": 51}, "less than or equal"),
    ({"x": [0.0] * 784, "center": "yes"}, "boolean"),
])
def test_encode_refuses_bad_examples(client: TestClient, body, needle: str) -> None:
    assert_refused(client.post("/api/encode", json=body), needle)


def test_oversized_images_are_refused(client: TestClient) -> None:
    assert_refused(client.post("/api/encode", json={"image": png_url(np.zeros((10, 3000), np.uint8))}), "at most 2048")
    huge = base64.b64encode(b"\x89PNG" + b"\0" * (1 << 20)).decode()
    assert_refused(client.post("/api/encode", json={"image": huge}), "larger than 1024 KiB")


# ---- neighbours, interpolation -----------------------------------------------------------------------

def test_neighbours_are_the_nearest_codes_without_the_example_itself(client: TestClient, vae: ExploreSession) -> None:
    r = client.post("/api/neighbours", json={"index": 5, "k": 6}).json()
    d = np.linalg.norm(vae.codes - vae.codes[5], axis=1)
    d[5] = np.inf
    assert [n["index"] for n in r["neighbours"]] == np.argsort(d, kind="stable")[:6].tolist()
    dist = [n["distance"] for n in r["neighbours"]]
    assert dist == sorted(dist) and r["neighbours"][0]["label"] == int(vae.y[r["neighbours"][0]["index"]])
    by_z = client.post("/api/neighbours", json={"z": vae.codes[5].tolist(), "k": 1}).json()
    assert by_z["neighbours"][0]["index"] == 5 and len(by_z["point"]) == 2
    assert_refused(client.post("/api/neighbours", json={"index": 5, "z": [0.0] * 20}), "either index")
    assert_refused(client.post("/api/neighbours", json={}), "either index")
    assert_refused(client.post("/api/neighbours", json={"index": 300}), "not on the map")
    assert_refused(client.post("/api/neighbours", json={"z": [0.0] * 3}), "3 values")


def test_interpolation_runs_between_the_two_codes(client: TestClient, vae: ExploreSession) -> None:
    r = client.post("/api/interpolate", json={"from": 1, "to": 2, "steps": 5}).json()
    assert len(r["steps"]) == 5 and len(r["points"]) == 5
    for end, i in ((r["steps"][0], 1), (r["steps"][-1], 2)):
        got = png_array(base64.b64decode(end["png"].split(",", 1)[1])).astype(int)
        want = np.rint(np.clip(vae.model.decode(vae.codes[i][None].astype(np.float32))[0, 0], 0, 1) * 255)
        assert np.abs(got - want).max() <= 1
    s = client.post("/api/interpolate", json={"from": 1, "to": 2, "steps": 3, "method": "spherical"}).json()
    assert s["method"] == "spherical" and len(s["steps"]) == 3
    assert_refused(client.post("/api/interpolate", json={"from": 1, "to": 2, "steps": 1}), "greater than or equal")
    assert_refused(client.post("/api/interpolate", json={"from": 1, "to": 2, "steps": 33}), "less than or equal")
    assert_refused(client.post("/api/interpolate", json={"from": 1, "to": 999}), "not on the map")
    assert_refused(client.post("/api/interpolate", json={"from": 1, "to": 2, "method": "cubic"}), "linear")
    assert_refused(client.post("/api/interpolate", json={"from": 1, "to": 2, "label": 0}), "without labels")


# ---- sequences -----------------------------------------------------------------------------------------

def test_series_models_answer_values_not_images(tmp_path: Path) -> None:
    run = aekit.train_run("ae", "ecg5000", out=tmp_path / "ecg", hidden=[32], latent_dim=4, epochs=1, **QUIET)
    c = TestClient(create_app(ExploreSession.from_run(run, n_map=100)), raise_server_exceptions=False)
    info = c.get("/api/info").json()
    assert info["kind"] == "series" and not info["drawable"] and info["input_shape"] == [140, 1]
    assert_refused(c.post("/api/decode", json={"z": [0.0] * 4}), "not images")
    v = c.post("/api/decode", json={"z": [0.0] * 4, "format": "json"}).json()["values"]
    assert np.array(v).shape == (140, 1)
    e = c.get("/api/example/0").json()
    assert np.array(e["values"], dtype=float).shape == (140, 1) and "png" not in e
    assert_refused(c.get("/api/example/0.png"), "not images")
    assert_refused(c.post("/api/encode", json={"image": png_url(np.zeros((28, 28), np.uint8))}), "not images")
    assert c.post("/api/encode", json={"x": e["values"]}).status_code == 200


# ---- robustness: fuzzed bodies, concurrency, no paths ----------------------------------------------------

def test_no_request_body_makes_a_500(client: TestClient) -> None:
    rng = np.random.default_rng(0)
    values = [None, True, -1, 0, 3, 1e308, -1e-308, "", "x", [], [1], [0.0] * 20, {"a": 1}, [[0.0] * 28] * 28, "data:image/png;base64,"]
    fields = ["z", "x", "image", "label", "format", "from", "to", "steps", "method", "index", "k", "center"]
    for path in ("/api/decode", "/api/encode", "/api/interpolate", "/api/neighbours"):
        for _ in range(60):
            keys = rng.choice(fields, size=rng.integers(0, 4), replace=False)
            body = {str(k): values[rng.integers(len(values))] for k in keys}
            r = client.post(path, json=body)
            assert r.status_code < 500, (path, body, r.text)
            if r.status_code >= 400:
                assert set(r.json()) == {"error", "fix"}, (path, body, r.text)


def test_concurrent_decodes_never_mix_results(vae: ExploreSession) -> None:
    import httpx

    codes = np.random.default_rng(1).normal(size=(8, 20)).astype(np.float32)
    want = [vae.decode_png(z.tolist()) for z in codes]
    errors: list[str] = []
    with ServerThread(vae) as url:
        def client_loop(i: int) -> None:
            with httpx.Client(base_url=url, timeout=30) as c:
                for _ in range(25):
                    r = c.post("/api/decode", json={"z": codes[i].tolist()})
                    if r.status_code != 200 or r.content != want[i]:
                        errors.append(f"client {i}: {r.status_code}")

        threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors, errors[:5]


def test_the_api_takes_no_paths_and_the_page_no_cdn(client: TestClient) -> None:
    schema = client.get("/api/openapi.json").json()
    assert {"/api/info", "/api/decode", "/api/encode", "/api/map", "/api/interpolate", "/api/neighbours"} <= set(schema["paths"])
    text = json.dumps(schema).lower()
    assert '"path"' not in text.replace('"in": "path"', "") and "file" not in text
    assert client.get("/docs").status_code == 404  # Swagger UI would load from a CDN
    assert client.get("/static/../session.py").status_code == 404
    assert client.get("/static/%2e%2e/session.py").status_code == 404
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    static = Path(aekit.__file__).parent / "explore" / "static"
    for f in static.iterdir():
        body = f.read_text()
        assert "http://" not in body and "https://" not in body and "cdn" not in body.lower(), f.name


# ---- serving and the command ---------------------------------------------------------------------------

def test_bind_sets_up_tcp_nodelay_and_refuses_a_taken_port() -> None:
    sock = bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP  # asyncio sets TCP_NODELAY on its connections (else +40 ms per response)
        with pytest.raises(AekitError, match="in use"):
            bind("127.0.0.1", sock.getsockname()[1])
    finally:
        sock.close()
    with pytest.raises(AekitError, match="65535"):
        bind("127.0.0.1", 70000)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")


def test_explore_command_serves_and_warns_when_binding_wider(runs: dict[str, Path], capsys, caplog, monkeypatch) -> None:
    import uvicorn

    served: list[str] = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: served.append(sockets[0].getsockname()))
    rc, out, err = cli(capsys, "explore", runs["vae"], "--port", "0", "-n", "50")
    assert rc == 0 and "20-D codes; map of 50 examples of mnist-sample (test)" in out
    assert "aekit explore: vae at http://127.0.0.1:" in out and served and "warning" not in caplog.text.lower()
    rc, out, err = cli(capsys, "explore", runs["vae"], "--host", "0.0.0.0", "--port", "0", "-n", "50")
    assert rc == 0 and "anyone who can reach this port" in caplog.text


def test_explore_command_refuses_bad_input(runs: dict[str, Path], tmp_path: Path, capsys) -> None:
    rc, out, err = cli(capsys, "explore", tmp_path / "nothing")
    assert_user_error(rc, err, "not a run folder")
    rc, out, err = cli(capsys, "explore", runs["vae"], "-n", "1")
    assert_user_error(rc, err, "-n must be at least 2")
    rc, out, err = cli(capsys, "explore", runs["vae"], "--port", "99999")
    assert_user_error(rc, err, "65535")
