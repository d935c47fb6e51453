// gankit lab: the page. Settings live in the URL (deep links); each panel is one server-side run,
// streamed by Server-Sent Events. No dependencies: canvas 2-D only.
"use strict";
const $ = (s, el = document) => el.querySelector(s);
const TAB = sessionStorage.getItem("gankit-lab-tab") || Math.random().toString(36).slice(2, 12);
sessionStorage.setItem("gankit-lab-tab", TAB);
const form = $("#settings");
let OPTS = null, points = [], running = false, resetTimer = null;
const panels = {};

function f32(b64) {
  const s = atob(b64), u = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) u[i] = s.charCodeAt(i);
  return new Float32Array(u.buffer);
}
function showError(msg) { const e = $("#error"); e.textContent = msg; e.hidden = !msg; }

async function api(method, url, body) {
  const r = await fetch(url, {method, headers: {"content-type": "application/json"},
                              body: body === undefined ? undefined : JSON.stringify(body)});
  const data = r.status === 204 ? null : await r.json().catch(() => null);
  if (!r.ok) throw new Error(`${r.status}: ${data && data.detail || r.statusText}`);
  return data;
}

// ------------------------------------------------------------------ settings <-> form <-> URL
function formSettings() {
  const out = {};
  for (const el of form.elements) {
    if (!el.name) continue;
    if (el.type === "checkbox") { if (el.checked) out[el.name] = true; continue; }
    const v = el.value.trim();
    if (v === "" || String(OPTS.defaults[el.name]) === v || (Array.isArray(OPTS.defaults[el.name]) && OPTS.defaults[el.name].join(",") === v)) continue;
    out[el.name] = v;
  }
  if (!out.data) out.data = form.elements.data.value;
  return out;
}
function fillForm(q) {
  for (const el of form.elements) {
    if (!el.name) continue;
    const d = OPTS.defaults[el.name], v = q.has(el.name) ? q.get(el.name) : (d === null ? "" : Array.isArray(d) ? d.join(",") : String(d));
    if (el.type === "checkbox") el.checked = v === "true" || v === "1"; else el.value = v;
  }
}
function parseOver(text) {
  const out = {};
  for (const part of text.split(",").map(s => s.trim()).filter(Boolean)) {
    const [k, v] = part.split("=").map(s => s && s.trim());
    if (!k || v === undefined) throw new Error(`B overrides: write name=value, got ${JSON.stringify(part)}`);
    out[k] = v;
  }
  return out;
}
function writeUrl(s) {
  const q = new URLSearchParams(s);
  if ($("#compare").checked) { q.set("compare", "1"); q.set("b.loss", $("#b-loss").value); if ($("#b-over").value.trim()) q.set("b.over", $("#b-over").value.trim()); }
  if ($("#speed").value !== "0") q.set("speed", $("#speed").value);
  for (const id of ["dstar", "manifold"]) if ($(`#show-${id}`).checked) q.set(id, "1");
  for (const id of ["heat", "arrows"]) if (!$(`#show-${id}`).checked) q.set(id, "0");
  history.replaceState(null, "", `${location.pathname}?${q}`);
}

// ------------------------------------------------------------------ panels
function makePanel(slot) {
  const sec = $(`#panel-${slot}`);
  sec.replaceChildren($("#panel-tpl").content.cloneNode(true));
  const p = {slot, sec, id: null, es: null, hello: null, frame: null, history: [], frames: 0,
             plane: $(".plane", sec), real: null};
  sec.dataset.frames = "0"; sec.dataset.step = "0"; sec.dataset.modes = "";
  panels[slot] = p;
  attachDrawing(p);
  return p;
}

