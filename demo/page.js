// The step view, in the browser (``js_on_load`` of the results block in demo/ui.py):
// ``element`` is the block; its ``.results`` carries the one data channel (demo/views.py,
// step_data): steps, α rows, choices, where each map's grid sits, and the permalink.
// The markup is demo/results.html.
// Choosing step t marks row t in every heatmap, shades each variant's source tokens by α_t,
// highlights the t-th output token and redraws the α_t chart and the choices: no server call.
// Text from the data is only ever set with textContent.
let data = null, t = 1, timer = null;

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
  if (data) {
    let asked = null;       // a link's step t (the tour's): read once, then replaced with the result's own link
    try { asked = new URLSearchParams(window.location.search).get("t"); } catch (e) { /* no location */ }
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
element.addEventListener("keydown", (e) => {
  if (!data) return;
  const frame = e.target.closest && e.target.closest(".frame");
  const tok = e.target.closest && e.target.closest(".tokens.out .tok");
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
window.addEventListener("scroll", keepInView, {passive: true});
window.addEventListener("resize", keepInView);
watch("value", setup);
setup();
