"""The explorer's page end to end in a real headless Chromium (Playwright for Python).

Briefly trained runs (a VAE and a conditional VAE on the embedded MNIST digits, an autoencoder on
the ECG5000 heartbeats) are served by :class:`aekit.explore.ServerThread`; the page is driven as a
student would: sliders, Randomize/Reset, the map (hover, click), neighbours, interpolation, drawing,
the label selector. Every test also checks that the page logged no console error and threw nothing.
Skipped with the reason when Playwright or /usr/bin/chromium is missing (no browser is downloaded).
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed (pip install playwright)")
pytest.importorskip("fastapi", reason="the explorer needs FastAPI (pip install 'aekit[explore]')")
pytest.importorskip("uvicorn", reason="the explorer needs uvicorn (pip install 'aekit[explore]')")
if not CHROMIUM.exists():
    pytest.skip(reason=f"no Chromium at {CHROMIUM} (these tests use the system's browser and never download one)", allow_module_level=True)

import aekit  # noqa: E402
from aekit.explore import ExploreSession, ServerThread  # noqa: E402

expect = sync_api.expect
expect.set_options(timeout=15_000)  # a shared, busy CPU: generous, but a real hang still fails

# pixels of the shown output: an <img>'s gray values or a canvas' PNG, to compare before/after
PIXELS_JS = """
window.__pixels = (sel) => {
  const e = document.querySelector(sel);
  if (!e) return null;
  if (e.tagName === 'CANVAS') return e.toDataURL();
  if (!e.complete || !e.naturalWidth) return null;
  const c = document.createElement('canvas');
  c.width = e.naturalWidth; c.height = e.naturalHeight;
  const ctx = c.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(e, 0, 0);
  const d = ctx.getImageData(0, 0, c.width, c.height).data;
  const out = [];
  for (let i = 0; i < d.length; i += 4) out.push(d[i]);
  return c.width + 'x' + c.height + ':' + out.join(',');
};
"""


# ---- runs, servers, browser ------------------------------------------------------------------------

def _serve(run: Path) -> Iterator[str]:
    with ServerThread(ExploreSession.from_run(run)) as url:
        yield url


@pytest.fixture(scope="module")
def vae_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    run = aekit.train_run("vae", "mnist-sample", out=tmp_path_factory.mktemp("exb") / "vae", hidden=[128], latent_dim=8,
                          epochs=1, progress=False, quiet=True)
    yield from _serve(run)


@pytest.fixture(scope="module")
def cvae_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    run = aekit.train_run("cvae", "mnist-sample", out=tmp_path_factory.mktemp("exb") / "cvae", hidden=[128], latent_dim=8,
                          epochs=1, progress=False, quiet=True)
    yield from _serve(run)


@pytest.fixture(scope="module")
def ecg_url(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[str]:
    run = aekit.train_run("ae", "ecg5000", out=tmp_path_factory.mktemp("exb") / "ecg", hidden=[64], latent_dim=4,
                          epochs=1, progress=False, quiet=True)
    yield from _serve(run)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True)
        yield b
        b.close()


@dataclass
class Explorer:
    """One open page and what went wrong on it (console errors, uncaught exceptions)."""
    page: Any
    problems: list[str] = field(default_factory=list)
    api: list[str] = field(default_factory=list)  # POST paths requested, in order

    def pixels(self, selector: str) -> str | None:
        return self.page.evaluate("s => window.__pixels(s)", selector)

    def wait_pixels_change(self, selector: str, before: str | None) -> str:
        self.page.wait_for_function("([s, b]) => { const p = window.__pixels(s); return p !== null && p !== b; }", arg=[selector, before])
        return self.pixels(selector)

    def state(self, expression: str) -> Any:
        return self.page.evaluate(f"() => {expression}")

    def map_xy(self, i: int) -> tuple[float, float]:
        """Screen position of example i's dot on the map (scrolled into view)."""
        self.page.locator("#map").scroll_into_view_if_needed()
        box = self.page.locator("#map").bounding_box()
        x, y = self.page.evaluate("i => explorer.map.toPx(explorer.state.map.points[i])", i)
        return box["x"] + x, box["y"] + y

    def click_example(self, i: int) -> int:
        """Click example i's dot; returns the example the page picked there (a dot drawn on top of
        i may win) once the page shows it."""
        x, y = self.map_xy(i)
        box = self.page.locator("#map").bounding_box()
        picked = self.page.evaluate("([x, y]) => explorer.map.pick(x, y)", [x - box["x"], y - box["y"]])
        self.page.mouse.click(x, y)
        expect(self.page.locator("#selected")).to_have_attribute("data-index", str(picked))
        return picked

    def slider_z(self) -> list[float]:
        return self.page.evaluate("() => [...document.querySelectorAll('#sliders input')].map(e => Number(e.value))")

    def assert_clean(self) -> None:
        assert self.problems == [], "\n".join(self.problems)
        expect(self.page.locator("#errors")).to_be_empty()