async function start(p, settings) {
  stop(p);
  $(".title", p.sec).textContent = `${p.slot.toUpperCase()}: ${settings.loss || OPTS.defaults.loss} on ${settings.data}`;
  const body = {tab: TAB, slot: p.slot, settings: {...settings}};
  if (settings.data === "custom") body.settings.points = points;
  const r = await api("POST", "/api/lab/sessions", body);
  p.id = r.id; p.history = []; p.frames = 0;
  p.es = new EventSource(r.stream);
  p.es.onmessage = ev => onMessage(p, JSON.parse(ev.data));
  await control(p, "set");
  if (running) await control(p, "play");
}
function stop(p) {
  if (p.es) p.es.close();
  if (p.id) navigator.sendBeacon(`/api/lab/sessions/${p.id}/end`);
  p.es = null; p.id = null;
}
async function control(p, action) {
  if (!p.id) return null;
  return api("POST", `/api/lab/sessions/${p.id}/control`, {action, speed: Number($("#speed").value), dstar: $("#show-dstar").checked});
}
function active() { return Object.values(panels).filter(p => !p.sec.hidden && p.id); }
async function all(action) {
  try { showError(""); await Promise.all(active().map(p => control(p, action))); }
  catch (e) { showError(e.message); }
}

function onMessage(p, m) {
  if (m.type === "hello") { p.hello = m; $(".plane", p.sec).hidden = m.dim !== 2; $(".fig1", p.sec).hidden = m.dim !== 1; p.real = f32(m.real); p.history = m.history.slice(); if (m.frame) onFrame(p, m.frame, true); return; }
  if (m.type === "frame") onFrame(p, m, m.full);
  if (m.type === "end") { $(".status", p.sec).textContent += " · ended"; if (p.es) p.es.close(); }
}

function onFrame(p, f, full) {
  if (full) p.history = f.history_tail.slice();
  else for (const r of f.history_tail) if (!p.history.length || r[0] > p.history[p.history.length - 1][0]) p.history.push(r);
  if (p.history.length > 1200) p.history = p.history.filter((_, i) => i % 2);
  p.frame = f; p.frames++;
  const s = p.sec.dataset;
  s.frames = String(p.frames); s.step = String(f.step); s.dSteps = String(f.d_steps); s.status = f.status;
  $(".status", p.sec).textContent = `step ${f.step}/${f.steps} · D steps ${f.d_steps} (k=${f.n_critic}, ${f.k_done} done) · ${f.status} · ${f.steps_per_s} steps/s`;
  if (f.error) showError(f.error);
  if (f.metrics) {
    s.modes = String(f.metrics.modes);
    $(".metrics", p.sec).textContent = `modes captured ${f.metrics.modes}/${f.metrics.num_modes} (strict ${f.metrics.modes_strict}/${f.metrics.num_modes}) · high quality ${(100 * f.metrics.high_quality).toFixed(1)}% · reverse KL ${f.metrics.reverse_kl === null ? "n/a" : f.metrics.reverse_kl.toFixed(3)}`;
    $(".rule", p.sec).textContent = "Counting rule: " + p.hello.modes.rule;
  } else {
    $(".metrics", p.sec).textContent = `D(x) ${fmt(f.d_real_mean)} · D(G(z)) ${fmt(f.d_fake_mean)}`;
  }
  const a = f32(f.arrows), dim = p.hello.dim; let sum = 0;
  for (let i = 0; i < a.length; i += dim) sum += Math.hypot(a[i], dim === 2 ? a[i + 1] : 0);
  s.arrowNorm = String(sum / (a.length / dim));
  $(".metrics", p.sec).textContent += ` · mean |∇ℓ_G| per point ${(sum / (a.length / dim)).toPrecision(3)}`;
  if (p.hello.dim === 2) drawPlane(p); else drawFigure1(p);
  drawCharts(p);
}
const fmt = v => v === null || v === undefined ? "n/a" : Number(v).toFixed(3);

