// The step view, in the browser (``js_on_load`` of the results block in demo/ui.py):
// ``element`` is the block; its ``.results`` carries the one data channel (demo/views.py,
// step_data): steps, α rows, choices, where each map's grid sits, and the permalink.
// The markup is demo/results.html.
// Choosing step t marks row t in every heatmap, shades each variant's source tokens by α_t,
// highlights the t-th output token and redraws the α_t chart and the choices: no server call.
// Under each map the line view joins source and output tokens by lines as opaque as α; hovering
// a map cell marks the same (t, i) in every map (the crosshair). Both read the same data.
// Text from the data is only ever set with textContent.
let data = null, t = 1, timer = null;
let drawn = [];           // per line view: its svg, tokens and lines, indexed for a hover's lookup
let lit = [];             // what a hover lit: un-lit by the next one
let cross = null;         // the crosshair's cell [t, i] (from 1 and 0), or null

function stop() {
  if (timer) { clearInterval(timer); timer = null; }
  const play = element.querySelector(".stepbar .play");
  if (play) play.textContent = "▶ play";
}

function text(tag, cls, s) {
  const el = document.createElement(tag);
  if (cls) el.className = cls;
  if (s !== undefined) el.textContent = s;
  return el;
}

function colour(a) {
  return data.lut[Math.max(0, Math.min(255, Math.round(a * 255)))];
}

// Black or white text, whichever contrasts more with the background #rrggbb (WCAG luminance).
function inkOn(hex) {
  const lin = (i) => { const c = parseInt(hex.slice(i, i + 2), 16) / 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
  const L = 0.2126 * lin(1) + 0.7152 * lin(3) + 0.0722 * lin(5);
  return (L + 0.05) / 0.05 >= 1.05 / (L + 0.05) ? "#111" : "#fff";
}

function show(step) {
  if (!data) return;
  t = Math.max(1, Math.min(data.steps, Math.round(Number(step)) || 1));   // out of range: clamped
  const root = element.querySelector(".results");
  root.dataset.step = String(t);
  element.querySelector(".stepbar .t").value = String(t);
  element.querySelector(".stepbar .tlabel").textContent = (data.unit === "words" ? "word" : "t") + " = " + t + " / " + data.steps;
  for (const cell of element.querySelectorAll(".cell")) {
    const v = data.variants[cell.dataset.variant];
    const mark = cell.querySelector(".scroll .frame .mark");
    if (mark && v && v.map) placeMark(mark, v.map);
    const out = cell.querySelectorAll(".tokens.out .tok");
    for (const tok of out) {
      const on = Number(tok.dataset.t) === t;
      tok.classList.toggle("on", on);
      tok.setAttribute("aria-pressed", on ? "true" : "false");
      tok.tabIndex = on || (t > out.length && tok.dataset.t === "1") ? 0 : -1;
    }
    const row = v && v.alpha && t <= v.alpha.length ? v.alpha[t - 1] : null;
    for (const tok of cell.querySelectorAll(".tokens.src .tok")) {
      const a = row ? row[Number(tok.dataset.i)] : 0, bg = row ? colour(a) : "";
      tok.style.background = bg;
      tok.style.color = row ? inkOn(bg) : "";
      tok.title = row ? "α = " + (100 * a).toFixed(1) + " %" : "";
    }
  }
  drawChart();
  drawChoices();
  drawEdges();
}

// Row t of a map, from its geometry (fractions of the picture): the same at any displayed size.
function placeMark(mark, g) {
  const on = t <= g.rows;
  mark.style.display = on ? "block" : "none";
  mark.dataset.row = on ? String(t) : "";
  mark.style.top = (100 * (g.top + (t - 1) * g.ch)) + "%";
  mark.style.height = (100 * g.ch) + "%";
  mark.style.left = (100 * g.left - 0.5) + "%";
  mark.style.width = (100 * g.cols * g.cw + 1) + "%";
}

// ---- the line view: an svg per variant, tokens drawn once per result, lines per step ----------
const SVG = "http://www.w3.org/2000/svg", ROW = 18, COL = 118, GAP = 48, LEAST = 0.005;

function svg(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, x] of Object.entries(attrs || {})) el.setAttribute(k, String(x));
  return el;
}

function short(s) { s = String(s).replace(/^▁/, ""); return s.length > 16 ? s.slice(0, 15) + "…" : s; }

function allSteps() { const box = element.querySelector(".all-steps"); return Boolean(box && box.checked); }