@pytest.fixture
def open_explorer(browser: Any) -> Iterator[Callable[[str], Explorer]]:
    contexts = []

    def open_(url: str) -> Explorer:
        ctx = browser.new_context(viewport={"width": 1440, "height": 900})
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(15_000)
        ex = Explorer(page)
        page.on("console", lambda m: ex.problems.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: ex.problems.append(f"uncaught: {e}"))
        page.on("request", lambda r: ex.api.append(r.url.split("/api/")[-1]) if r.method == "POST" else None)
        page.add_init_script(PIXELS_JS)
        page.goto(url)
        expect(page.locator("body")).to_have_attribute("data-ready", "1")
        expect(page.locator("#decoded-box")).to_have_attribute("data-seq", re.compile(r"\d+"))
        return ex

    yield open_
    for ctx in contexts:
        ctx.close()


def info_of(ex: Explorer) -> dict[str, Any]:
    return ex.state("explorer.state.info")


# ---- the VAE's page (images) ---------------------------------------------------------------------

def test_page_shows_the_run_the_map_and_the_decoded_mean(open_explorer: Callable[[str], Explorer], vae_url: str) -> None:
    ex = open_explorer(vae_url)
    page, info = ex.page, info_of(ex)
    expect(page.locator("#run-name")).to_have_text("vae")
    expect(page.locator("#run-facts")).to_contain_text("latent size 8")
    expect(page.locator("#run-facts")).to_contain_text("image")
    assert page.locator("#sliders input").count() == len(info["sliders"]) == 8
    # sliders start at the codes' mean, ranked (largest KL first), with the rank shown
    ranks = [s["rank"] for s in info["sliders"]]
    assert ranks == sorted(ranks, reverse=True)
    for s, v in zip(info["sliders"], ex.slider_z()):
        assert abs(v - s["mean"]) <= (s["max"] - s["min"]) / 200
    expect(page.locator("#decoded-img")).to_be_visible()
    assert ex.pixels("#decoded-img").startswith("28x28:")  # the model's resolution, scaled up by CSS
    assert float(page.locator("#decode-ms").get_attribute("data-ms")) > 0
    expect(page.locator("#draw-canvas")).to_be_visible()
    expect(page.locator("#mk-drawn")).to_be_visible()
    # the map coloured by label, with a legend of the class names; other colourings have a colour bar
    expect(page.locator("#legend .key")).to_have_count(10)
    expect(page.locator("#legend")).to_contain_text("7")
    before = ex.pixels("#map")
    page.select_option("#colouring", "score")
    expect(page.locator("#legend canvas.colourbar")).to_be_visible()
    expect(page.locator("#legend .range")).to_contain_text("min")
    ex.wait_pixels_change("#map", before)
    page.select_option("#colouring", "error")
    expect(page.locator("#legend .key")).to_have_count(0)
    # hovering a dot shows that example in a tooltip
    page.mouse.move(*ex.map_xy(5))
    expect(page.locator("#tooltip")).to_be_visible()
    expect(page.locator("#tooltip img")).to_have_attribute("src", re.compile(r"api/example/\d+\.png$"))
    page.wait_for_function("() => document.querySelector('#tooltip img').naturalWidth === 28")
    page.mouse.move(5, 5)
    expect(page.locator("#tooltip")).to_be_hidden()
    # a narrower window: two columns, the map redrawn to its new width
    width = page.locator("#map").bounding_box()["width"]
    page.set_viewport_size({"width": 1000, "height": 800})
    page.wait_for_function("w => Math.abs(document.querySelector('#map').getBoundingClientRect().width - w) > 20", arg=width)
    ex.assert_clean()