// ------------------------------------------------------------------ drawing
function toPx(p, x, y) {
  const [x0, x1, y0, y1] = p.hello.box, c = p.plane;
  return [(x - x0) / (x1 - x0) * c.width, (y1 - y) / (y1 - y0) * c.height];
}
function colour(v) {  // v in [0,1]: purple (fake) .. white .. green (real)
  const t = Math.max(0, Math.min(1, v)), a = Math.abs(t - 0.5) * 2;
  return t >= 0.5 ? [255 - a * 200, 255 - a * 90, 255 - a * 180] : [255 - a * 132, 255 - a * 192, 255 - a * 79];
}
function heatValues(p) {
  const f = p.frame, dstar = $("#show-dstar").checked && f.dstar;
  let v = f32(dstar ? f.dstar : f.heat);
  if (!dstar && !p.hello.probabilistic) {  // a critic: its own range
    let lo = Infinity, hi = -Infinity; for (const x of v) { lo = Math.min(lo, x); hi = Math.max(hi, x); }
    v = v.map(x => (x - lo) / (hi - lo || 1));
  }
  return v;
}
function drawPlane(p) {
  const c = p.plane, g = c.getContext("2d"), f = p.frame, n = p.hello.heat_n;
  if ($("#show-heat").checked) {
    const v = heatValues(p), img = new ImageData(n, n);
    for (let i = 0; i < n * n; i++) { const [r, gg, b] = colour(v[i]); img.data.set([r, gg, b, 255], 4 * i); }
    const off = document.createElement("canvas"); off.width = off.height = n;
    off.getContext("2d").putImageData(img, 0, 0);
    g.imageSmoothingEnabled = true; g.drawImage(off, 0, 0, c.width, c.height);
  } else { g.fillStyle = "#fff"; g.fillRect(0, 0, c.width, c.height); }
  if ($("#show-manifold").checked) {
    const m = f32(f.manifold), per = 25; g.strokeStyle = "rgba(90,40,140,.45)"; g.lineWidth = 1;
    for (let l = 0; l < m.length / 2 / per; l++) {
      g.beginPath();
      for (let j = 0; j < per; j++) { const k = 2 * (l * per + j), [x, y] = toPx(p, m[k], m[k + 1]); j ? g.lineTo(x, y) : g.moveTo(x, y); }
      g.stroke();
    }
  }
  dots(p, g, p.real, "rgba(27,158,62,.55)");
  const fake = f32(f.fake); dots(p, g, fake, "rgba(123,63,176,.75)");
  if (p.slot && drawnPoints(p)) dots(p, g, new Float32Array(points.flat()), "rgba(0,0,0,.6)");
  if ($("#show-arrows").checked) {
    const a = f32(f.arrows); let mx = 1e-12;
    for (let i = 0; i < a.length; i += 2) mx = Math.max(mx, Math.hypot(a[i], a[i + 1]));
    const scale = 0.07 * (p.hello.box[1] - p.hello.box[0]) / mx;
    g.strokeStyle = "rgba(40,40,40,.7)"; g.beginPath();
    for (let i = 0; i < Math.min(a.length, 400); i += 2) {
      const [x, y] = toPx(p, fake[i], fake[i + 1]), [x2, y2] = toPx(p, fake[i] + scale * a[i], fake[i + 1] + scale * a[i + 1]);
      g.moveTo(x, y); g.lineTo(x2, y2);
    }
    g.stroke();
  }
}
function dots(p, g, xy, style) {
  g.fillStyle = style;
  for (let i = 0; i < xy.length; i += 2) { const [x, y] = toPx(p, xy[i], xy[i + 1]); g.fillRect(x - 1.5, y - 1.5, 3, 3); }
}
// Goodfellow et al. 2014, Figure 1, live: the latest iteration of Algorithm 1 in four panels, each with
// p_data (black dots), p_g (green: a KDE of G's samples), D (blue dashes), D* (orange dots) and x = G(z)
// (lines from the z-axis below to the x-axis; z at N(0,1)'s quantiles, so each line is 1/25 of G's mass).
const FIG1 = {a: "(a) before the D steps", b: "(b) after the D steps", c: "(c) after the G step",
              d: "(d) equilibrium: p_g = p_data, D = 1/2"};
