/* aekit explorer: drawing on canvases (the map's scatter, series charts, colour scales).
   No dependencies; explorer.js uses window.AekitPlots. */
"use strict";
(function () {
  const TAB10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
  // viridis at 10 stops: perceptually even, readable in grey, colour-blind safe
  const VIRIDIS = [[68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142],
    [31, 158, 137], [53, 183, 121], [109, 205, 89], [180, 222, 44], [253, 231, 37]];

  /** The colour of class i of n: tab10 up to 10 classes, else hues spread by the golden angle. */
  function categorical(i, n) {
    if (n <= 10) return TAB10[i % 10];
    return `hsl(${Math.round((i * 137.508) % 360)}, 62%, ${i % 2 ? 58 : 42}%)`;
  }

  /** viridis(t), t in [0, 1] (clipped). */
  function viridis(t) {
    t = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0));
    const x = t * (VIRIDIS.length - 1), i = Math.min(VIRIDIS.length - 2, Math.floor(x)), f = x - i;
    const c = VIRIDIS[i].map((v, k) => Math.round(v + f * (VIRIDIS[i + 1][k] - v)));
    return `rgb(${c[0]},${c[1]},${c[2]})`;
  }

  /** The p-th quantile (0..1) of finite values. */
  function quantile(values, p) {
    const v = values.filter(Number.isFinite).sort((a, b) => a - b);
    if (!v.length) return 0;
    const x = p * (v.length - 1), i = Math.floor(x);
    return i + 1 < v.length ? v[i] + (x - i) * (v[i + 1] - v[i]) : v[i];
  }

  /** A number in 3 significant digits, without trailing noise. */
  function fmt(v) {
    if (v === null || v === undefined || !Number.isFinite(v)) return "–";
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2);
    return String(Number(v.toPrecision(3)));
  }

  /** Size a canvas for CSS pixels (sharp on high-DPI screens); returns its 2-D context in CSS units. */
  function setupCanvas(canvas, w, h) {
    const dpr = window.devicePixelRatio || 1;
    canvas.style.width = w + "px";
    canvas.style.height = h + "px";
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return ctx;
  }

  /** Series on a canvas: lines = [{values: [[c0, c1…], …] (null: a gap), colour, width}], each
      channel a polyline; range [lo, hi] fixes the y axis (so successive charts compare). */
  function drawSeries(canvas, lines, { width = 300, height = 120, range = null, axes = true } = {}) {
    const ctx = setupCanvas(canvas, width, height);
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, width, height);
    let lo = range ? range[0] : Infinity, hi = range ? range[1] : -Infinity, T = 1;
    for (const line of lines) {
      T = Math.max(T, line.values.length);
      if (!range) for (const row of line.values) for (const v of row) if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    }
    if (!(hi > lo)) { lo = (Number.isFinite(lo) ? lo : 0) - 1; hi = lo + 2; }
    const pad = (hi - lo) * 0.06, m = axes ? 4 : 2;
    const X = (t) => m + (t / Math.max(1, T - 1)) * (width - 2 * m);
    const Y = (v) => height - m - ((v - lo + pad) / (hi - lo + 2 * pad)) * (height - 2 * m);
    if (axes) {
      ctx.strokeStyle = "#e3e3e3";
      ctx.lineWidth = 1;
      ctx.strokeRect(0.5, 0.5, width - 1, height - 1);
      if (lo < 0 && hi > 0) { ctx.beginPath(); ctx.moveTo(0, Y(0)); ctx.lineTo(width, Y(0)); ctx.stroke(); }
      ctx.fillStyle = "#888";
      ctx.font = "10px system-ui, sans-serif";
      ctx.fillText(fmt(hi), 3, 10);
      ctx.fillText(fmt(lo), 3, height - 3);
    }
    for (const line of lines) {
      const C = line.values.length ? line.values[0].length : 0;
      ctx.lineWidth = line.width || 1.5;
      ctx.lineJoin = "round";
      for (let c = 0; c < C; c++) {
        ctx.strokeStyle = Array.isArray(line.colour) ? line.colour[c % line.colour.length] : (line.colour || "#1f77b4");
        ctx.beginPath();
        let open = false;
        line.values.forEach((row, t) => {
          const v = row[c];
          if (v === null || !Number.isFinite(v)) { open = false; return; }
          if (open) ctx.lineTo(X(t), Y(v)); else ctx.moveTo(X(t), Y(v));
          open = true;
        });
        ctx.stroke();
      }
    }
  }

  /** A horizontal colour bar of viridis on a canvas. */
  function drawColourbar(canvas, width = 160, height = 10) {
    const ctx = setupCanvas(canvas, width, height);
    for (let x = 0; x < width; x++) {
      ctx.fillStyle = viridis(x / (width - 1));
      ctx.fillRect(x, 0, 1, height);
    }
  }

  /** The map: a scatter of 2-D points on a canvas, with markers on top, and picking by position. */
  class ScatterMap {
    constructor(canvas) {
      this.canvas = canvas;
      this.points = [];
      this.colours = [];
      this.order = null;
      this.markers = {};
      this.w = 400;
      this.h = 300;
      this.margin = { l: 20, r: 10, t: 10, b: 20 };
      this.axes = ["", ""];
    }

    setPoints(points, axes) {
      this.points = points;
      this.axes = axes || ["", ""];
      let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
      for (const [x, y] of points) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
      if (!(x1 > x0)) { x0 -= 1; x1 += 1; }
      if (!(y1 > y0)) { y0 -= 1; y1 += 1; }
      const px = (x1 - x0) * 0.03, py = (y1 - y0) * 0.03;
      this.bounds = [x0 - px, x1 + px, y0 - py, y1 + py];
    }

    resize(w, h) { this.w = w; this.h = h; this.draw(); }

    /** Screen position (CSS pixels) of a map point; points off the map are held at its edge. */
    toPx(p) {
      const [x0, x1, y0, y1] = this.bounds, m = this.margin;
      const fx = Math.min(1, Math.max(0, (p[0] - x0) / (x1 - x0)));
      const fy = Math.min(1, Math.max(0, (p[1] - y0) / (y1 - y0)));
      return [m.l + fx * (this.w - m.l - m.r), this.h - m.b - fy * (this.h - m.t - m.b)];
    }

    /** The index of the point nearest to (x, y) within r pixels, or -1. */
    pick(x, y, r = 8) {
      let best = -1, bd = r * r;
      this.points.forEach((p, i) => {
        const [px, py] = this.toPx(p), d = (px - x) ** 2 + (py - y) ** 2;
        if (d < bd) { bd = d; best = i; }
      });
      return best;
    }

    draw() {
      if (!this.bounds) return;
      const ctx = setupCanvas(this.canvas, this.w, this.h), m = this.margin;
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, this.w, this.h);
      ctx.strokeStyle = "#ddd";
      ctx.strokeRect(m.l + 0.5, m.t + 0.5, this.w - m.l - m.r - 1, this.h - m.t - m.b - 1);
      ctx.fillStyle = "#777";
      ctx.font = "11px system-ui, sans-serif";
      ctx.textAlign = "center";
      ctx.fillText(this.axes[0] || "", (m.l + this.w - m.r) / 2, this.h - 5);
      ctx.save();
      ctx.translate(12, (m.t + this.h - m.b) / 2);
      ctx.rotate(-Math.PI / 2);
      ctx.fillText(this.axes[1] || "", 0, 0);
      ctx.restore();
      const order = this.order || this.points.map((_, i) => i);
      ctx.globalAlpha = 0.75;
      for (const i of order) {
        const [x, y] = this.toPx(this.points[i]);
        ctx.fillStyle = this.colours[i] || "#1f77b4";
        ctx.beginPath();
        ctx.arc(x, y, 2.6, 0, 2 * Math.PI);
        ctx.fill();
      }
      ctx.globalAlpha = 1;
      this.drawMarkers(ctx);
    }

    drawMarkers(ctx) {
      const mk = this.markers;
      if (mk.path && mk.path.length > 1) {
        ctx.strokeStyle = "#222";
        ctx.lineWidth = 1.5;
        ctx.setLineDash([4, 3]);
        ctx.beginPath();
        mk.path.forEach((p, k) => { const [x, y] = this.toPx(p); if (k) ctx.lineTo(x, y); else ctx.moveTo(x, y); });
        ctx.stroke();
        ctx.setLineDash([]);
        ctx.fillStyle = "#222";
        for (const p of mk.path) { const [x, y] = this.toPx(p); ctx.fillRect(x - 2, y - 2, 4, 4); }
      }
      const ring = (p, r, colour, lw) => {
        const [x, y] = this.toPx(p);
        ctx.beginPath(); ctx.arc(x, y, r, 0, 2 * Math.PI);
        ctx.lineWidth = lw + 2; ctx.strokeStyle = "#fff"; ctx.stroke();
        ctx.lineWidth = lw; ctx.strokeStyle = colour; ctx.stroke();
      };
      if (mk.highlight) ring(mk.highlight, 6, "#ff7f0e", 2);
      for (const [name, p] of [["A", mk.a], ["B", mk.b]]) {
        if (!p) continue;
        const [x, y] = this.toPx(p);
        ctx.fillStyle = "#222";
        ctx.beginPath(); ctx.arc(x, y - 13, 7, 0, 2 * Math.PI); ctx.fill();
        ctx.fillStyle = "#fff"; ctx.font = "bold 10px system-ui, sans-serif"; ctx.textAlign = "center";
        ctx.fillText(name, x, y - 9.5);
      }
      if (mk.selected) ring(mk.selected, 7, "#111", 2.5);
      if (mk.current) {
        const [x, y] = this.toPx(mk.current);
        ctx.lineCap = "round";
        for (const [lw, c] of [[5, "#fff"], [2.2, "#d62728"]]) {
          ctx.lineWidth = lw; ctx.strokeStyle = c;
          ctx.beginPath(); ctx.moveTo(x - 7, y); ctx.lineTo(x + 7, y); ctx.moveTo(x, y - 7); ctx.lineTo(x, y + 7); ctx.stroke();
        }
      }
      if (mk.drawn) {
        const [x, y] = this.toPx(mk.drawn);
        ctx.beginPath();
        for (let k = 0; k < 10; k++) {
          const r = k % 2 ? 4 : 10, a = -Math.PI / 2 + (k * Math.PI) / 5;
          ctx.lineTo(x + r * Math.cos(a), y + r * Math.sin(a));
        }
        ctx.closePath();
        ctx.fillStyle = "#e377c2"; ctx.fill();
        ctx.lineWidth = 1.5; ctx.strokeStyle = "#111"; ctx.stroke();
      }
    }
  }

  window.AekitPlots = { categorical, viridis, quantile, fmt, setupCanvas, drawSeries, drawColourbar, ScatterMap };
})();