def test_slider_decodes_live_and_ends_on_the_latest_code(open_explorer: Callable[[str], Explorer], vae_url: str) -> None:
    ex = open_explorer(vae_url)
    page = ex.page
    before = ex.pixels("#decoded-img")
    slider = page.locator("#sliders input").first
    slider.evaluate("e => { e.value = e.max; e.dispatchEvent(new Event('input', {bubbles: true})); }")
    ex.wait_pixels_change("#decoded-img", before)
    # a burst of 40 input events (a fast drag over every slider): few requests, and the image shown
    # at the end is the decode of the final code, never a stale one
    n0 = ex.api.count("decode")
    page.evaluate("""() => {
      const inputs = [...document.querySelectorAll('#sliders input')];
      for (let k = 0; k < 40; k++) {
        const e = inputs[k % inputs.length], f = (k * 0.37) % 1;
        e.value = Number(e.min) + f * (Number(e.max) - Number(e.min));
        e.dispatchEvent(new Event('input', {bubbles: true}));
      }
    }""")
    page.evaluate("""async () => {      // the expected image: the current sliders' code decoded afresh
      const info = explorer.state.info, z = info.mean.slice();
      for (const e of document.querySelectorAll('#sliders input')) z[Number(e.dataset.dim)] = Number(e.value);
      const res = await fetch('api/decode', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({z})});
      const img = new Image();
      img.src = URL.createObjectURL(await res.blob());
      await img.decode();
      document.body.append(Object.assign(img, {id: 'expected-img', hidden: true}));
    }""")
    page.wait_for_function("() => window.__pixels('#decoded-img') === window.__pixels('#expected-img')")
    assert 1 <= ex.api.count("decode") - n0 - 1 <= 10, ex.api  # throttled: one in flight, then the latest
    ms = float(page.locator("#decode-ms").get_attribute("data-ms"))
    assert 0 < ms < 2000
    expect(page.locator("#decode-ms")).to_contain_text("ms")
    ex.assert_clean()


def test_randomize_changes_and_reset_restores(open_explorer: Callable[[str], Explorer], vae_url: str) -> None:
    ex = open_explorer(vae_url)
    page, info = ex.page, info_of(ex)
    start_px, start_z = ex.pixels("#decoded-img"), ex.slider_z()
    page.click("#randomize")
    after = ex.wait_pixels_change("#decoded-img", start_px)
    z = ex.slider_z()
    assert z != start_z
    assert all(s["min"] <= v <= s["max"] for s, v in zip(info["sliders"], z))
    expect(page.locator("#neighbours li")).to_have_count(8)  # nearest to the new code
    assert ex.state("explorer.state.markers.current") is not None
    page.click("#reset")
    page.wait_for_function("(p) => window.__pixels('#decoded-img') === p", arg=start_px)
    assert ex.slider_z() == start_z
    assert ex.state("explorer.state.z") == info["mean"]
    assert after != start_px
    ex.assert_clean()