function drawLines() {
  drawn = []; lit = [];
  for (const box of element.querySelectorAll(".cell .lines")) {
    const v = data.variants[box.closest(".cell").dataset.variant];
    box.replaceChildren();
    if (!v || !v.alpha) continue;
    const n = Math.max(data.cols.length, v.rows.length), width = 2 * COL + GAP;
    const root = svg("svg", {width, height: n * ROW + 6, viewBox: "0 0 " + width + " " + (n * ROW + 6)});
    const edges = svg("g", {class: "edges"}), words = svg("g");
    const tok = (kind, k, label, x, anchor) => {
      const el = svg("text", {x, y: k * ROW + 16, "text-anchor": anchor, class: "ltok " + kind, tabindex: -1,
                              [kind === "src" ? "data-i" : "data-t"]: kind === "src" ? k : k + 1});
      el.textContent = short(label);
      const title = svg("title"); title.textContent = label; el.append(title);
      words.append(el);
      return el;
    };
    const src = data.cols.map((c, i) => tok("src", i, c, COL - 4, "end"));
    const tgt = v.rows.map((r, k) => tok("tgt", k, r, COL + GAP + 4, "start"));
    src[0].tabIndex = 0;        // one tab stop per column (↑ ↓ move in it)
    if (tgt.length) tgt[0].tabIndex = 0;
    root.append(edges, words);
    box.append(root);
    drawn.push({v, root, edges, src, tgt, bySrc: [], byTgt: [], rows: null});
  }
  drawEdges();
}

// The lines of step t (or of every step): stroke and opacity α on the maps' 0–1 scale.
function drawEdges() {
  const all = allSteps();
  if (drawn.some((d) => d.rows !== (all ? "all" : t))) unlight();     // the lit lines are about to go
  for (const d of drawn) {
    d.tgt.forEach((el, k) => el.classList.toggle("on", k + 1 === t));
    const rows = all ? "all" : t;
    if (d.rows === rows) continue;           // every step's lines stay drawn while stepping
    d.rows = rows;
    d.bySrc = data.cols.map(() => []);
    d.byTgt = d.v.rows.map(() => []);
    const lines = [];
    d.v.alpha.forEach((row, k) => {
      if (!all && k + 1 !== t) return;
      row.forEach((a, i) => {
        if (a < LEAST) return;
        const y1 = i * ROW + 12, y2 = k * ROW + 12;
        const line = svg("line", {x1: COL, y1, x2: COL + GAP, y2, stroke: colour(a), "stroke-opacity": a,
                                  "stroke-width": 2, "data-t": k + 1, "data-i": i});
        lines.push(line); d.bySrc[i].push(line); d.byTgt[k].push(line);
      });
    });
    d.edges.replaceChildren(...lines);
  }
}

// Light the lines of source token i (kind "src") or output step k (kind "tgt") in every variant.
function light(kind, n) {
  unlight();
  for (const d of drawn) {
    const tokens = kind === "src" ? d.src : d.tgt, lines = (kind === "src" ? d.bySrc : d.byTgt)[n];
    if (!tokens[n]) continue;
    d.edges.classList.add("lit");          // on the lines' group only: the tokens need no new style
    tokens[n].classList.add("hi"); lit.push(tokens[n]);
    for (const line of lines || []) { line.classList.add("hi"); lit.push(line); }
  }
}

function unlight() {
  for (const el of lit) el.classList.remove("hi");
  lit = [];
  for (const d of drawn) d.edges.classList.remove("lit");
}

function ltokKind(el) { return el.classList.contains("src") ? "src" : "tgt"; }
function ltokIndex(el) { return el.classList.contains("src") ? Number(el.dataset.i) : Number(el.dataset.t) - 1; }

// ---- the crosshair: the same cell (t, i) marked in every map, each variant's α_{t,i} in one line ----
function percent(a) { return (100 * a).toFixed(1) + " %"; }

function crossAt(cell) {
  cross = cell;
  const said = element.querySelector(".crossline");
  for (const frame of element.querySelectorAll(".cell .scroll .frame")) {
    const v = data.variants[frame.closest(".cell").dataset.variant], g = v && v.map;
    let box = frame.querySelector(".cross");
    if (!g) continue;
    if (!box) { box = text("div", "cross"); frame.append(box); }
    const on = Boolean(cell) && cell[0] <= g.rows && cell[1] < g.cols;
    box.style.display = on ? "block" : "none";
    box.dataset.cell = on ? cell[0] + "," + cell[1] : "";
    if (!on) continue;
    box.style.top = (100 * (g.top + (cell[0] - 1) * g.ch)) + "%";
    box.style.height = (100 * g.ch) + "%";
    box.style.left = (100 * (g.left + cell[1] * g.cw)) + "%";
    box.style.width = (100 * g.cw) + "%";
  }
  if (!said) return;
  if (!cell) { said.textContent = ""; return; }
  said.textContent = alphaLine(cell[0], cell[1], (data.unit === "words" ? "word " : "t = ") + cell[0]);
}

