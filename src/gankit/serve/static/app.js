// gankit explorer: plain JavaScript, same-origin requests only (no CDN, no framework).
"use strict";

const $ = (id) => document.getElementById(id);
const api = (name) => `/api/runs/${encodeURIComponent(name)}`;
let run = null;          // the info of the run shown
let runs = [];           // every run of this server (summaries)
let compare = [];        // names of the runs shown beside it
let poll = null;         // refresh timer of a run still training

function showError(msg) {
  $("error").textContent = msg;
  $("error").hidden = !msg;
}

async function getJSON(url) {
  const r = await fetch(url);
  const body = await r.json();
  if (!r.ok) throw new Error(`${r.status}: ${body.detail}`);
  return body;
}

// Latest request wins: while one image request is in flight, only the newest next request is kept.
const loaders = new Map();
function showImage(img, url, init, download) {
  const st = loaders.get(img) || { busy: false, next: null };
  loaders.set(img, st);
  st.next = { url, init, download };
  if (!st.busy) pump(img, st);
}

async function pump(img, st) {
  st.busy = true;
  while (st.next) {
    const { url, init, download } = st.next;
    st.next = null;
    img.dataset.state = "loading";
    try {
      const r = await fetch(url, init);
      if (!r.ok) {
        const body = await r.json().catch(() => ({ detail: r.statusText }));
        throw new Error(`${r.status}: ${body.detail}`);
      }
      const blob = await r.blob();
      const old = img.src;
      await new Promise((resolve, reject) => {
        img.onload = resolve;
        img.onerror = () => reject(new Error("the server sent an unreadable image"));
        img.src = URL.createObjectURL(blob);
      });
      if (old.startsWith("blob:")) URL.revokeObjectURL(old);
      if (download) download.href = img.src;
      img.dataset.url = url;
      img.dataset.state = "ready";
      showError("");
    } catch (e) {
      img.dataset.state = "error";
      showError(e.message);
    }
  }
  st.busy = false;
}

// ------------------------------------------------------------------ deep links: ?run=&compare=&seed=&t=
function readURL() {
  const q = new URLSearchParams(location.search);
  for (const [key, id] of [["seed", "seed"], ["t", "t"], ["n", "n"], ["seed_a", "seed-a"], ["seed_b", "seed-b"]]) {
    if (q.has(key)) $(id).value = q.get(key);
  }
  return { run: q.get("run"), compare: (q.get("compare") || "").split(",").filter(Boolean) };
}

function writeURL() {
  if (!run) return;
  const q = new URLSearchParams();
  q.set("run", run.name);
  if (compare.length) q.set("compare", compare.join(","));
  q.set("seed", $("seed").value);
  q.set("n", $("n").value);
  q.set("seed_a", $("seed-a").value);
  q.set("seed_b", $("seed-b").value);
  q.set("t", $("t").value);
  history.replaceState(null, "", `?${q}`);
}

// ------------------------------------------------------------------ samples (side by side when comparing)
function common(r) {
  const p = new URLSearchParams();
  const label = $("label").value;
  const trunc = $("truncation").value.trim();
  if (r.num_classes && label !== "" && Number(label) < r.num_classes) p.set("label", label);
  if (trunc !== "") p.set("truncation", trunc);
  return p;
}

function sampleURL(r, n) {
  const p = common(r);
  p.set("n", n);
  p.set("seed", $("seed").value);
  return `${api(r.name)}/sample?${p}`;
}

function gridRuns() {
  const byName = new Map(runs.map((r) => [r.name, r]));
  return [run, ...compare.map((n) => byName.get(n)).filter((r) => r && r.kind !== "translation" && r.name !== run.name)];
}

function refreshSamples() {
  if (run.kind === "translation") return;
  const box = $("grids");
  const shown = gridRuns();
  while (box.children.length > shown.length) box.lastElementChild.remove();
  while (box.children.length < shown.length) {
    const fig = document.createElement("figure");
    fig.className = "run-grid";
    const img = document.createElement("img");
    img.className = "pixelated";
    img.dataset.state = "empty";
    const cap = document.createElement("figcaption");
    const a = document.createElement("a");
    a.textContent = "download";
    fig.append(img, cap, a);
    box.append(fig);
  }
  box.classList.toggle("side-by-side", shown.length > 1);
  shown.forEach((r, i) => {
    const fig = box.children[i];
    const img = fig.querySelector("img");
    img.alt = `samples of ${r.name}`;
    fig.querySelector("figcaption").textContent = shown.length > 1 ? `${r.name} (${r.model}, ${r.data})` : "";
    const link = fig.querySelector("a");
    if (link) { link.download = `${r.name}-seed${$("seed").value}.png`; }
    showImage(img, sampleURL(r, $("n").value), undefined, i === 0 ? $("download-grid") : link);
  });
  $("download-grid").download = `${run.name}-seed${$("seed").value}.png`;
  $("download-one").href = sampleURL(run, 1);
  $("download-one").download = `${run.name}-seed${$("seed").value}-1.png`;
  writeURL();
}