def test_clicking_the_map_selects_an_example_and_lists_neighbours(open_explorer: Callable[[str], Explorer], vae_url: str) -> None:
    ex = open_explorer(vae_url)
    page = ex.page
    before = ex.pixels("#decoded-img")
    i = ex.click_example(10)
    example = page.evaluate("i => fetch(`api/example/${i}`).then(r => r.json())", i)
    # the example's input is shown, its code is on the sliders (and decoded), its dot is marked
    expect(page.locator("#selected img")).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    expect(page.locator("#selected")).to_contain_text(f"example #{i}")
    ex.wait_pixels_change("#decoded-img", before)
    assert ex.state("explorer.state.z") == example["z"]
    assert ex.state("explorer.state.markers.selected") == example["point"]
    # its 8 nearest neighbours, with thumbnails, labels and distances (nearest first)
    items = page.locator("#neighbours li")
    expect(items).to_have_count(8)
    expect(page.locator("#neighbours-title")).to_contain_text(f"#{i}")
    page.wait_for_function("() => [...document.querySelectorAll('#neighbours img')].every(e => e.naturalWidth === 28)")
    dists = [float(re.search(r"d ([\d.e+-]+)", t).group(1)) for t in items.all_inner_texts()]
    assert dists == sorted(dists) and dists[0] > 0
    # a neighbour is clickable: it becomes the selected example
    nb = json.loads(page.evaluate("i => fetch('api/neighbours', {method: 'POST', headers: {'Content-Type': 'application/json'}, "
                                  "body: JSON.stringify({index: i, k: 8})}).then(r => r.text())", i))
    items.nth(2).locator("button").click()
    expect(page.locator("#selected")).to_have_attribute("data-index", str(nb["neighbours"][2]["index"]))
    ex.assert_clean()


def test_interpolation_strip_between_two_examples(open_explorer: Callable[[str], Explorer], vae_url: str) -> None:
    ex = open_explorer(vae_url)
    page = ex.page
    expect(page.locator("#interp-run")).to_be_disabled()
    a = ex.click_example(3)
    page.click("#set-a")
    b = ex.click_example(40)
    page.click("#set-b")
    expect(page.locator("#interp-a")).to_contain_text(f"#{a}")
    expect(page.locator("#interp-b")).to_contain_text(f"#{b}")
    expect(page.locator("#strip img")).to_have_count(8)  # both ends chosen: interpolated at once
    page.fill("#interp-steps", "5")
    page.dispatch_event("#interp-steps", "change")
    expect(page.locator("#strip img")).to_have_count(5)
    linear = ex.pixels("#strip figure:nth-child(3) img")
    page.select_option("#interp-method", "spherical")
    ex.wait_pixels_change("#strip figure:nth-child(3) img", linear)
    expect(page.locator("#strip img")).to_have_count(5)
    assert len(ex.state("explorer.state.markers.path")) == 5
    # the ends are the examples' own decodes' ends: the path starts and ends at their map points
    path, points = ex.state("explorer.state.markers.path"), ex.state("explorer.state.map.points")
    assert path[0] == pytest.approx(points[a], abs=1e-3) and path[-1] == pytest.approx(points[b], abs=1e-3)
    ex.assert_clean()


def test_drawing_is_encoded_reconstructed_and_placed_on_the_map(open_explorer: Callable[[str], Explorer], vae_url: str) -> None:
    ex = open_explorer(vae_url)
    page = ex.page
    before = ex.pixels("#decoded-img")
    page.locator("#draw-canvas").scroll_into_view_if_needed()
    box = page.locator("#draw-canvas").bounding_box()
    x0, y0, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x0 + 0.5 * w, y0 + 0.15 * h)  # a "1": one vertical stroke
    page.mouse.down()
    page.mouse.move(x0 + 0.52 * w, y0 + 0.5 * h, steps=6)
    page.mouse.move(x0 + 0.55 * w, y0 + 0.85 * h, steps=6)
    page.mouse.up()
    expect(page.locator("#draw-rec")).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    expect(page.locator("#draw-input")).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    page.wait_for_function("() => document.querySelector('#draw-input').naturalWidth === 28")
    centred = ex.pixels("#draw-input")
    assert max(int(v) for v in centred.split(":")[1].split(",")) > 200  # the ink is there, centred at 28×28
    assert ex.state("explorer.state.markers.drawn") is not None
    ex.wait_pixels_change("#decoded-img", before)  # the drawing's code went onto the sliders
    expect(page.locator("#neighbours-title")).to_contain_text("drawing")
    expect(page.locator("#neighbours li")).to_have_count(8)
    page.click("#draw-clear")
    assert ex.state("explorer.state.markers.drawn") is None
    expect(page.locator("#draw-rec")).not_to_have_attribute("src", re.compile("."))
    ex.assert_clean()