// Each variant's α_{t,i} (and what it wrote at t), one line: the crosshair's and a source token's.
function alphaLine(step, i, where) {
  const parts = [];
  for (const [name, v] of Object.entries(data.variants)) {
    if (!v.alpha) continue;
    const row = v.alpha[step - 1];
    parts.push(name + " " + (row ? percent(row[i]) + " (" + v.rows[step - 1] + ")" : "finished"));
  }
  return where + ", source “" + String(data.cols[i]).replace(/^▁/, "") + "”: α = " + parts.join(" · ");
}

// The cell of a map under a pointer, from its geometry: null outside the grid.
function cellUnder(frame, x, y) {
  const v = data.variants[frame.closest(".cell").dataset.variant], g = v && v.map;
  const img = frame.querySelector("img.heatmap");
  if (!g || !img) return null;
  const r = img.getBoundingClientRect();
  const row = Math.floor(((y - r.top) / r.height - g.top) / g.ch), col = Math.floor(((x - r.left) / r.width - g.left) / g.cw);
  return row >= 0 && row < g.rows && col >= 0 && col < g.cols ? [row + 1, col] : null;
}

// The chart's columns, labels and bars are built once per result (new elements and their labels
// cost a step most of its time at the input limit); a step only scales the bars (a transform needs
// no layout) and sets their titles.
let chartBars = null, chartData = null;      // per bar [element, variant, source index]

function drawChart() {
  const chart = element.querySelector(".stepview .chart");
  if (chartData !== data || !chart.contains(chartBars && chartBars.length ? chartBars[0][0] : null)) {
    chartData = data;
    chartBars = [];
    const names = Object.keys(data.variants).filter((v) => data.variants[v].alpha);
    chart.replaceChildren(...(names.length ? data.cols : []).map((label, i) => {
      const col = text("div", "col"), bars = text("div", "bars");
      for (const v of names) {
        const bar = text("i");
        bar.style.cssText = "height:100%;transform-origin:bottom;background:" + data.variants[v].colour;
        bars.append(bar);
        chartBars.push([bar, v, i]);
      }
      col.append(bars, text("span", "lab", label.replace(/^▁/, "")));
      return col;
    }));
  }
  for (const [bar, v, i] of chartBars) {
    const row = data.variants[v].alpha[t - 1], a = row ? row[i] : 0;
    bar.style.transform = "scaleY(" + a + ")";
    bar.title = v + ": α = " + (100 * a).toFixed(1) + " %";
  }
}

function drawChoices() {
  const box = element.querySelector(".stepview .choices");
  box.replaceChildren();
  for (const [name, v] of Object.entries(data.variants)) {
    const line = text("div", "choice");
    line.append(text("b", "v", name));
    if (t > v.rows.length) {
      line.append(text("span", "", " finished after " + v.rows.length + " " + (data.unit === "words" ? "words" : "steps")));
    } else {
      line.append(text("span", "", " chose "), text("b", "chosen", v.rows[t - 1]),
                  text("span", "", " (p = " + v.p[t - 1].toFixed(2) + (v.entropy ? ", H(α_t) = " + v.entropy[t - 1].toFixed(2) + " bits" : "") + ") · top-5: "));
      for (const [tok, p] of v.top[t - 1]) line.append(text("span", "cand", tok + " " + p.toFixed(2)));
    }
    box.append(line);
  }
}