function figurePanels(p) {
  const f = p.frame, F = f.fig1, b = F.before, k = f.heat && f32(f.heat).length;
  const before = {gz: f32(F.gz_before), pg: f32(F.p_g_before), d: f32(F.d_before), ds: f32(F.dstar_before)};
  const now = {gz: f32(F.gz), pg: f32(f.p_g), d: f32(f.heat), ds: f32(f.dstar)};
  let afterD = f32(F.d_after_d);
  if (!p.hello.probabilistic) {  // a critic: one range for its values in the three panels
    const all3 = normalise([...before.d, ...afterD, ...now.d]);
    before.d = all3.slice(0, k); afterD = all3.slice(k, 2 * k); now.d = all3.slice(2 * k);
  }
  return {
    a: {...before, note: `G and D at step ${b.step}, ${b.d_steps} D steps`},
    b: {...before, d: afterD, ghostD: before.d, note: `D after ${f.d_steps - b.d_steps} D step(s), G as in (a)`},
    c: F.pending ? {...before, d: afterD, pending: true, note: `pending: ${f.k_done} of k=${f.n_critic} D steps done, press G step`}
                 : {...now, ghostPg: before.pg, note: `G after its step ${f.step}, D as in (b)`},
    d: {...now, d: new Float32Array(k).fill(0.5),
        note: `V(G, D*) ${gameValue(p, f32(p.hello.data_density), now.pg, now.ds).toFixed(3)}; −log 4 = −1.386 at p_g = p_data`},
  };
}
// V(G, D*) = ∫ p_data log D* + p_g log(1 − D*) dx (Eq. 1 at D*; = −log 4 + 2·JSD, Theorem 1), on the plotted grid
function gameValue(p, pd, pg, ds) {
  const [x0, x1] = p.hello.box, dx = (x1 - x0) / pd.length; let v = 0;
  for (let i = 0; i < pd.length; i++) {
    if (pd[i] > 0 && ds[i] > 0) v += pd[i] * Math.log(ds[i]) * dx;
    if (pg[i] > 0 && ds[i] < 1) v += pg[i] * Math.log(1 - ds[i]) * dx;
  }
  return v;
}
function drawFigure1(p) {  // densities to one scale, p_data's peak at 0.8 (a narrow p_g is clipped at the top)
  const panels1 = figurePanels(p), pd = f32(p.hello.data_density), z = f32(p.hello.fig1_z);
  let mx = 1e-9; for (const v of pd) mx = Math.max(mx, v / 0.8);
  for (const [key, q] of Object.entries(panels1)) drawFigurePanel(p, $(`.fig1-${key}`, p.sec), key, q, pd, z, mx);
}
function drawFigurePanel(p, c, key, q, pd, z, mx) {
  const g = c.getContext("2d"), [x0, x1] = p.hello.box, W = c.width, H = c.height, k = q.d.length;
  g.fillStyle = "#fff"; g.fillRect(0, 0, W, H);
  const top = 30, base = H * 0.66, zb = H - 14, X = x => (x - x0) / (x1 - x0) * W, Y = v => base - v * (base - top);
  const xs = Array.from({length: k}, (_, i) => x0 + (i + 0.5) / k * (x1 - x0)), drawn = {};
  const curve = (name, vals, style, dash, w = 2) => {
    g.strokeStyle = style; g.setLineDash(dash); g.lineWidth = w; g.beginPath(); let n = 0;
    vals.forEach((v, i) => { if (!isFinite(v)) return; n ? g.lineTo(X(xs[i]), Y(v)) : g.moveTo(X(xs[i]), Y(v)); n++; });
    g.stroke(); g.setLineDash([]); g.lineWidth = 1; if (name) drawn[name] = n;
  };
  g.fillStyle = "#000"; let nd = 0;
  pd.forEach((v, i) => { if (i % 3 === 0) { g.fillRect(X(xs[i]) - 1.5, Y(v / mx) - 1.5, 3, 3); nd++; } });
  drawn.p_data = nd;
  const density = v => Array.from(v, x => Math.min(x / mx, 1));
  if (q.ghostPg) curve("", density(q.ghostPg), "rgba(27,158,62,.3)", []);
  curve("p_g", density(q.pg), "#1b9e3e", []);
  if (q.ghostD) curve("", q.ghostD, "rgba(36,99,201,.3)", [6, 4]);
  curve("D", q.d, "#2463c9", [6, 4]);
  curve("D*", q.ds, "#e08a00", [2, 3], 1.5);
  g.strokeStyle = "#000"; g.beginPath(); g.moveTo(0, base); g.lineTo(W, base); g.moveTo(0, zb); g.lineTo(W, zb); g.stroke();
  g.strokeStyle = "rgba(0,0,0,.5)"; g.beginPath(); let nm = 0;
  for (let i = 0; i < z.length; i++) if (isFinite(q.gz[i])) { g.moveTo(X(z[i]), zb); g.lineTo(X(q.gz[i]), base); nm++; }
  g.stroke(); drawn.map = nm;
  g.fillStyle = q.pending ? "#999" : "#222"; g.font = "bold 12px sans-serif"; g.fillText(FIG1[key], 4, 13);
  g.font = "11px sans-serif"; g.fillStyle = "#666"; g.fillText(q.note, 4, 26);
  g.fillText("x", W - 10, base - 3); g.fillText("z", W - 10, zb - 3);
  c.dataset.drawn = JSON.stringify(drawn); c.dataset.pending = q.pending ? "1" : "0";
}
function normalise(v) { let lo = Math.min(...v), hi = Math.max(...v); return Array.from(v, x => (x - lo) / (hi - lo || 1)); }

