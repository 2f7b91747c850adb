// jaxmlp playground: the page's glue. Every number drawn here comes from the server
// (jaxmlp's training runs); this file only reads the controls, calls the JSON API and
// hands the arrays to Plotly.
"use strict";

const $ = (id) => document.getElementById(id);
const FIELDS = ["mode", "dataset", "n", "noise", "test_fraction", "seed", "hidden", "activation",
  "optimizer", "learning_rate", "l2", "l1", "batch_size", "steps_per_frame", "max_steps"];
const PLOT_CONFIG = { displayModeBar: false, responsive: true, staticPlot: false };

const state = {
  choices: null, data: null, frame: null, playing: false, generation: 0,
  csvText: "", csvName: "data.csv", fps: null, curve: null, lastDraw: null, framesDrawn: 0, timings: {}, drawnAt: {},
};
window.playground = state; // read by the browser test

// The server answers its API only with the token it wrote into this page (no other
// site can read the page, nor send this header without a refused CORS preflight).
const TOKEN = document.querySelector('meta[name="jaxmlp-token"]').content;
const API_HEADERS = { "Content-Type": "application/json", "X-Jaxmlp-Token": TOKEN };

async function api(method, path, body) {
  const options = { method, headers: API_HEADERS };
  if (body !== undefined) options.body = JSON.stringify(body);
  const response = await fetch(path, options);
  const value = await response.json();
  if (!response.ok) throw new Error(value.error || response.statusText);
  return value;
}