// The map at full size (its drawn pixels, one per device pixel where the screen allows), with
// its variant, unit and step, and row t marked; Esc, the button or a click closes it.
function enlarge(frame) {
  const img = frame.querySelector("img");
  const box = text("div", "attention-lightbox");
  box.setAttribute("role", "dialog");
  box.setAttribute("aria-modal", "true");
  box.setAttribute("aria-label", frame.dataset.caption);
  box.style.cssText = "position:fixed;inset:0;z-index:1000;background:#fff;overflow:auto;padding:16px 24px;cursor:zoom-out;font:14px 'DejaVu Sans',sans-serif;color:#111";
  const cell = frame.closest(".cell"), v = cell && data ? data.variants[cell.dataset.variant] : null;
  const head = text("div", "", frame.dataset.caption + (v && v.map && img.classList.contains("heatmap") ? " · step " + (data.unit === "words" ? "word " : "t = ") + t + " / " + data.steps : ""));
  head.style.cssText = "font-weight:600;font-size:16px;margin:0 0 8px";
  const close = text("button", "", "✕ close (Esc)");
  close.type = "button";
  close.style.cssText = "position:fixed;top:8px;right:16px;font-weight:600;padding:4px 10px;border:1px solid #6b7280;border-radius:6px;background:#fff;color:#111";
  const big = frame.cloneNode(true);
  big.removeAttribute("tabindex"); big.removeAttribute("role");
  const width = Math.max(Number(img.getAttribute("width")), img.naturalWidth / Math.max(1, window.devicePixelRatio || 1));
  big.style.cssText = "position:relative;line-height:0;width:" + width + "px";
  const bigImg = big.querySelector("img");
  bigImg.removeAttribute("height");
  bigImg.style.cssText = "width:100%;height:auto;max-width:none";
  for (const c of big.querySelectorAll(".cross")) c.remove();
  const mark = big.querySelector(".mark");
  mark.style.cssText += ";position:absolute;border:2px solid #dc2626;box-sizing:border-box;pointer-events:none";
  if (!(v && v.map && img.classList.contains("heatmap"))) mark.style.display = "none";
  box.append(head, big, close);
  const back = document.activeElement;
  const shut = () => { box.remove(); if (back && back.focus) back.focus(); };
  box.addEventListener("click", shut);
  box.addEventListener("keydown", (e) => { if (e.key === "Escape" || e.key === "Tab") { e.preventDefault(); shut(); } });
  document.body.append(box);
  close.focus();
}

function copyLink() {
  const url = location.origin + location.pathname + data.link;
  const said = element.querySelector(".stepbar .copied");
  const done = (msg) => { if (said) said.textContent = msg; };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(url).then(() => done("link copied"), () => done(url));
  } else done(url);      // no clipboard here (plain http): the link, to select and copy
}

// The step control stays in view while the heatmaps and the step view are: the page's container
// clips overflow, so CSS sticky cannot work here; the bar is fixed to the top instead.
function keepInView() {
  const slot = element.querySelector(".stepslot"), end = element.querySelector(".stepview");
  if (!slot || !end) return;
  const bar = slot.firstElementChild, r = slot.getBoundingClientRect();
  const on = r.top < 0 && end.getBoundingClientRect().bottom > bar.offsetHeight + 40;
  slot.style.height = on ? bar.offsetHeight + "px" : "";
  bar.classList.toggle("floating", on);
  bar.style.left = on ? r.left + "px" : "";
  bar.style.width = on ? r.width + "px" : "";
}

function setup() {
  stop();
  const root = element.querySelector(".results");
  data = root ? JSON.parse(root.dataset.steps) : null;
  for (const a of element.querySelectorAll(".cell a.download")) {     // the picture shown is the file
    a.href = a.closest(".cell").querySelector("img.heatmap").src;
  }
  drawn = []; lit = []; cross = null;
  if (data) {
    let asked = null, tool = null;   // a link's step t and tool (the tour's): read once, then replaced with the result's own link
    try {
      const query = new URLSearchParams(window.location.search);
      asked = query.get("t"); tool = query.get("tool");
    } catch (e) { /* no location */ }
    const all = element.querySelector(".all-steps");
    if (all && tool === "lines") all.checked = true;
    drawLines();
    show(asked === null ? 1 : asked);
    try { history.replaceState(null, "", data.link); } catch (e) { /* a sandboxed frame: the button still works */ }
  }
  keepInView();
}