function interpParams() {
  const p = common(run);
  p.set("seed_a", $("seed-a").value);
  p.set("seed_b", $("seed-b").value);
  p.set("mode", $("mode").value);
  return p;
}

function refreshInterp() {
  if (run.kind === "translation") return;
  const p = interpParams();
  p.set("t", $("t").value);
  $("t-value").textContent = Number($("t").value).toFixed(2);
  showImage($("interp"), `${api(run.name)}/interpolate?${p}`, undefined, $("download-interp"));
  writeURL();
}

function refreshStrip() {
  if (run.kind === "translation") return;
  const p = interpParams();
  p.set("steps", "8");
  showImage($("strip"), `${api(run.name)}/interpolate?${p}`, undefined, $("download-strip"));
}

// ------------------------------------------------------------------ translation runs
function translateSampled() {
  const p = new URLSearchParams({ direction: $("direction").value, seed: $("t-seed").value, n: "8" });
  showImage($("translated"), `${api(run.name)}/translate?${p}`, undefined, $("download-translated"));
}

function translateUpload() {
  const file = $("upload").files[0];
  if (!file) return;
  const p = new URLSearchParams({ direction: $("direction").value });
  showImage($("translated"), `${api(run.name)}/translate?${p}`, { method: "POST", body: file },
            $("download-translated"));
}

// ------------------------------------------------------------------ evaluation: key numbers first
const KEY_METRICS = [["fid", "FD / FID", "lower is better"], ["kid", "KID", "lower is better"],
                     ["precision", "precision", "samples on the data manifold"],
                     ["recall", "recall", "data covered by samples"],
                     ["class_accuracy", "class accuracy", "labels obeyed"]];

function fmt(v) {
  return typeof v === "number" && !Number.isInteger(v) ? v.toPrecision(4) : String(v);
}

function flatten(obj, prefix, out) {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === "object" && !Array.isArray(v)) flatten(v, key, out);
    else out.push([key, Array.isArray(v) ? JSON.stringify(v) : fmt(v)]);
  }
  return out;
}

function showEval(ev) {
  const box = $("metrics");
  box.replaceChildren();
  const m = ev ? (ev.metrics || ev) : null;
  if (m) {
    const ext = ev.extractor ? ev.extractor.name : null;
    for (const [key, label, meaning] of KEY_METRICS) {
      if (typeof m[key] !== "number") continue;
      const tile = document.createElement("div");
      tile.className = "metric";
      tile.dataset.key = key;
      const name = key === "fid" && ext ? (ext === "inception" ? "FID" : `FD (${ext})`) : label;
      const std = typeof m[`${key}_std`] === "number" ? ` ± ${fmt(m[`${key}_std`])}` : "";
      tile.append(Object.assign(document.createElement("span"), { className: "value", textContent: fmt(m[key]) + std }),
                  Object.assign(document.createElement("span"), { className: "name", textContent: name }),
                  Object.assign(document.createElement("span"), { className: "muted", textContent: meaning }));
      box.append(tile);
    }
    const where = document.createElement("p");
    where.className = "muted";
    where.textContent = ev.n ? `${ev.n} samples vs the ${ev.data} ${ev.split} split` +
      (run.eval_history_count > 1 ? ` · ${run.eval_history_count} evaluations kept in evals/` : "") : "";
    box.append(where);
  }
  const tbody = $("eval-table").tBodies[0];
  tbody.replaceChildren();
  for (const [k, v] of ev ? flatten(ev, "", []) : []) {
    const tr = tbody.insertRow();
    tr.insertCell().textContent = k;
    tr.insertCell().textContent = v;
  }
  $("eval-details").hidden = !ev;
  $("no-eval").hidden = !!ev;
}

