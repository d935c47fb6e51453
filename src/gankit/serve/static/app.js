// gankit explorer: plain JavaScript, same-origin requests only (no CDN, no framework).
"use strict";

const $ = (id) => document.getElementById(id);
let run = null;

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

// Latest request wins: while one image request is in flight, only the newest next URL is kept.
const loaders = new Map();
function showImage(img, url) {
  const st = loaders.get(img) || { busy: false, next: null };
  loaders.set(img, st);
  st.next = url;
  if (!st.busy) pump(img, st);
}

async function pump(img, st) {
  st.busy = true;
  while (st.next) {
    const url = st.next;
    st.next = null;
    img.dataset.state = "loading";
    try {
      const r = await fetch(url);
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

function common() {
  const p = new URLSearchParams();
  const label = $("label").value;
  const trunc = $("truncation").value.trim();
  if (run && run.num_classes && label !== "") p.set("label", label);
  if (trunc !== "") p.set("truncation", trunc);
  return p;
}

function refreshSamples() {
  const p = common();
  p.set("n", $("n").value);
  p.set("seed", $("seed").value);
  showImage($("grid"), `/api/runs/${encodeURIComponent(run.name)}/sample?${p}`);
}

function interpParams() {
  const p = common();
  p.set("seed_a", $("seed-a").value);
  p.set("seed_b", $("seed-b").value);
  p.set("mode", $("mode").value);
  return p;
}

function refreshInterp() {
  const p = interpParams();
  p.set("t", $("t").value);
  $("t-value").textContent = Number($("t").value).toFixed(2);
  showImage($("interp"), `/api/runs/${encodeURIComponent(run.name)}/interpolate?${p}`);
}

function refreshStrip() {
  const p = interpParams();
  p.set("steps", "8");
  showImage($("strip"), `/api/runs/${encodeURIComponent(run.name)}/interpolate?${p}`);
}

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

async function fetchText(url) {
  const r = await fetch(url);
  return r.ok ? r.text() : "";
}

async function loadRun(name) {
  run = await getJSON(`/api/runs/${encodeURIComponent(name)}`);
  const c = run.config;
  $("run-summary").textContent =
    `${c.model} / ${c.loss} on ${c.data} · z_dim ${run.z_dim}` + (run.num_classes ? ` · ${run.num_classes} classes` : "");
  $("n").max = run.limits.max_n;
  const sel = $("label");
  sel.length = 1;
  for (let k = 0; k < run.num_classes; k++) sel.add(new Option(String(k), String(k)));
  $("label-box").hidden = !run.num_classes;

  const m = run.last_metrics;
  $("last-metrics").textContent = m
    ? `step ${m.step}: D loss ${fmt(m.d_loss)}, G loss ${fmt(m.g_loss)}, D(x) ${fmt(m.d_real)}, D(G(z)) ${fmt(m.d_fake)}`
    : "no metrics logged";
  const curves = run.files["curves.png"];
  $("curves").hidden = !curves;
  $("no-curves").hidden = !!curves;
  if (curves) $("curves").src = curves;

  const tbody = $("eval-table").tBodies[0];
  tbody.replaceChildren();
  if (run.eval) {
    for (const [k, v] of flatten(run.eval, "", [])) {
      const tr = tbody.insertRow();
      tr.insertCell().textContent = k;
      tr.insertCell().textContent = v;
    }
  }
  const evalMd = run.files["eval.md"] && !run.eval ? await fetchText(run.files["eval.md"]) : "";
  $("eval-md").textContent = evalMd;
  $("eval-table").hidden = !run.eval;
  $("eval-md").hidden = !evalMd;
  $("no-eval").hidden = !!(run.eval || evalMd);
  $("report").textContent = run.files["report.md"] ? await fetchText(run.files["report.md"]) : "no report.md";

  refreshSamples();
  refreshInterp();
  refreshStrip();
}

async function main() {
  const runs = await getJSON("/api/runs");
  for (const r of runs) $("run").add(new Option(`${r.name} (${r.model}, ${r.data})`, r.name));
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
  await loadRun(runs[0].name);
  // the Lab tab, when this server runs the lab too (gankit serve --lab)
  getJSON("/api/features").then((f) => { $("lab-tab").hidden = !f.lab; }).catch(() => {});
}

main().catch((e) => showError(e.message));