function drawCharts(p) {
  const h = p.history, series = [[".loss", [[1, "#7b3fb0", "D loss"], [2, "#1b9e3e", "G loss"]]],
    [".dout", [[3, "#1b9e3e", "D(x)"], [4, "#7b3fb0", "D(G(z))"]]], [".gnorm", [[5, "#7b3fb0", "|∇D|"], [6, "#1b9e3e", "|∇G|"]]]];
  for (const [sel, lines] of series) {
    const c = $(sel, p.sec), g = c.getContext("2d"), W = c.width, H = c.height;
    g.fillStyle = "#fff"; g.fillRect(0, 0, W, H);
    let lo = Infinity, hi = -Infinity;
    for (const r of h) for (const [j] of lines) if (r[j] !== null && isFinite(r[j])) { lo = Math.min(lo, r[j]); hi = Math.max(hi, r[j]); }
    if (!isFinite(lo) || h.length < 2) continue;
    if (hi - lo < 1e-9) { hi += 0.5; lo -= 0.5; }
    const s0 = h[0][0], s1 = h[h.length - 1][0];
    lines.forEach(([j, col, name], li) => {
      g.strokeStyle = col; g.beginPath();
      h.forEach((r, i) => { if (r[j] === null) return; const x = (r[0] - s0) / (s1 - s0 || 1) * (W - 4) + 2, y = H - 14 - (r[j] - lo) / (hi - lo) * (H - 26);
        i ? g.lineTo(x, y) : g.moveTo(x, y); });
      g.stroke(); g.fillStyle = col; g.font = "11px sans-serif"; g.fillText(`${name} ${fmt(h[h.length - 1][j])}`, 4 + 110 * li, H - 2);
    });
    g.fillStyle = "#888"; g.fillText(`${hi.toPrecision(3)}`, W - 46, 10); g.fillText(`${lo.toPrecision(3)}`, W - 46, H - 16);
  }
}

// ------------------------------------------------------------------ custom points
function drawnPoints(p) { return form.elements.data.value === "custom" && points.length; }
function setPoints(pts) { points = pts.slice(0, OPTS.limits.max_points); $("#n-points").textContent = `${points.length} points`; }
function attachDrawing(p) {
  let down = false;
  const add = ev => {
    if (form.elements.data.value !== "custom" || !p.hello || p.hello.dim !== 2) return;
    const r = p.plane.getBoundingClientRect(), [x0, x1, y0, y1] = p.hello.box;
    const x = x0 + (ev.clientX - r.left) / r.width * (x1 - x0), y = y1 - (ev.clientY - r.top) / r.height * (y1 - y0);
    const sd = 0.01 * (x1 - x0), add = [];
    for (let i = 0; i < 4; i++) add.push([x + sd * gauss(), y + sd * gauss()]);
    setPoints(points.concat(add)); drawPlane(p);
  };
  p.plane.addEventListener("pointerdown", ev => { down = true; add(ev); });
  p.plane.addEventListener("pointermove", ev => { if (down) add(ev); });
  window.addEventListener("pointerup", () => { if (down && form.elements.data.value === "custom") scheduleReset(); down = false; });
}
function gauss() { return Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random()); }
function parseCsv(text) {
  const pts = [];
  for (const [i, line] of text.split(/\r?\n/).entries()) {
    if (!line.trim() || (i === 0 && /[a-df-z]/i.test(line))) continue;  // blank, or a header
    const [x, y] = line.split(/[,;\s]+/).filter(Boolean).map(Number);
    if (!isFinite(x) || !isFinite(y)) throw new Error(`CSV line ${i + 1}: need two numbers x,y, got ${JSON.stringify(line)}`);
    pts.push([x, y]);
  }
  return pts;
}

