/* aekit explorer: the page's behaviour over the JSON API (see /api/openapi.json).
   State lives in S; every request goes through api(), whose errors land in the #errors area. */
"use strict";
(function () {
  const P = window.AekitPlots;
  const $ = (id) => document.getElementById(id);
  const K = 8; // neighbours listed

  const S = {
    info: null, map: null, kind: "image",
    z: [], label: null,          // the code on the sliders (all latent_dim values) and the decoder's label
    selected: null,              // index of the clicked example
    markers: {},                 // map markers: selected, current, drawn, a, b, path, highlight
    a: null, b: null,            // interpolation ends (example indices)
    examples: new Map(),         // index → promise of /api/example/{i}
    times: [],                   // recent decode round-trip times (ms)
    decodes: 0,
  };

  // ---- helpers --------------------------------------------------------------------------------
  function el(tag, attrs = {}, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k in e && k !== "list") e[k] = v;
      else e.setAttribute(k, v);
    }
    for (const kid of kids) if (kid !== null && kid !== undefined) e.append(kid);
    return e;
  }

  const className = (label) => (label === null || label === undefined ? "–"
    : S.info.classes && S.info.classes[label] !== undefined ? S.info.classes[label] : String(label));

  class ApiError extends Error {
    constructor(message, fix) { super(message); this.fix = fix || ""; }
  }

  /** GET (body undefined) or POST JSON; returns JSON (or a Blob with as="blob"); a failure throws
      an ApiError with the server's {error, fix}. */
  async function api(path, body, as = "json") {
    let res;
    try {
      res = await fetch(path, body === undefined ? {} : {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(`cannot reach the explorer's server (${path})`, "is `aekit explore` still running? Restart it and reload the page");
    }
    if (!res.ok) {
      let err = {};
      try { err = await res.json(); } catch (e) { /* not JSON: the status says it */ }
      throw new ApiError(err.error || `${path} answered HTTP ${res.status}`, err.fix);
    }
    return as === "blob" ? res.blob() : res.json();
  }

  /** Show an error in the #errors area (once per distinct message; repeats are counted). */
  function showError(e, where) {
    const msg = (where ? where + ": " : "") + (e && e.message ? e.message : String(e));
    const fix = (e && e.fix) || "";
    const box = $("errors");
    const same = [...box.children].find((c) => c.dataset.key === msg + "|" + fix);
    if (same) {
      same.dataset.count = String(Number(same.dataset.count || 1) + 1);
      same.querySelector(".count").textContent = `×${same.dataset.count}`;
      return;
    }
    const item = el("div", { class: "error", role: "alert" },
      el("strong", {}, msg), fix ? el("span", { class: "fix" }, "Fix: " + fix) : null, el("span", { class: "count" }),
      el("button", { type: "button", class: "dismiss", title: "dismiss", "aria-label": "dismiss", onclick: () => item.remove() }, "×"));
    item.dataset.key = msg + "|" + fix;
    box.append(item);
  }

  /** A task run at most once at a time: a call while it runs marks it to run again once more when
      it ends, so the last run always sees the latest state (no stale result after input stops). */
  function latestOnly(task, where) {
    let busy = false, again = false;
    const run = async () => {
      busy = true;
      again = false;
      try { await task(); } catch (e) { showError(e, where); }
      busy = false;
      if (again) run();
    };
    return () => { if (busy) again = true; else run(); };
  }

  function example(i) {
    if (!S.examples.has(i)) {
      const p = api(`api/example/${i}`);
      p.catch(() => S.examples.delete(i)); // a failure is not cached
      S.examples.set(i, p);
    }
    return S.examples.get(i);
  }

  /** An example as a small element: <img> (images), a series chart, or a text line. */
  function thumb(i, size = 56) {
    if (S.kind === "image") return el("img", { class: "pixelated thumb", src: `api/example/${i}.png`, alt: `example ${i}`, width: size, height: size });
    if (S.kind === "text") {
      const t = el("code", { class: "thumb-text" }, "…");
      example(i).then((ex) => { t.textContent = ex.text; }, (e) => showError(e, `example ${i}`));
      return t;
    }
    const c = el("canvas", { class: "thumb-chart" });
    P.drawSeries(c, [], { width: size * 2, height: size, axes: false });
    example(i).then((ex) => P.drawSeries(c, [{ values: ex.values, colour: "#555", width: 1.2 }],
      { width: size * 2, height: size, range: S.info.value_range, axes: false }), (e) => showError(e, `example ${i}`));
    return c;
  }

  /** Show a presented example ({png} | {values} | {text}) in a fresh element. */
  function presented(p, { size = 84, width = 220, height = 90, reference = null } = {}) {
    if (p.png) return el("img", { class: "pixelated", src: p.png, width: size, height: size, alt: "" });
    if (p.text !== undefined) return el("code", { class: "thumb-text" }, p.text);
    const c = el("canvas", { class: "chart" });
    const lines = reference ? [{ values: reference, colour: "#bbb", width: 1 }] : [];
    lines.push({ values: p.values, colour: "#1f77b4" });
    P.drawSeries(c, lines, { width, height, range: S.info.value_range });
    return c;
  }

  // ---- decoder: sliders, label, live decode -----------------------------------------------------
  function buildSliders() {
    const box = $("sliders");
    box.textContent = "";
    for (const s of S.info.sliders) {
      const step = (s.max - s.min) / 200 || 0.01;
      const value = el("output", { class: "value" });
      const input = el("input", { type: "range", min: s.min, max: s.max, step, value: s.mean, "aria-label": `z${s.dim}` });
      input.dataset.dim = s.dim;
      input.addEventListener("input", () => {
        S.z[s.dim] = Number(input.value);
        value.textContent = P.fmt(S.z[s.dim]);
        input.classList.remove("outside");
        decode();
      });
      input.addEventListener("change", locate); // released: where is this code on the map?
      box.append(el("div", { class: "slider" },
        el("span", { class: "dim", title: `code dimension ${s.dim}` }, `z${s.dim}`),
        el("span", { class: "rank", title: S.info.slider_rank }, P.fmt(s.rank)),
        input, value));
    }
    syncSliders();
  }

  /** Put S.z on the sliders (a value beyond a slider's range: the thumb at the end, marked). */
  function syncSliders() {
    for (const input of $("sliders").querySelectorAll("input")) {
      const v = S.z[Number(input.dataset.dim)];
      input.value = v;
      input.classList.toggle("outside", v < Number(input.min) || v > Number(input.max));
      input.nextElementSibling.textContent = P.fmt(v);
    }
  }

  const labelBody = () => (S.info.decodes_labels ? { label: S.label } : {});

  const decode = latestOnly(async () => {
    const body = { z: S.z.slice(), ...labelBody() };
    const t0 = performance.now();
    if (S.kind === "image") {
      const blob = await api("api/decode", body, "blob");
      const ms = performance.now() - t0;
      const img = $("decoded-img"), old = img.src;
      img.src = URL.createObjectURL(blob);
      await img.decode().catch(() => {});
      if (old.startsWith("blob:")) URL.revokeObjectURL(old);
      decoded(ms);
    } else {
      const out = await api("api/decode", { ...body, format: "json" });
      const ms = performance.now() - t0;
      if (S.kind === "text") $("decoded-text").textContent = out.text;
      else {
        const ref = S.selected === null ? null : (await example(S.selected).catch(() => null));
        const lines = ref && ref.values ? [{ values: ref.values, colour: "#bbb", width: 1.2 }] : [];
        lines.push({ values: out.values, colour: "#1f77b4", width: 2 });
        const w = Math.min(340, $("decoded-box").clientWidth || 320);
        P.drawSeries($("decoded-chart"), lines, { width: w, height: 170, range: S.info.value_range });
      }
      decoded(ms);
    }
  }, "decode");

  function decoded(ms) {
    S.times.push(ms);
    if (S.times.length > 20) S.times.shift();
    const avg = S.times.reduce((a, b) => a + b, 0) / S.times.length;
    const status = $("decode-ms");
    status.textContent = `decode: ${Math.round(ms)} ms (mean of last ${S.times.length}: ${Math.round(avg)} ms)`;
    status.dataset.ms = ms.toFixed(1);
    status.classList.toggle("slow", ms > 100);
    S.decodes += 1;
    $("decoded-box").dataset.seq = String(S.decodes);
  }

  /** Where the sliders' code lands on the map (+), and its nearest examples. */
  const locate = latestOnly(async () => {
    const r = await api("api/neighbours", { z: S.z.slice(), k: K });
    S.markers.current = r.point;
    drawMap();
    showNeighbours(r.neighbours, "nearest to the sliders' code");
  }, "neighbours");

  function randomNormal() {
    let u = 0;
    while (u === 0) u = Math.random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * Math.random());
  }

  function randomize() {
    for (const s of S.info.sliders) {
      const v = s.mean + S.info.sd[s.dim] * randomNormal();
      S.z[s.dim] = Math.min(s.max, Math.max(s.min, v));
    }
    syncSliders(); decode(); locate();
  }

  function reset() {
    S.z = S.info.mean.slice();
    syncSliders(); decode(); locate();
  }

  function buildLabels() {
    if (!S.info.decodes_labels) return;
    const sel = $("label-select");
    sel.append(el("option", { value: "" }, "average (no label)"));
    (S.info.classes || []).forEach((name, i) => sel.append(el("option", { value: String(i) }, name)));
    S.label = S.info.classes && S.info.classes.length ? 0 : null;
    sel.value = S.label === null ? "" : String(S.label);
    sel.addEventListener("change", () => {
      S.label = sel.value === "" ? null : Number(sel.value);
      decode();
      if (S.a !== null && S.b !== null) interpolate();
    });
    $("label-row").hidden = false;
    $("label-help").hidden = false;
  }

  function setLabel(label) {
    if (!S.info.decodes_labels || label === null || label === undefined) return;
    S.label = label;
    $("label-select").value = String(label);
  }

  // ---- the map --------------------------------------------------------------------------------
  const map = new P.ScatterMap($("map"));

  function colourings() {
    const m = S.map, out = [];
    if (m.labels) out.push(["label", "label"]);
    out.push(["score", `anomaly score (${m.score_kind})`], ["error", "reconstruction error (MSE)"]);
    return out;
  }

  function recolour() {
    const how = $("colouring").value, m = S.map, legend = $("legend");
    legend.textContent = "";
    if (how === "label") {
      const names = m.classes || [...new Set(m.labels)].sort((a, b) => a - b).map(String);
      const n = Math.max(names.length, Math.max(...m.labels) + 1);
      map.colours = m.labels.map((y) => P.categorical(y, n));
      map.order = null;
      names.forEach((name, i) => legend.append(el("span", { class: "key" },
        el("i", { style: `background:${P.categorical(i, n)}` }), name)));
    } else {
      const v = m[how], lo = P.quantile(v, 0.02), hi = P.quantile(v, 0.98), span = hi > lo ? hi - lo : 1;
      map.colours = v.map((x) => P.viridis((x - lo) / span));
      map.order = v.map((_, i) => i).sort((a, b) => v[a] - v[b]); // high values drawn on top
      const bar = el("canvas", { class: "colourbar" });
      P.drawColourbar(bar, 140, 10);
      const finite = v.filter(Number.isFinite);
      legend.append(el("span", { class: "scale" }, `≤${P.fmt(lo)}`), bar, el("span", { class: "scale" }, `≥${P.fmt(hi)}`),
        el("span", { class: "range", title: "the colours span the 2nd to 98th percentiles" },
          `min ${P.fmt(Math.min(...finite))}, max ${P.fmt(Math.max(...finite))}` +
          (how === "score" ? " · higher: more unusual to the model" : "")));
    }
    drawMap();
  }

  function drawMap() {
    map.markers = S.markers;
    map.draw();
  }

  function sizeMap() {
    const w = Math.max(260, $("map-wrap").clientWidth);
    map.resize(w, Math.round(Math.min(560, Math.max(240, w * 0.72))));
  }

  function mapXY(ev) {
    const r = $("map").getBoundingClientRect();
    return [ev.clientX - r.left, ev.clientY - r.top];
  }

  let hovered = -1;
  function hover(ev) {
    const i = map.pick(...mapXY(ev));
    const tip = $("tooltip");
    $("map").style.cursor = i >= 0 ? "pointer" : "default";
    if (i < 0) { tip.hidden = true; hovered = -1; return; }
    if (i !== hovered || tip.hidden) {
      hovered = i;
      const m = S.map;
      tip.textContent = "";
      tip.append(thumb(i, 84), el("div", {},
        el("b", {}, `#${i}`), m.labels ? ` label ${className(m.labels[i])}` : "",
        el("br"), `score ${P.fmt(m.score[i])} · error ${P.fmt(m.error[i])}`));
      tip.hidden = false;
    }
    // beside the pointer, kept inside the window
    tip.style.left = Math.max(4, Math.min(window.innerWidth - tip.offsetWidth - 8, ev.clientX + 14)) + "px";
    tip.style.top = Math.max(4, Math.min(window.innerHeight - tip.offsetHeight - 8, ev.clientY + 14)) + "px";
  }

  // ---- selection and neighbours ---------------------------------------------------------------
  let selecting = 0;
  async function select(i) {
    const ticket = ++selecting;
    S.selected = i;
    S.markers.selected = S.map.points[i];
    drawMap();
    try {
      const [ex, nb] = await Promise.all([example(i), api("api/neighbours", { index: i, k: K })]);
      if (ticket !== selecting) return; // a newer click won
      S.z = ex.z.slice();
      setLabel(ex.label);
      S.markers.current = ex.point;
      syncSliders();
      decode();
      drawMap();
      showSelected(ex);
      showNeighbours(nb.neighbours, `nearest to example #${i}`);
    } catch (e) { showError(e, `example ${i}`); }
  }

  function showSelected(ex) {
    const m = S.map, i = ex.index;
    const box = $("selected");
    box.textContent = "";
    box.dataset.index = String(i);
    box.append(el("div", { class: "sel-row" }, presented(ex, { size: 112, width: 240, height: 100 }),
      el("div", { class: "sel-facts" },
        el("b", {}, `example #${i}`), el("br"),
        ex.label !== null ? `label ${className(ex.label)}` : "no label", el("br"),
        `anomaly score ${P.fmt(m.score[i])}`, el("br"), `reconstruction error ${P.fmt(m.error[i])}`, el("br"),
        el("button", { type: "button", id: "set-a", onclick: () => setEnd("a", i) }, "Set as A"), " ",
        el("button", { type: "button", id: "set-b", onclick: () => setEnd("b", i) }, "Set as B"))));
  }

  function showNeighbours(list, title) {
    $("neighbours-title").textContent = `Nearest neighbours (${title})`;
    const ol = $("neighbours");
    ol.textContent = "";
    for (const n of list) {
      ol.append(el("li", {},
        el("button", {
          type: "button", class: "neighbour", title: `select example #${n.index}`,
          onclick: () => select(n.index),
          onmouseenter: () => { S.markers.highlight = S.map.points[n.index]; drawMap(); },
          onmouseleave: () => { S.markers.highlight = null; drawMap(); },
        }, thumb(n.index, 48), el("span", { class: "nb-facts" },
          n.label !== null ? className(n.label) : `#${n.index}`, el("br"), el("small", {}, `d ${P.fmt(n.distance)}`)))));
    }
  }

  // ---- interpolation --------------------------------------------------------------------------
  function setEnd(which, i) {
    S[which] = i;
    S.markers[which] = S.map.points[i];
    const span = $(`interp-${which}`);
    span.textContent = "";
    span.append(thumb(i, 32), ` #${i}`);
    $("interp-run").disabled = S.a === null || S.b === null;
    drawMap();
    if (S.a !== null && S.b !== null) interpolate();
  }

  const interpolate = latestOnly(async () => {
    const input = $("interp-steps");
    const steps = Math.min(S.info.limits.steps, Math.max(2, Math.round(Number(input.value)) || 8));
    input.value = String(steps);
    const r = await api("api/interpolate", {
      from: S.a, to: S.b, steps, method: $("interp-method").value,
      ...(S.info.decodes_labels ? { label: S.label } : {}),
    });
    const strip = $("strip");
    strip.textContent = "";
    r.steps.forEach((p, k) => strip.append(el("figure", { class: "step" },
      presented(p, { size: 64, width: 120, height: 60 }), el("figcaption", {}, `${Math.round((100 * k) / (r.steps.length - 1))}%`))));
    S.markers.path = r.points;
    drawMap();
  }, "interpolate");

  // ---- drawing --------------------------------------------------------------------------------
  function setUpDrawing() {
    const canvas = $("draw-canvas"), ctx = canvas.getContext("2d");
    let drawing = false, inked = false, last = null;
    const clear = () => {
      ctx.fillStyle = "#000";
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      inked = false;
    };
    clear();
    const at = (ev) => {
      const r = canvas.getBoundingClientRect();
      return [(ev.clientX - r.left) * (canvas.width / r.width), (ev.clientY - r.top) * (canvas.height / r.height)];
    };
    const line = (p, q) => {
      ctx.strokeStyle = "#fff";
      ctx.lineWidth = canvas.width / 12;
      ctx.lineCap = "round";
      ctx.lineJoin = "round";
      ctx.beginPath(); ctx.moveTo(p[0], p[1]); ctx.lineTo(q[0], q[1]); ctx.stroke();
    };
    canvas.addEventListener("pointerdown", (ev) => {
      ev.preventDefault();
      canvas.setPointerCapture(ev.pointerId);
      drawing = true; inked = true;
      last = at(ev);
      line(last, last);
    });
    canvas.addEventListener("pointermove", (ev) => {
      if (!drawing) return;
      const p = at(ev);
      line(last, p);
      last = p;
    });
    const end = () => {
      if (!drawing) return;
      drawing = false;
      if (inked) encodeDrawing();
    };
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    $("draw-clear").addEventListener("click", () => {
      clear();
      for (const id of ["draw-input", "draw-rec"]) $(id).removeAttribute("src");
      S.markers.drawn = null;
      drawMap();
    });
    const encodeDrawing = latestOnly(async () => {
      const r = await api("api/encode", { image: canvas.toDataURL("image/png"), center: true, k: K });
      $("draw-input").src = r.input.png;
      $("draw-rec").src = r.reconstruction.png;
      S.z = r.z.slice();
      S.markers.drawn = r.point;
      S.markers.current = r.point;
      syncSliders();
      decode();
      drawMap();
      showNeighbours(r.neighbours, "nearest to your drawing");
    }, "encode the drawing");
    $("draw-panel").hidden = false;
    $("mk-drawn").hidden = false;
  }

  // ---- start ----------------------------------------------------------------------------------
  async function start() {
    const [info, m] = await Promise.all([api("api/info"), api("api/map")]);
    S.info = info;
    S.map = m;
    S.kind = info.kind;
    document.body.classList.add(`kind-${info.kind}`);
    S.z = info.mean.slice();
    document.title = `aekit explorer: ${info.name}`;
    $("run-name").textContent = info.name;
    $("run-facts").textContent = `model ${info.model} · latent size ${info.latent_dim} · ${info.kind} ` +
      `${info.input_shape.join("×")} · ${info.map_size} examples on the map`;
    $("rank-kind").textContent = `its ${info.slider_rank} shown beside it`;
    $("map-how").textContent = info.latent_dim <= 2 ? "the codes themselves" : "PCA of the codes";
    const out = { image: "decoded-img", text: "decoded-text" }[S.kind] || "decoded-chart";
    $(out).hidden = false;
    $("interp-steps").max = String(info.limits.steps);
    buildSliders();
    buildLabels();
    const sel = $("colouring");
    for (const [v, name] of colourings()) sel.append(el("option", { value: v }, name));
    sel.addEventListener("change", recolour);
    map.setPoints(m.points, m.axes);
    sizeMap();
    recolour();
    let mapWidth = $("map-wrap").clientWidth;
    new ResizeObserver(() => requestAnimationFrame(() => { // next frame: no resize loop with the scrollbar
      if ($("map-wrap").clientWidth !== mapWidth) { mapWidth = $("map-wrap").clientWidth; sizeMap(); }
    })).observe($("map-wrap"));
    $("map").addEventListener("mousemove", hover);
    $("map").addEventListener("mouseleave", () => { $("tooltip").hidden = true; hovered = -1; });
    $("map").addEventListener("click", (ev) => { const i = map.pick(...mapXY(ev)); if (i >= 0) select(i); });
    $("randomize").addEventListener("click", randomize);
    $("reset").addEventListener("click", reset);
    $("interp-run").addEventListener("click", interpolate);
    $("interp-method").addEventListener("change", () => { if (S.a !== null && S.b !== null) interpolate(); });
    $("interp-steps").addEventListener("change", () => { if (S.a !== null && S.b !== null) interpolate(); });
    if (info.drawable) setUpDrawing();
    decode();
    window.explorer = { state: S, map }; // for the browser's console (and the tests): the page's state
    document.body.dataset.ready = "1";
  }

  window.addEventListener("error", (ev) => showError(ev.error || ev.message, "page"));
  window.addEventListener("unhandledrejection", (ev) => showError(ev.reason, "page"));
  start().catch((e) => showError(e, "loading the explorer"));
})();