// The params file: fetched with the token, then saved from memory under the server's name.
async function downloadParams(event) {
  event.preventDefault();
  try {
    const response = await fetch("/api/params", { headers: API_HEADERS });
    if (!response.ok) throw new Error((await response.json()).error || response.statusText);
    const disposition = response.headers.get("Content-Disposition") || "";
    const name = (disposition.match(/filename="([^"]+)"/) || [])[1] || "params.safetensors";
    const url = URL.createObjectURL(await response.blob());
    const link = document.createElement("a");
    link.href = url;
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (error) {
    showError(error);
  }
}

// A map sent as uint8 levels (views.encode_map) -> rows of numbers for Plotly.
function decodeMap(m) {
  const bytes = Uint8Array.from(atob(m.bytes), (c) => c.charCodeAt(0));
  const [rows, cols] = m.shape;
  const scale = (m.hi - m.lo) / 255;
  return Array.from({ length: rows }, (_, i) =>
    Array.from(bytes.subarray(i * cols, (i + 1) * cols), (v) => m.lo + v * scale));
}

function showError(error) {
  $("error").textContent = error ? String(error.message || error) : "";
}

// What the server lowered to keep each request within its work budget (steps per
// frame, max steps, compared steps), one sentence each.
function showNotes(notes) {
  $("notes").textContent = (notes || []).join(" ");
  $("notes").hidden = !(notes && notes.length);
}

const STATE_TEXT = { ready: "ready: press \u25B6 play", paused: "paused: press \u25B6 play to go on" };

function setState(text) {
  $("state").textContent = STATE_TEXT[text] || text;
  $("state").dataset.state = text;
}

// ---- controls ----

function fillSelect(id, values) {
  $(id).innerHTML = values.map((v) => `<option value="${v}">${v}</option>`).join("");
}

function showSettings(s) {
  fillSelect("dataset", state.choices.mode_datasets[s.mode]); // the data sets of the mode
  for (const name of FIELDS) {
    const value = s[name];
    $(name).value = name === "hidden" ? value.join(",") : (value === null ? "" : value);
  }
  $("csv-row").hidden = s.dataset !== "csv";
  for (const box of document.querySelectorAll("#features input")) {
    box.checked = s.features.includes(box.value);
  }
}

// The input features: one checkbox per name of jaxmlp.playground.features.
function fillFeatures(names) {
  $("features").innerHTML = names.map((name) =>
    `<label><input type="checkbox" value="${name}"> ${name}</label>`).join("");
}

function checkedFeatures() {
  return [...document.querySelectorAll("#features input")].filter((b) => b.checked)
    .map((b) => b.value);
}

function readSettings() {
  // an empty field is sent as null: the server answers "<field> is required", never 0
  const number = (id) => ($(id).value.trim() === "" ? null : Number($(id).value));
  const s = {
    mode: $("mode").value,
    dataset: $("dataset").value,
    n: number("n"),
    noise: $("noise").value === "" ? null : number("noise"),
    test_fraction: number("test_fraction"),
    seed: number("seed"),
    hidden: $("hidden").value.trim(),
    activation: $("activation").value,
    optimizer: $("optimizer").value,
    learning_rate: number("learning_rate"),
    l2: number("l2"),
    l1: number("l1"),
    features: checkedFeatures(),
    batch_size: $("batch_size").value === "" ? null : number("batch_size"),
    steps_per_frame: number("steps_per_frame"),
    max_steps: number("max_steps"),
  };
  if (s.hidden === "") s.hidden = [];
  if (s.dataset === "csv") {
    s.csv_text = state.csvText;
    s.csv_name = state.csvName;
  }
  return s;
}

async function applySettings(settings) {
  const generation = ++state.generation;
  setState("compiling");
  try {
    const answer = await api("POST", "/api/settings", settings);
    if (generation !== state.generation) return;
    state.data = answer;
    $("reproduce-out").hidden = true; // it showed the previous setting's run
    showSettings(answer.settings);
    showMode();
    showNotes(answer.notes);
    drawRegionPoints();
    showError(null);
    draw(answer.frame);
    setState(state.playing ? "playing" : "ready");
    if (!state.playing) refreshGradients();
  } catch (error) {
    showError(error);
    setState("error");
  }
}

// ---- modes ----

// Regression mode: the identity output on the mean of half the squared error; the plane
// shows the output itself, on the sign colours of the weights and biases (one convention).
function regression() {
  return Boolean(state.data && state.data.settings.mode === "regression");
}

const LEGENDS = {
  classification: null, // the page's own text, kept at start
  regression: "shade: the network's output, from blue (negative) through white (0, the black " +
    "line) to vermillion (positive), on the colour bar's scale; points: their targets on the " +
    "same scale; open markers: test points",
};

function showMode() {
  const reg = regression();
  $("loss-kind").hidden = !reg;
  $("accuracy-part").hidden = reg;
  $("regions-title").textContent = reg ? "Output (regression)" : "Decision regions";
  $("regions-legend").textContent = LEGENDS[reg ? "regression" : "classification"];
  $("csv-third").textContent = reg ? "target" : "label";
  $("compare").disabled = reg;
  $("compare-mode-note").hidden = !reg;
}

// ---- drawing ----

function regionScale() {
  const [c0, c1] = state.choices.palette.regions;
  return [[0, c0], [0.5, "#ffffff"], [1, c1]];
}

// Blue negative, white 0, vermillion positive: weights, biases and regression's values.
function signScale() {
  const [negative, positive] = state.choices.palette.sign;
  return [[0, negative], [0.5, "#ffffff"], [1, positive]];
}

// Point traces are built once per data set and reused: Plotly.react redraws only the
// traces whose arrays changed, so unchanged points cost nothing per frame.
const pointCache = new WeakMap();

function pointTraces(X, y, { test = false, size = 6 } = {}) {
  const perData = pointCache.get(X) || new Map();
  pointCache.set(X, perData);
  const key = `${test}/${size}/${regression()}`;
  if (!perData.has(key)) perData.set(key, makePointTraces(X, y, test, size));
  return perData.get(key);
}

function makePointTraces(X, y, test, size) {
  if (regression()) { // one trace: each point coloured by its target
    const m = state.data.value_range;
    return [{
      type: "scatter", mode: "markers", hoverinfo: "skip", name: test ? "test" : "training",
      x: X.map((r) => r[0]), y: X.map((r) => r[1]),
      marker: {
        size, symbol: test ? "circle-open" : "circle", color: y, cmin: -m, cmax: m,
        colorscale: signScale(), line: test ? { width: 1.5 } : { width: 0.6, color: "#333" },
      },
    }];
  }
  const colors = state.choices.palette.classes;
  return [0, 1].map((label) => {
    const rows = X.filter((_, i) => y[i] === label);
    return {
      type: "scatter", mode: "markers", hoverinfo: "skip",
      name: `${test ? "test " : ""}class ${label}`,
      x: rows.map((r) => r[0]), y: rows.map((r) => r[1]),
      marker: {
        size, symbol: (label ? "triangle-up" : "circle") + (test ? "-open" : ""),
        color: colors[label], line: { width: test ? 1.5 : 0.6, color: test ? colors[label] : "#fff" },
      },
    };
  });
}

function planeLayout(extra = {}) {
  const [xr, yr] = state.data.limits;
  return { // regression: room on the right for the colour bar, the same on the points' plot
    margin: { l: 36, r: regression() ? 80 : 8, t: 8, b: 30 }, showlegend: false, uirevision: "plane",
    xaxis: { range: xr, constrain: "domain", zeroline: false },
    yaxis: { range: yr, scaleanchor: "x", zeroline: false }, ...extra,
  };
}

// The discretized view: each grid point's class (probability above 0.5 or not); in
// regression, the output's sign.
function shownRegions(z) {
  if (!$("discretize").checked) return z;
  if (regression()) {
    const m = state.data.value_range;
    return z.map((row) => row.map((v) => (v > 0 ? m : -m)));
  }
  return z.map((row) => row.map((p) => (p > 0.5 ? 1 : 0)));
}

function regionTraces(z, { withTest = false, size = 6, points = true } = {}) {
  const d = state.data;
  const reg = regression();
  const m = d.value_range;
  z = shownRegions(z);
  const scale = reg ? {
    zmin: -m, zmax: m, colorscale: signScale(), showscale: true,
    colorbar: { title: { text: "output", side: "right" }, thickness: 10, len: 0.9, x: 1.02,
      xanchor: "left" },
  } : { zmin: 0, zmax: 1, colorscale: regionScale(), showscale: false };
  const level = reg ? 0 : 0.5; // the black line: the boundary, or where the output is 0
  const traces = [
    { type: "heatmap", x: d.grid[0], y: d.grid[1], z, zsmooth: "fast", hoverinfo: "skip",
      ...scale },
    { type: "contour", x: d.grid[0], y: d.grid[1], z, showscale: false, hoverinfo: "skip",
      contours: { coloring: "none", start: level, end: level, size: 1 },
      line: { color: state.choices.palette.boundary, width: 2 } },
  ];
  if (points) traces.push(...pointTraces(d.X_train, d.y_train, { size }));
  if (points && withTest) traces.push(...pointTraces(d.X_test, d.y_test, { test: true, size }));
  return traces;
}

// Axis ranges that change rarely (x up to 1, 2 or 5 x 10^k steps, y in whole decades):
// Plotly then keeps its tick labels instead of measuring new ones every frame.
function niceCeil(v) {
  const p = 10 ** Math.floor(Math.log10(Math.max(v, 1)));
  return [1, 2, 5, 10].map((m) => m * p).find((c) => c >= v);
}

function drawRegions(f) {
  Plotly.react("regions", regionTraces(decodeMap(f.regions), { points: false }), planeLayout(),
    PLOT_CONFIG);
}

// The data points of the regions panel, on their own transparent plot with the same axes.
function drawRegionPoints() {
  const d = state.data;
  const traces = pointTraces(d.X_train, d.y_train);
  if ($("show-test").checked) traces.push(...pointTraces(d.X_test, d.y_test, { test: true }));
  const layout = planeLayout({ paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)" });
  layout.xaxis.visible = false; // the axes are drawn once, by the plot beneath
  layout.yaxis.visible = false;
  Plotly.react("regions-points", traces, layout, { ...PLOT_CONFIG, staticPlot: true });
}

// The loss curve as the page holds it: the server sends only the points after the last
// one the page has (session.curve_points), on a grid of every stride-th frame; when the
// stride doubles, every other point is dropped here too, so at most a few hundred remain.
const CURVE_KEYS = ["frames", "steps", "train", "test"];

function updateCurve(c) {
  let k = state.curve;
  if (c.full || !k) {
    k = { frames: [], steps: [], train: [], test: [] };
  } else if (c.stride !== k.stride) {
    const keep = [];
    k.frames.forEach((frame, i) => { if (frame % c.stride === 0) keep.push(i); });
    for (const key of CURVE_KEYS) k[key] = keep.map((i) => k[key][i]);
  }
  const last = k.frames.length ? k.frames[k.frames.length - 1] : -1;
  const fresh = c.frames.map((frame, i) => (frame > last ? i : -1)).filter((i) => i >= 0);
  for (const key of CURVE_KEYS) k[key].push(...fresh.map((i) => c[key][i]));
  k.stride = c.stride;
  k.head = c.head;
  state.curve = k;
}

// The last frame on the page's curve grid: the server sends what follows it.
function curveSince() {
  const k = state.curve;
  return k && k.frames.length ? k.frames[k.frames.length - 1] : null;
}

function drawLoss() {
  const k = state.curve;
  const last = k.frames.length - 1;
  const headOnGrid = last >= 0 && k.frames[last] === k.head.frame;
  const steps = headOnGrid ? k.steps.slice() : k.steps.concat([k.head.step]);
  const train = headOnGrid ? k.train.slice() : k.train.concat([k.head.train]);
  const test = headOnGrid ? k.test.slice() : k.test.concat([k.head.test]);
  const colors = state.choices.palette.curves;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of train.concat(test)) {
    if (v > 0) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  const yRange = [Math.floor(Math.log10(lo)), Math.ceil(Math.log10(hi))];
  if (yRange[0] === yRange[1]) yRange[0] -= 1;
  Plotly.react("loss", [
    { x: steps, y: train, name: "training", mode: "lines", line: { color: colors[0] } },
    { x: steps, y: test, name: "test", mode: "lines", line: { color: colors[1], dash: "dash" } },
  ], {
    margin: { l: 50, r: 8, t: 8, b: 36 }, uirevision: "loss",
    xaxis: { title: { text: "step" }, range: [0, niceCeil(steps[steps.length - 1] || 1)] },
    yaxis: { title: { text: regression() ? "mean \u00BD squared error" : "mean loss" },
      type: "log", range: yRange, dtick: 1 },  // a label per power of ten, not per digit
    legend: { x: 1, xanchor: "right", y: 1 },
  }, PLOT_CONFIG);
}

function nodePositions(sizes) {
  return sizes.map((size, l) => Array.from({ length: size }, (_, i) => [l, (size - 1) / 2 - i]));
}

function drawNetwork(f) {
  const net = f.network;
  const pos = nodePositions(net.sizes);
  const [negative, positive] = state.choices.palette.sign; // as jaxmlp.plots.network_graph
  const traces = [];
  const annotations = [];
  if (net.weights) {
    const maxAbs = Math.max(1e-9, ...net.weights.flatMap((W) => W.flat().map(Math.abs)));
    const buckets = {};
    net.weights.forEach((W, l) => W.forEach((row, i) => row.forEach((w, j) => {
      const level = Math.min(3, Math.floor((4 * Math.abs(w)) / maxAbs));
      const key = `${w >= 0 ? "+" : "-"}${level}`;
      const b = (buckets[key] = buckets[key] || { x: [], y: [], w, level });
      b.x.push(pos[l][j][0], pos[l + 1][i][0], null);
      b.y.push(pos[l][j][1], pos[l + 1][i][1], null);
    })));
    for (const [key, b] of Object.entries(buckets)) {
      traces.push({
        type: "scatter", mode: "lines", x: b.x, y: b.y, hoverinfo: "skip",
        line: { width: 0.7 + 1.6 * b.level, color: key[0] === "+" ? positive : negative },
        opacity: 0.35 + 0.2 * b.level,
      });
    }
  } else {
    annotations.push({ text: "too many weights to draw", showarrow: false, x: 0.5, y: 1,
      xref: "paper", yref: "paper" });
  }
  const biases = [new Array(net.sizes[0]).fill(0), ...(net.biases || [])];
  traces.push({
    type: "scatter", mode: "markers", hoverinfo: "text",
    x: pos.flat().map((p) => p[0]), y: pos.flat().map((p) => p[1]),
    text: pos.flatMap((layer, l) => layer.map((_, i) => (l === 0 ? state.data.settings.features[i] :
      `layer ${l} unit ${i + 1}: b = ${(biases[l] || [])[i]}`))),
    // the bias on the weights' scale: blue negative, white 0, vermillion positive
    marker: { size: 16, color: biases.flat(), cmid: 0, colorscale: signScale(),
      showscale: true, colorbar: { title: { text: "bias", side: "right" }, thickness: 10, len: 0.6 },
      line: { width: 1, color: "#333" } },
  });
  $("network-note").textContent = f.collapsed ?
    `Identity units: the whole network is one linear map, w = [${f.collapsed.w.join(", ")}], ` +
    `b = ${f.collapsed.b}: linear in its input features, as logistic regression is.` : "";
  Plotly.react("network", traces, {
    margin: { l: 8, r: 8, t: 8, b: 8 }, showlegend: false, annotations, uirevision: "net",
    xaxis: { visible: false }, yaxis: { visible: false },
  }, PLOT_CONFIG);
}

function drawHidden(f) {
  const h = f.hidden;
  const note = $("hidden-note");
  if (!h) {
    Plotly.purge("hidden-space");
    note.textContent = "shown when the last hidden layer has 2 or 3 units";
    return;
  }
  note.textContent = regression() ? "points coloured by their targets; the line or plane: " +
    "where the output is 0" : "";
  const colors = state.choices.palette.classes;
  const m = state.data.value_range;
  // classification: a trace per class; regression: one, each point coloured by its target
  const series = regression() ? [{ rows: h.points, marker: { color: h.labels, cmin: -m, cmax: m,
    colorscale: signScale(), line: { width: 0.5, color: "#333" } } }] :
    [0, 1].map((label) => ({ rows: h.points.filter((_, i) => h.labels[i] === label), label,
      marker: { color: colors[label] } }));
  const [lo, hi] = h.box;
  if (h.dims === 2) {
    const traces = series.map(({ rows, marker, label }) => ({
      type: "scatter", mode: "markers", x: rows.map((r) => r[0]), y: rows.map((r) => r[1]),
      marker: { size: 6, symbol: label ? "triangle-up" : "circle", ...marker },
      hoverinfo: "skip",
    }));
    if (h.boundary.length) {
      traces.push({ type: "scatter", mode: "lines", x: h.boundary[0], y: h.boundary[1],
        line: { color: state.choices.palette.boundary, width: 2 }, hoverinfo: "skip" });
    }
    Plotly.react("hidden-space", traces, {
      margin: { l: 36, r: 8, t: 8, b: 30 }, showlegend: false, uirevision: "hidden2",
      xaxis: { range: [lo[0], hi[0]], title: { text: "h1" } },
      yaxis: { range: [lo[1], hi[1]], title: { text: "h2" } },
    }, PLOT_CONFIG);
    return;
  }
  const traces = series.map(({ rows, marker, label }) => ({
    type: "scatter3d", mode: "markers", hoverinfo: "skip",
    x: rows.map((r) => r[0]), y: rows.map((r) => r[1]), z: rows.map((r) => r[2]),
    marker: { size: 3, symbol: label ? "diamond" : "circle", ...marker, line: undefined },
  }));
  if (h.boundary.length && h.boundary[0].length >= 3) {
    const [xs, ys, zs] = h.boundary;
    const fan = xs.slice(2).map((_, k) => k + 1);
    traces.push({ type: "mesh3d", x: xs, y: ys, z: zs, i: fan.map(() => 0), j: fan,
      k: fan.map((k) => k + 1), color: "#888888", opacity: 0.45, hoverinfo: "skip" });
  }
  Plotly.react("hidden-space", traces, {
    margin: { l: 0, r: 0, t: 0, b: 0 }, showlegend: false, uirevision: "hidden3",
    hovermode: false, // no picking pass (a read-back of the WebGL frame) at every draw
    scene: {
      xaxis: { range: [lo[0], hi[0]], title: { text: "h1" } },
      yaxis: { range: [lo[1], hi[1]], title: { text: "h2" } },
      zaxis: { range: [lo[2], hi[2]], title: { text: "h3" } },
      aspectmode: "cube",
    },
  }, PLOT_CONFIG);
}

// All unit maps in one figure of small subplots: one Plotly call per frame, not one per unit.
function drawUnits(f) {
  const d = state.data;
  const width = f.network.sizes.length > 2 ? f.network.sizes[1] : 0;
  $("units-note").textContent = !f.units.length ? "no hidden layer" :
    (width > f.units.length ? `the first ${f.units.length} of ${width} units` : "");
  if (!f.units.length) {
    Plotly.purge("units");
    return;
  }
  const columns = Math.min(f.units.length, 6);
  const rows = Math.ceil(f.units.length / columns);
  const colors = state.choices.palette.units;
  const traces = [];
  const layout = {
    grid: { rows, columns, pattern: "independent", xgap: 0.06, ygap: 0.18 },
    height: 200 * rows, margin: { l: 4, r: 4, t: 22, b: 4 }, showlegend: false,
    uirevision: "units", annotations: [],
  };
  f.units.forEach((u, i) => {
    const suffix = i ? String(i + 1) : ""; // Plotly's axes: x, x2, x3, ...
    const axes = { xaxis: `x${suffix}`, yaxis: `y${suffix}` };
    traces.push(
      { type: "heatmap", x: d.grid[0], y: d.grid[1], z: decodeMap(u.z), zsmooth: "fast",
        colorscale: [[0, "#ffffff"], [1, "#6b6b6b"]], showscale: false, hoverinfo: "skip",
        ...axes },
      ...pointTraces(d.X_train, d.y_train, { size: 3 }).map((t) => ({ ...t, ...axes })));
    if (u.line.length) {
      traces.push({ type: "scatter", mode: "lines", x: u.line[0], y: u.line[1], hoverinfo: "skip",
        line: { color: colors[i % colors.length], width: 2.5 }, ...axes });
    }
    layout[`xaxis${suffix}`] = { range: d.limits[0], visible: false };
    layout[`yaxis${suffix}`] = { range: d.limits[1], visible: false, scaleanchor: `x${suffix}` };
    layout.annotations.push({ // a fixed title: changing text would be measured every frame
      text: `unit ${i + 1}`,
      xref: `x${suffix} domain`, yref: `y${suffix} domain`, x: 0.5, y: 1.02, showarrow: false,
      xanchor: "center", yanchor: "bottom", font: { size: 10 },
    });
  });
  Plotly.react("units", traces, layout, { ...PLOT_CONFIG, staticPlot: true });
}

// Milliseconds per frame of each part (moving averages): the page's own benchmark.
function record(name, ms) {
  const old = state.timings[name];
  state.timings[name] = old === undefined ? ms : 0.8 * old + 0.2 * ms;
}

function timed(name, fn) {
  const t = performance.now();
  const value = fn();
  record(name, performance.now() - t);
  return value;
}

async function timedAsync(name, promise) {
  const t = performance.now();
  const value = await promise;
  record(name, performance.now() - t);
  return value;
}

const SLOW_PANEL_SHARE = 8;
// Milliseconds between two drawings of a panel while playing, at least: part of the
// drawing (the WebGL of the 3-D hidden space, the browser's painting of SVG) happens
// after Plotly returns, where the timings above do not see it.
const MIN_INTERVAL_MS = { loss: 250, network: 500, hidden: 1000, units: 1000 };
const SLOW_PANELS = [["loss", drawLoss], ["network", drawNetwork], ["hidden", drawHidden],
  ["units", drawUnits]];

function draw(f) {
  const now = performance.now();
  state.frame = f;
  $("step-count").textContent = f.step;
  $("train-loss").textContent = f.train_loss.toFixed(4);
  $("test-loss").textContent = f.test_loss.toFixed(4);
  if (f.train_accuracy !== null) { // null in regression mode: the losses say it
    $("train-acc").textContent = f.train_accuracy.toFixed(3);
    $("test-acc").textContent = f.test_accuracy.toFixed(3);
  }
  updateCurve(f.curve);
  timed("regions", () => drawRegions(f));
  // While playing, a slower panel (the 3-D hidden space is rendered in WebGL, in software
  // where there is no GPU) is redrawn at most every SLOW_PANEL_SHARE times the milliseconds
  // it takes, so it never uses more than 1/SLOW_PANEL_SHARE of the time and the regions
  // and the loss keep their pace. Paused, every panel is drawn.
  for (const [name, fn] of SLOW_PANELS) {
    const last = state.drawnAt[name] ?? -Infinity;
    const wait = Math.max(SLOW_PANEL_SHARE * (state.timings[name] ?? 0), MIN_INTERVAL_MS[name]);
    if (!state.playing || now - last >= wait) {
      timed(name, () => fn(f));
      state.drawnAt[name] = now;
    }
  }
  if (f.diverged_at !== null) showError(`diverged at step ${f.diverged_at}: lower the learning rate`);
  if (state.playing && state.lastDraw !== null) {
    const rate = 1000 / (now - state.lastDraw);
    state.fps = state.fps === null ? rate : 0.8 * state.fps + 0.2 * rate;
    $("fps").textContent = state.fps.toFixed(1);
  }
  state.lastDraw = now;
  state.framesDrawn += 1;
}

// ---- gradients ----

function fmt(v) {
  return v === 0 ? "0" : Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4 ? v.toFixed(5) : v.toExponential(3);
}

function gradientTable(layer) {
  const out = layer.role === "output";
  const caption = out
    ? `layer ${layer.layer} (output): P1 = mean(&ycirc; &minus; y) = &part;L/&part;b, P2 = &part;L/&part;W`
    : `layer ${layer.layer} (hidden): P3 = mean &delta; = &part;L/&part;b, P4 = &part;L/&part;W`;
  const rows = layer.manual.W.map((row, i) => {
    const cells = row.map((v, j) => `<td>${fmt(v)}</td><td>${fmt(layer.autodiff.W[i][j])}</td>`);
    return `<tr><th>unit ${i + 1}</th>${cells.join("")}` +
      `<td>${fmt(layer.manual.b[i])}</td><td>${fmt(layer.autodiff.b[i])}</td></tr>`;
  });
  const inputs = layer.manual.W[0].map((_, j) =>
    `<th>${out ? "P2" : "P4"} w${j + 1} post</th><th>jax.grad</th>`).join("");
  return `<table class="grads"><caption>${caption}; max |difference| ` +
    `${layer.max_abs_diff.toExponential(2)}</caption><tr><th></th>${inputs}` +
    `<th>${out ? "P1" : "P3"} b post</th><th>jax.grad</th></tr>${rows.join("")}</table>`;
}

async function refreshGradients() {
  if (!$("show-grads").checked) {
    $("gradients").innerHTML = "";
    return;
  }
  try {
    const g = await api("GET", "/api/gradients");
    const shown = g.layers.filter((l) => l.manual.W.length * l.manual.W[0].length <= 256);
    $("gradients").innerHTML = `<p class="note">step ${g.step}, loss ${g.loss.toFixed(5)}` +
      (shown.length < g.layers.length ? " (layers with more than 256 weights left out)" : "") +
      `</p>` + shown.map(gradientTable).join("");
  } catch (error) {
    showError(error);
  }
}

// ---- playing ----

async function play() {
  $("hint").hidden = true;
  state.playing = true;
  state.lastDraw = null;
  $("play").classList.add("playing");
  $("play").innerHTML = "&#10074;&#10074; pause";
  setState("playing");
  while (state.playing) {
    const generation = state.generation;
    try {
      const body = { frames: 1, curve_since: curveSince() };
      const f = await timedAsync("api", api("POST", "/api/step", body));
      if (generation !== state.generation) continue;
      timed("draw", () => draw(f));
      if (state.framesDrawn % 5 === 0) refreshGradients();
      if (f.done) pause();
    } catch (error) {
      showError(error);
      pause();
    }
    await new Promise((resolve) => requestAnimationFrame(resolve));
  }
}

function pause() {
  state.playing = false;
  if (state.frame) draw(state.frame); // every panel at the shown step (some lagged while playing)
  $("play").classList.remove("playing");
  $("play").innerHTML = "&#9654; play";
  setState(state.frame && state.frame.done ? "done" : "paused");
  refreshGradients();
}

async function stepOnce() {
  if (state.playing) pause();
  try {
    draw(await api("POST", "/api/step", { frames: 1, curve_since: curveSince() }));
    refreshGradients();
  } catch (error) {
    showError(error);
  }
}

async function reset() {
  try {
    draw(await api("POST", "/api/reset"));
    refreshGradients();
  } catch (error) {
    showError(error);
  }
}

// ---- compare and reproduce ----

async function runCompare() {
  $("compare-state").textContent = "training...";
  $("compare").disabled = true;
  try {
    const r = await api("POST", "/api/compare",
      { axis: $("compare-axis").value, values: $("compare-values").value });
    const out = $("compare-out");
    for (const child of [...out.children]) Plotly.purge(child);
    out.innerHTML = r.models.map((_, i) => `<div class="compare-model" id="model-${i}"></div>`).join("");
    r.models.forEach((m, i) => {
      Plotly.newPlot(`model-${i}`, regionTraces(decodeMap(m.regions), { size: 4 }), planeLayout({
        margin: { l: 4, r: 4, t: 36, b: 4 },
        title: { text: `${m.label} (${m.sizes.join("-")} ${m.activation})<br>` +
          `test accuracy ${m.test_accuracy.toFixed(3)}, loss ${m.final_loss.toFixed(4)}` +
          (m.diverged_at === null ? "" : `, diverged at ${m.diverged_at}`), font: { size: 11 } },
        xaxis: { range: state.data.limits[0], visible: false },
        yaxis: { range: state.data.limits[1], visible: false, scaleanchor: "x" },
      }), { ...PLOT_CONFIG, staticPlot: true });
    });
    $("compare-state").textContent = `${r.models.length} models, ${r.steps} steps each` +
      (r.note ? ` (${r.note})` : "");
  } catch (error) {
    $("compare-state").textContent = "";
    showError(error);
  } finally {
    $("compare").disabled = false;
  }
}

async function reproduce() {
  try {
    const r = await api("GET", "/api/reproduce");
    $("command-note").textContent = `${r.steps} steps: ${r.note}`;
    $("command").textContent = r.command || "(no command line for this setting)";
    $("python").textContent = r.python;
    $("reproduce-out").hidden = false;
  } catch (error) {
    showError(error);
  }
}

// ---- the post's steps ----

async function postStep(i) {
  const step = state.choices.post_steps[i];
  if (state.playing) pause();
  $("hint").hidden = true;
  $("story-title").textContent = step.title;
  $("story-caption").textContent = step.caption;
  $("story").hidden = false;
  await applySettings(step.settings);
  if (!state.playing && $("error").textContent === "") play();
}

// A control changed by hand: the post's step shown no longer describes the run.
function changedByHand() {
  $("story").hidden = true;
  applySettings(readSettings());
}

function fillSteps(steps) {
  for (const id of ["post-steps", "hint-steps"]) {
    $(id).innerHTML = steps.map((step, i) =>
      `<button data-step="${i}" title="${step.caption}">${step.title}</button>`).join("");
  }
  for (const button of document.querySelectorAll("[data-step]")) {
    button.addEventListener("click", () => postStep(Number(button.dataset.step)));
  }
}

// ---- start ----

async function start() {
  try {
    state.choices = await api("GET", "/api/choices");
    fillSelect("mode", state.choices.modes);
    fillSelect("dataset", state.choices.mode_datasets.classification);
    LEGENDS.classification = $("regions-legend").textContent;
    fillSelect("activation", state.choices.activations);
    fillSelect("optimizer", state.choices.optimizers);
    fillFeatures(state.choices.features);
    fillSteps(state.choices.post_steps);
    const [negative, positive] = state.choices.palette.sign;
    $("swatch-positive").style.background = positive;
    $("swatch-negative").style.background = negative;
    setState("compiling");
    state.data = await api("GET", "/api/data");
    showSettings(state.data.settings);
    showMode();
    showNotes(state.data.notes);
    drawRegionPoints();
    draw(await api("GET", "/api/frame"));
    setState("ready");
    refreshGradients();
  } catch (error) {
    showError(error);
    setState("error");
  }
  for (const name of FIELDS) {
    $(name).addEventListener("change", () => {
      if (name === "mode") { // the mode's own start: its data set, a network and rate for it
        $("story").hidden = true;
        applySettings({ ...readSettings(), ...state.choices.mode_starts[$("mode").value],
          noise: null });
        return;
      }
      if (name === "dataset") {
        $("csv-row").hidden = $("dataset").value !== "csv";
        $("noise").value = state.choices.default_noise[$("dataset").value] ?? 0;
        if ($("dataset").value === "csv" && !state.csvText) return; // wait for the file
      }
      changedByHand();
    });
  }
  for (const box of document.querySelectorAll("#features input")) {
    box.addEventListener("change", changedByHand);
  }
  $("discretize").addEventListener("change", () => state.frame && drawRegions(state.frame));
  $("hint-play").addEventListener("click", () => state.playing || play());
  $("csv").addEventListener("change", async () => {
    const file = $("csv").files[0];
    if (!file) return;
    state.csvText = await file.text();
    state.csvName = file.name;
    applySettings(readSettings());
  });
  $("play").addEventListener("click", () => (state.playing ? pause() : play()));
  $("step").addEventListener("click", stepOnce);
  $("reset").addEventListener("click", reset);
  $("defaults").addEventListener("click", () => applySettings(state.choices.defaults));
  $("show-test").addEventListener("change", drawRegionPoints);
  $("show-grads").addEventListener("change", refreshGradients);
  $("compare").addEventListener("click", runCompare);
  $("reproduce").addEventListener("click", reproduce);
  $("download").addEventListener("click", downloadParams);
}

start();