element.addEventListener("click", (e) => {
  const target = e.target;
  if (target.closest(".stepbar .prev")) { stop(); show(t - 1); }
  else if (target.closest(".stepbar .next")) { stop(); show(t + 1); }
  else if (target.closest(".stepbar .play")) {
    if (timer) { stop(); return; }
    if (t >= data.steps) show(1);
    target.closest(".play").textContent = "❚❚ pause";
    timer = setInterval(() => { if (t >= data.steps) stop(); else show(t + 1); }, 700);
  } else if (target.closest(".tokens.out .tok")) {
    stop();
    const tok = target.closest(".tok");
    for (const other of element.querySelectorAll(".tokens.out .tok.clicked")) other.classList.remove("clicked");
    tok.classList.add("clicked");
    show(Number(tok.dataset.t));
  } else if (target.closest(".stepbar .copy-link")) {
    copyLink();
  } else if (target.closest(".frame")) {
    enlarge(target.closest(".frame"));
  }
});
// Keyboard: Enter or Space on a map enlarges it, on an output token goes to its step;
// ← and → step anywhere in the block but the slider (which steps by itself).
const ARROWS = {ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1]};
element.addEventListener("keydown", (e) => {
  if (!data) return;
  const frame = e.target.closest && e.target.closest(".frame");
  const tok = e.target.closest && e.target.closest(".tokens.out .tok");
  const ltok = e.target.closest && e.target.closest(".lines .ltok");
  const map = frame && frame.closest(".scroll") && frame.querySelector("img.heatmap");
  if (map && ARROWS[e.key]) {              // a focused map: the arrows move the crosshair's cell
    e.preventDefault();
    const g = data.variants[frame.closest(".cell").dataset.variant].map;
    const [dt, di] = ARROWS[e.key], at = cross || [Math.min(t, g.rows), 0];
    crossAt([Math.max(1, Math.min(g.rows, at[0] + dt)), Math.max(0, Math.min(g.cols - 1, at[1] + di))]);
    return;
  }
  if (ltok && (e.key === "ArrowUp" || e.key === "ArrowDown")) {     // a line view's tokens: one tab stop
    e.preventDefault();
    const column = [...ltok.parentElement.querySelectorAll(".ltok." + ltokKind(ltok))];
    const next = column[Math.max(0, Math.min(column.length - 1, column.indexOf(ltok) + (e.key === "ArrowDown" ? 1 : -1)))];
    for (const el of column) el.tabIndex = -1;
    next.tabIndex = 0;
    next.focus();
    return;
  }
  if (ltok && (e.key === "Enter" || e.key === " ") && ltokKind(ltok) === "tgt") {
    e.preventDefault(); stop(); show(Number(ltok.dataset.t)); return;
  }
  if ((e.key === "Enter" || e.key === " ") && (frame || tok)) {
    e.preventDefault();
    if (frame) enlarge(frame); else { stop(); show(Number(tok.dataset.t)); }
  } else if ((e.key === "ArrowLeft" || e.key === "ArrowRight") && !e.target.closest(".stepbar .t")) {
    e.preventDefault();
    stop();
    show(t + (e.key === "ArrowRight" ? 1 : -1));
    if (tok) { const on = tok.parentElement.querySelector(".tok.on"); if (on) on.focus(); }
  }
});
element.addEventListener("input", (e) => { if (e.target.closest(".stepbar .t")) { stop(); show(e.target.value); } });
element.addEventListener("change", (e) => { if (e.target.closest(".all-steps") && data) drawEdges(); });
// A line view's token, hovered or focused: its lines in every variant; a source token also says α_{t,i}.
function onToken(e) {
  if (!data) return;
  const frame = e.type === "focusin" && e.target.closest && e.target.closest(".cell .scroll .frame");
  const g = frame && data.variants[frame.closest(".cell").dataset.variant].map;
  if (g) { crossAt(cross || [Math.min(t, g.rows), 0]); return; }     // a focused map shows its crosshair
  const el = e.target.closest && e.target.closest(".lines .ltok");
  if (!el) return;
  light(ltokKind(el), ltokIndex(el));
  const said = element.querySelector(".crossline");
  if (said && ltokKind(el) === "src") said.textContent = alphaLine(t, ltokIndex(el), (data.unit === "words" ? "word " : "t = ") + t);
}
function offToken(e) {
  const el = e.target.closest && e.target.closest(".lines .ltok");
  if (el && !(e.relatedTarget && e.relatedTarget.closest && e.relatedTarget.closest(".lines .ltok"))) unlight();
}
element.addEventListener("pointerover", onToken);
element.addEventListener("focusin", onToken);
element.addEventListener("pointerout", (e) => {
  offToken(e);
  const from = e.target.closest && e.target.closest(".cell .scroll .frame");
  if (from && cross && !(e.relatedTarget && e.relatedTarget.closest && e.relatedTarget.closest(".cell .scroll .frame"))) crossAt(null);
});
element.addEventListener("focusout", (e) => {
  offToken(e);
  const to = e.relatedTarget && e.relatedTarget.closest && e.relatedTarget.closest(".cell .scroll .frame");
  if (e.target.closest && e.target.closest(".scroll .frame") && cross && !to) crossAt(null);
});
element.addEventListener("pointermove", (e) => {
  if (!data) return;
  const frame = e.target.closest && e.target.closest(".cell .scroll .frame");
  const cell = frame ? cellUnder(frame, e.clientX, e.clientY) : null;
  if (cell ? !cross || cell[0] !== cross[0] || cell[1] !== cross[1] : cross) crossAt(cell);
});
window.addEventListener("scroll", keepInView, {passive: true});
window.addEventListener("resize", keepInView);
watch("value", setup);
setup();