// ------------------------------------------------------------------ reset (a new run for each panel)
// resets run one after another: two at once would race for the same panel's run (the server replaces a
// tab's run in a slot, so the first one's stream and controls would meet a 404)
let resetChain = Promise.resolve();
function queueReset() { return (resetChain = resetChain.then(reset, reset)); }
function scheduleReset() { clearTimeout(resetTimer); resetTimer = setTimeout(queueReset, 250); }
async function reset() {
  showError("");
  const s = formSettings();
  $("#custom-box").hidden = s.data !== "custom";
  writeUrl(s);
  if (s.data === "custom" && points.length < 8) {
    if (!panels.a.hello || panels.a.hello.dim !== 2) await start(panels.a, {...s, data: "ring"}).catch(e => showError(e.message));
    showError("custom data: draw at least 8 points on the plane (or upload a CSV), then they train");
    return;
  }
  const cmp = $("#compare").checked;
  $("#panel-b").hidden = !cmp; $("#b-box").hidden = !cmp;
  try {
    const jobs = [start(panels.a, s)];
    if (cmp) jobs.push(start(panels.b, {...s, loss: $("#b-loss").value, ...parseOver($("#b-over").value)}));
    else stop(panels.b);
    await Promise.all(jobs);
  } catch (e) { showError(e.message); }
}

async function main() {
  OPTS = await api("GET", "/api/lab/options");
  for (const d of OPTS.data) form.elements.data.add(new Option(d, d));
  for (const l of OPTS.losses) { form.elements.loss.add(new Option(l, l)); $("#b-loss").add(new Option(l, l)); }
  const q = new URLSearchParams(location.search);
  fillForm(q);
  $("#compare").checked = q.get("compare") === "1";
  $("#b-loss").value = q.get("b.loss") || "minimax";
  $("#b-over").value = q.get("b.over") || "";
  if (q.get("speed")) $("#speed").value = q.get("speed");
  $("#show-dstar").checked = q.get("dstar") === "1"; $("#show-manifold").checked = q.get("manifold") === "1";
  $("#show-heat").checked = q.get("heat") !== "0"; $("#show-arrows").checked = q.get("arrows") !== "0";
  if (location.pathname !== "/" && document.referrer === "") $("#explorer-link").hidden = true;
  makePanel("a"); makePanel("b");
  form.addEventListener("change", scheduleReset);
  form.addEventListener("submit", ev => ev.preventDefault());
  for (const id of ["#compare", "#b-loss", "#b-over"]) $(id).addEventListener("change", scheduleReset);
  $("#show-dstar").addEventListener("change", () => all("set"));
  for (const id of ["#show-dstar", "#show-heat", "#show-arrows", "#show-manifold"]) $(id).addEventListener("change", () => {
    writeUrl(formSettings()); for (const p of active()) if (p.frame) onFrame(p, {...p.frame, history_tail: []}, false); });
  $("#play").addEventListener("click", async () => {
    running = !running; $("#play").textContent = running ? "pause" : "play"; await all(running ? "play" : "pause"); });
  const single = action => async () => { running = false; $("#play").textContent = "play"; await all(action); };
  $("#step").addEventListener("click", single("step"));
  $("#d-step").addEventListener("click", single("d_step"));
  $("#g-step").addEventListener("click", single("g_step"));
  $("#speed").addEventListener("change", () => { writeUrl(formSettings()); all("set"); });
  $("#reset").addEventListener("click", queueReset);
  $("#csv").addEventListener("change", async ev => {
    try { setPoints(parseCsv(await ev.target.files[0].text())); await queueReset(); } catch (e) { showError(e.message); } });
  $("#clear-points").addEventListener("click", () => { setPoints([]); });
  window.addEventListener("pagehide", () => Object.values(panels).forEach(stop));
  await queueReset();
  document.body.dataset.ready = "1";
}
main().catch(e => showError(e.message));
