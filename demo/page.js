// The step view, in the browser (``js_on_load`` of the results block in demo/ui.py):
// ``element`` is the block; its ``.results`` carries the step data (demo/views.py, step_data).
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

function show(step) {
  if (!data) return;
  t = Math.max(1, Math.min(data.steps, Math.round(Number(step)) || 1));   // out of range: clamped
  const root = element.querySelector(".results");
  root.dataset.step = String(t);
  element.querySelector(".stepbar .t").value = String(t);
  element.querySelector(".stepbar .tlabel").textContent = (data.unit === "words" ? "word" : "t") + " = " + t + " / " + data.steps;
  for (const cell of element.querySelectorAll(".cell")) {
    const v = data.variants[cell.dataset.variant];
    const frame = cell.querySelector(".frame");
    if (frame) {
      const f = frame.dataset, mark = frame.querySelector(".mark");
      const on = t <= Number(f.rows);
      mark.style.display = on ? "block" : "none";
      mark.dataset.row = on ? String(t) : "";
      mark.style.top = (100 * (Number(f.top) + (t - 1) * Number(f.cell)) / Number(f.h)) + "%";
      mark.style.height = (100 * Number(f.cell) / Number(f.h)) + "%";
      mark.style.left = (100 * (Number(f.left) - 2) / Number(f.w)) + "%";
      mark.style.width = (100 * (Number(f.cols) * Number(f.cell) + 3) / Number(f.w)) + "%";
    }
    for (const tok of cell.querySelectorAll(".tokens.out .tok")) tok.classList.toggle("on", Number(tok.dataset.t) === t);
    const row = v && v.alpha && t <= v.alpha.length ? v.alpha[t - 1] : null;
    for (const tok of cell.querySelectorAll(".tokens.src .tok")) {
      const a = row ? row[Number(tok.dataset.i)] : 0;
      tok.style.background = row ? colour(a) : "";
      tok.style.color = row && a >= 0.5 ? "#fff" : "";
      tok.title = row ? "α = " + (100 * a).toFixed(1) + " %" : "";
    }
  }
  drawChart();
  drawChoices();
}

function drawChart() {
  const chart = element.querySelector(".stepview .chart");
  chart.replaceChildren();
  const names = Object.keys(data.variants).filter((v) => data.variants[v].alpha);
  if (!names.length) return;
  data.cols.forEach((label, i) => {
    const col = text("div", "col");
    const bars = text("div", "bars");
    for (const v of names) {
      const row = data.variants[v].alpha[t - 1];
      const a = row ? row[i] : 0;
      const bar = text("i");
      bar.style.height = (100 * a) + "%";
      bar.style.background = data.variants[v].colour;
      bar.title = v + ": α = " + (100 * a).toFixed(1) + " %";
      bars.append(bar);
    }
    col.append(bars, text("span", "lab", label.replace(/^▁/, "")));
    chart.append(col);
  });
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

function enlarge(img) {
  // outside the block (on document.body), so styled here rather than by the block's scoped CSS
  const box = text("div", "attention-lightbox");
  box.style.cssText = "position:fixed;inset:0;z-index:1000;background:#fff;overflow:auto;padding:24px;cursor:zoom-out";
  const big = img.cloneNode();
  big.removeAttribute("width"); big.removeAttribute("height");
  big.style.cssText = "max-width:none;width:auto;height:auto;image-rendering:pixelated";
  if (big.classList.contains("head")) big.style.width = (4 * img.naturalWidth) + "px";
  const close = text("span", "", "✕ close (Esc)");
  close.style.cssText = "position:fixed;top:8px;right:16px;font-weight:600";
  box.append(big, close);
  box.addEventListener("click", () => box.remove());
  document.body.append(box);
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
  if (data) show(1);
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
  } else if (target.closest("img.heatmap, img.head, img.nbest-map")) {
    enlarge(target.closest("img"));
  }
});
element.addEventListener("input", (e) => { if (e.target.closest(".stepbar .t")) { stop(); show(e.target.value); } });
document.addEventListener("keydown", (e) => { if (e.key === "Escape") document.querySelectorAll(".attention-lightbox").forEach((b) => b.remove()); });
window.addEventListener("scroll", keepInView, {passive: true});
window.addEventListener("resize", keepInView);
watch("value", setup);
setup();