// ------------------------------------------------------------------ report.md, rendered (DOM nodes, no innerHTML)
function inline(text, parent) {
  const re = /!\[([^\]]*)\]\(([^)]+)\)|\[([^\]]+)\]\(([^)]+)\)|\*\*([^*]+)\*\*|`([^`]+)`/g;
  let last = 0;
  for (const m of text.matchAll(re)) {
    parent.append(text.slice(last, m.index));
    if (m[2] !== undefined) parent.append(runImage(m[2], m[1]));
    else if (m[4] !== undefined) {
      const a = document.createElement("a");
      a.textContent = m[3];
      a.href = runFile(m[4]) || m[4];
      parent.append(a);
    } else if (m[5] !== undefined) parent.append(Object.assign(document.createElement("strong"), { textContent: m[5] }));
    else parent.append(Object.assign(document.createElement("code"), { textContent: m[6] }));
    last = m.index + m[0].length;
  }
  parent.append(text.slice(last));
}

function runFile(name) {
  return run.files[name] || null;
}

function runImage(src, alt, width) {
  const img = document.createElement("img");
  img.alt = alt;
  const url = runFile(src);
  if (url) img.src = url;
  img.className = "pixelated native";
  if (width) img.style.width = `min(${width}px, 100%)`;
  return img;
}

function renderMarkdown(md, box) {
  box.replaceChildren();
  const lines = md.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith("```")) {
      const code = [];
      for (i++; i < lines.length && !lines[i].startsWith("```"); i++) code.push(lines[i]);
      const d = document.createElement("details");
      d.append(Object.assign(document.createElement("summary"), { textContent: "code" }),
               Object.assign(document.createElement("pre"), { textContent: code.join("\n") }));
      box.append(d);
    } else if (/^#{1,6} /.test(line)) {
      const level = Math.min(6, line.indexOf(" "));
      const h = document.createElement(`h${level}`);
      inline(line.replace(/^#+ /, ""), h);
      box.append(h);
    } else if (line.startsWith("|")) {
      const table = document.createElement("table");
      for (; i < lines.length && lines[i].startsWith("|"); i++) {
        if (/^\|[\s|:-]+\|$/.test(lines[i])) continue;
        const tr = table.insertRow();
        for (const cell of lines[i].slice(1, -1).split("|")) inline(cell.trim(), tr.insertCell());
      }
      i--;
      box.append(Object.assign(document.createElement("div"), { className: "scroll" }));
      box.lastChild.append(table);
    } else if (line.startsWith("- ")) {
      const ul = document.createElement("ul");
      for (; i < lines.length && lines[i].startsWith("- "); i++) {
        const li = document.createElement("li");
        inline(lines[i].slice(2), li);
        ul.append(li);
      }
      i--;
      box.append(ul);
    } else if (line.startsWith("<img ")) {
      const src = (line.match(/src="([^"]+)"/) || [])[1];
      const alt = (line.match(/alt="([^"]*)"/) || [])[1] || "";
      const width = (line.match(/width="(\d+)"/) || [])[1];
      if (src) box.append(runImage(src, alt, width));
    } else if (line.trim()) {
      const p = document.createElement("p");
      inline(line, p);
      box.append(p);
    }
  }
}

// ------------------------------------------------------------------ training: progress, samples over training, curves
function showTraining(info, first) {
  const pr = info.progress || {};
  $("progress").textContent = pr.step == null ? "" :
    `step ${pr.step}${pr.steps ? ` of ${pr.steps}` : ""}` + (pr.checkpoint ? ` · newest checkpoint ${pr.checkpoint}` : "") +
    (pr.running ? " · still training: refreshed as checkpoints and curves land" : "");
  $("progress").dataset.running = pr.running ? "1" : "0";
  const m = info.last_metrics;
  $("last-metrics").textContent = m
    ? `step ${m.step}: D loss ${fmt(m.d_loss)}, G loss ${fmt(m.g_loss)}, D(x) ${fmt(m.d_real)}, D(G(z)) ${fmt(m.d_fake)}`
    : "no metrics logged";
  const steps = info.sample_steps || [];
  $("steps-box").hidden = !steps.length;
  if (steps.length) {
    const slider = $("step");
    const atEnd = first || Number(slider.value) >= Number(slider.max);
    slider.max = String(steps.length - 1);
    if (atEnd) slider.value = slider.max;
    showStep();
  }
  const curves = info.files["curves.png"];
  $("curves").hidden = !curves;
  $("no-curves").hidden = !!curves;
  if (curves) $("curves").src = `${curves}?v=${pr.step ?? 0}`;
}