def test_api_errors_are_shown_with_their_fix_and_dismissable(open_explorer: Callable[[str], Explorer], vae_url: str) -> None:
    ex = open_explorer(vae_url)
    page = ex.page
    page.route("**/api/decode", lambda route: route.fulfill(status=422, content_type="application/json",
                                                               body=json.dumps({"error": "z is broken", "fix": "send a better z"})))
    page.click("#randomize")
    err = page.locator("#errors .error")
    expect(err).to_have_count(1)
    expect(err).to_contain_text("z is broken")
    expect(err).to_contain_text("send a better z")
    page.click("#randomize")  # the same error again: counted, not stacked
    expect(err).to_have_count(1)
    expect(err.locator(".count")).to_have_text("×2")
    err.locator(".dismiss").click()
    expect(err).to_have_count(0)
    assert [p for p in ex.problems if "422" not in p] == []  # only the browser's own note of the 422s


# ---- a conditional VAE: the label selector ---------------------------------------------------------

def test_cvae_label_selector_changes_the_class_and_keeps_the_style(open_explorer: Callable[[str], Explorer], cvae_url: str) -> None:
    ex = open_explorer(cvae_url)
    page = ex.page
    expect(page.locator("#label-row")).to_be_visible()
    options = page.locator("#label-select option")
    expect(options).to_have_count(11)  # "average" and the 10 digits
    expect(options.first).to_contain_text("average")
    z = ex.state("explorer.state.z")
    shown = ex.pixels("#decoded-img")
    page.select_option("#label-select", "3")
    three = ex.wait_pixels_change("#decoded-img", shown)
    page.select_option("#label-select", "")
    ex.wait_pixels_change("#decoded-img", three)
    assert ex.state("explorer.state.label") is None
    assert ex.state("explorer.state.z") == z  # the same code (style), another label
    # selecting an example puts its own label on the selector
    i = ex.click_example(0)
    label = page.evaluate("i => fetch(`api/example/${i}`).then(r => r.json()).then(e => e.label)", i)
    expect(page.locator("#label-select")).to_have_value(str(label))
    ex.assert_clean()


# ---- a sequence model: series charts, no drawing ----------------------------------------------------

def test_series_run_plots_charts_and_has_no_drawing(open_explorer: Callable[[str], Explorer], ecg_url: str) -> None:
    ex = open_explorer(ecg_url)
    page = ex.page
    expect(page.locator("#run-facts")).to_contain_text("series")
    expect(page.locator("#decoded-chart")).to_be_visible()
    expect(page.locator("#decoded-img")).to_be_hidden()
    expect(page.locator("#draw-panel")).to_be_hidden()
    expect(page.locator("#label-row")).to_be_hidden()
    expect(page.locator("#mk-drawn")).to_be_hidden()
    chart = ex.pixels("#decoded-chart")
    page.locator("#sliders input").first.evaluate("e => { e.value = e.min; e.dispatchEvent(new Event('input', {bubbles: true})); }")
    ex.wait_pixels_change("#decoded-chart", chart)
    page.mouse.move(*ex.map_xy(4))
    expect(page.locator("#tooltip canvas")).to_be_visible()
    page.mouse.move(5, 5)
    a = ex.click_example(1)
    expect(page.locator("#selected canvas")).to_be_visible()
    expect(page.locator("#neighbours li canvas")).to_have_count(8)
    page.click("#set-a")
    ex.click_example(7 if a != 7 else 8)
    page.click("#set-b")
    expect(page.locator("#strip canvas")).to_have_count(8)
    ex.assert_clean()