function showStep() {
  const steps = run.sample_steps;
  const step = steps[Number($("step").value)];
  $("step-value").textContent = String(step);
  showImage($("step-grid"), `${api(run.name)}/steps/${step}`);
}

async function fetchText(url) {
  const r = await fetch(url);
  return r.ok ? r.text() : "";
}

async function loadRun(name, first) {
  run = await getJSON(api(name));
  const c = run.config;
  const translation = run.kind === "translation";
  $("run-summary").textContent = `${c.model} / ${c.loss} on ${c.data}` +
    (translation ? ` · translates ${run.directions.join(", ")}` : ` · z_dim ${run.z_dim}`) +
    (run.num_classes ? ` · ${run.num_classes} classes` : "");
  $("run").value = name;
  for (const id of ["samples-panel", "interp-panel"]) $(id).hidden = translation;
  $("translate-panel").hidden = !translation;
  $("n").max = run.limits.max_n;
  const sel = $("label");
  const keep = sel.value;
  sel.length = 1;
  for (let k = 0; k < run.num_classes; k++) sel.add(new Option(String(k), String(k)));
  sel.value = Number(keep) < run.num_classes ? keep : "";
  $("label-box").hidden = !run.num_classes;
  showEval(run.eval);
  showTraining(run, true);
  renderMarkdown(run.files["report.md"] ? await fetchText(run.files["report.md"]) : "no report.md", $("report"));
  buildCompareList();
  if (translation) {
    const d = $("direction");
    d.replaceChildren(...run.directions.map((x) => new Option(x === "ab" ? "A → B" : "B → A", x)));
    translateSampled();
  } else {
    refreshSamples();
    refreshInterp();
    refreshStrip();
  }
  writeURL();
  clearInterval(poll);
  if (run.progress && run.progress.running) poll = setInterval(() => refreshLive(name), 3000);
}

async function refreshLive(name) {
  if (!run || run.name !== name) return;
  const info = await getJSON(api(name)).catch(() => null);
  if (!info) return;
  run = info;
  showTraining(info, false);
  if (info.progress.reloaded && info.kind !== "translation") { refreshSamples(); refreshInterp(); refreshStrip(); }
  if (!info.progress.running) {
    clearInterval(poll);
    showEval(info.eval);
  }
}

function buildCompareList() {
  const box = $("compare-list");
  box.replaceChildren();
  for (const r of runs) {
    if (r.name === run.name || r.kind === "translation") continue;
    const label = document.createElement("label");
    const cb = Object.assign(document.createElement("input"), { type: "checkbox", value: r.name,
                                                                checked: compare.includes(r.name) });
    cb.addEventListener("change", () => {
      compare = [...box.querySelectorAll("input:checked")].map((x) => x.value);
      refreshSamples();
    });
    label.append(cb, ` ${r.name} (${r.model}, ${r.data})`);
    box.append(label);
  }
  $("compare-box").hidden = !box.children.length || run.kind === "translation";
}

async function main() {
  const wanted = readURL();
  runs = await getJSON("/api/runs");
  for (const r of runs) $("run").add(new Option(`${r.name} (${r.model}, ${r.data})`, r.name));
  compare = wanted.compare;
  $("run").addEventListener("change", () => loadRun($("run").value).catch((e) => showError(e.message)));
  $("sample-form").addEventListener("submit", (e) => { e.preventDefault(); refreshSamples(); });
  $("new-samples").addEventListener("click", () => {
    $("seed").value = Math.floor(Math.random() * 2 ** 31);
    refreshSamples();
  });
  for (const id of ["label", "truncation"]) {
    $(id).addEventListener("change", () => { refreshSamples(); refreshInterp(); refreshStrip(); });
  }
  for (const id of ["seed-a", "seed-b", "mode"]) {
    $(id).addEventListener("change", () => { refreshInterp(); refreshStrip(); });
  }
  $("interp-form").addEventListener("submit", (e) => e.preventDefault());
  $("t").addEventListener("input", refreshInterp);
  $("step").addEventListener("input", showStep);
  $("translate-form").addEventListener("submit", (e) => { e.preventDefault(); translateSampled(); });
  $("direction").addEventListener("change", translateSampled);
  $("upload").addEventListener("change", translateUpload);
  const start = runs.some((r) => r.name === wanted.run) ? wanted.run : runs[0].name;
  await loadRun(start, true);
  // the Lab tab, when this server runs the lab too (gankit serve --lab)
  getJSON("/api/features").then((f) => { $("lab-tab").hidden = !f.lab; }).catch(() => {});
}

main().catch((e) => showError(e.message));
