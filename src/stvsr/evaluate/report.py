"""`stvsr report RUN_DIR`: a static HTML page from an `evaluate` or `study` run.

One folder (RUN_DIR/report/: index.html and the PNGs it shows), no scripts or fonts from the network, opens
from disk. It holds the metrics table (click a column to sort), the study plots, per-clip crops side by side
(low resolution, each method with its PSNR, ground truth), error maps, scanlines over time, and the protocol of
every number.
"""

from __future__ import annotations

import html
import json
import math
import shutil
import time
from pathlib import Path

from ..errors import InputError, OutputError
from ..metrics import METRICS
from .tables import fmt, split_columns

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d2430;background:#fafbfc}
main{max-width:1200px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 8px;border-bottom:1px solid #dde2e8;padding-bottom:4px}
h3{font-size:15px;margin:20px 0 6px}.sub{color:#5b6675;margin:0 0 16px}
table{border-collapse:collapse;background:#fff;margin:8px 0}th,td{padding:4px 10px;border:1px solid #e1e5ea;text-align:right}
th{background:#f0f3f6;cursor:pointer;user-select:none;white-space:nowrap}th:first-child,td:first-child{text-align:left}
th.asc::after{content:' \\25B2';font-size:10px}th.desc::after{content:' \\25BC';font-size:10px}
tr.best td{font-weight:600}.grid{display:flex;flex-wrap:wrap;gap:10px}
figure{margin:0;background:#fff;border:1px solid #e1e5ea;padding:6px;text-align:center}
figure img{display:block;image-rendering:pixelated}figcaption{font-size:12px;color:#3b4654;max-width:260px}
.plots img{max-width:540px;width:100%}.scan{display:grid;grid-template-columns:max-content 1fr;gap:4px 10px;align-items:center}
.scan img{image-rendering:pixelated;width:384px}pre{background:#fff;border:1px solid #e1e5ea;padding:10px;overflow:auto;font-size:12px}
.note{color:#5b6675;font-size:12px}
"""

# Sorting, and a record of script errors and broken images that the headless-browser test reads from <body>.
SCRIPT = """
window.__errors=[];window.addEventListener('error',function(e){window.__errors.push(String(e.message||e));
document.body.dataset.errors=window.__errors.length;},true);
document.querySelectorAll('table.sortable').forEach(function(table){
  table.querySelectorAll('th').forEach(function(th,col){th.addEventListener('click',function(){
    var body=table.tBodies[0],rows=Array.prototype.slice.call(body.rows),asc=!th.classList.contains('asc');
    table.querySelectorAll('th').forEach(function(h){h.classList.remove('asc','desc');});
    th.classList.add(asc?'asc':'desc');
    rows.sort(function(a,b){var x=a.cells[col].dataset.v,y=b.cells[col].dataset.v;
      var nx=parseFloat(x),ny=parseFloat(y);var c=(isNaN(nx)||isNaN(ny))?String(x).localeCompare(String(y)):nx-ny;
      return asc?c:-c;});
    rows.forEach(function(r){body.appendChild(r);});});});});
window.addEventListener('load',function(){var imgs=document.images,ok=0;
  for(var i=0;i<imgs.length;i++){if(imgs[i].complete&&imgs[i].naturalWidth>0)ok++;}
  document.body.dataset.images=ok+'/'+imgs.length;document.body.dataset.errors=window.__errors.length;
  document.body.dataset.loaded='1';});
"""


def build_report(run: Path) -> Path:
    """Write RUN/report/index.html (+ its images) from RUN's results.json and/or study.json; returns the page."""
    run = Path(run)
    results = _load(run / "results.json")
    study = _load(run / "study.json")
    if results is None and study is None:
        raise InputError(f"{run} holds no results.json or study.json: make one with `stvsr evaluate --out {run}` "
                         f"or `stvsr study ... --out {run}`")
    out = run / "report"
    staging = run / ".report.partial"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        (staging / "img").mkdir(parents=True)
        page = _Page(run, staging)
        page.header(results, study)
        if results is not None:
            page.metrics_table(results)
        if study is not None:
            page.study(study)
        if results is not None and results.get("visuals"):
            page.visuals(results)
        page.protocol((results or study).get("protocol", {}))
        (staging / "index.html").write_text(page.render())
        shutil.rmtree(out, ignore_errors=True)
        staging.replace(out)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise OutputError(f"cannot write the report into {run}: {error.strerror or error}") from None
    return out / "index.html"


def _load(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        raise InputError(f"{path} is not valid JSON (a run cut short?)") from None


def _e(value) -> str:
    return html.escape(str(value))


class _Page:
    def __init__(self, run: Path, out: Path):
        self.run, self.out, self.parts = run, out, []

    def image(self, relative: str, alt: str, width: int | None = None) -> str:
        """Copy RUN/relative into the report and return an <img> for it."""
        source = self.run / relative
        if not source.is_file():
            return f'<span class="note">(missing image {_e(relative)})</span>'
        target = self.out / "img" / relative.replace("/", "__")
        shutil.copyfile(source, target)
        size = f' width="{width}"' if width else ""
        return f'<img src="img/{_e(target.name)}" alt="{_e(alt)}"{size} loading="eager">'

    def header(self, results: dict | None, study: dict | None) -> None:
        protocol = (results or study or {}).get("protocol", {})
        dataset = protocol.get("dataset", {})
        task = protocol.get("task", {})
        kind = f"study: {study['kind']}" if study else "evaluation"
        # The input protocol in the heading: a compressed-input run (LR through a codec) must not read as a clean one.
        made = f" · LR by {task['degradation']}" if task.get("degradation") else ""
        self.parts.append(f"<h1>stvsr report — {_e(kind)}</h1><p class='sub'>{_e(task.get('task', ''))} "
                          f"on {_e(dataset.get('path', study.get('data', '') if study else ''))}{_e(made)} "
                          f"({_e(dataset.get('clips', '?'))} clips) · generated {time.strftime('%Y-%m-%d %H:%M')}"
                          f" · {_e(protocol.get('machine', ''))}</p>")

    def metrics_table(self, results: dict) -> None:
        metrics = results.get("metrics") or [m for m in METRICS if any(m in v for v in results["means"].values())]
        # (key in means, metric it is a value of, header): stvsr adds each fidelity metric on input-position and
        # interpolated frames
        columns = [(m, METRICS[m], METRICS[m].label) for m in metrics]
        columns += [(k, METRICS[k.partition("@")[0]], h) for k, h in split_columns(results["means"], metrics)]
        head = ["method"] + [h for _, _, h in columns] + ["s/frame"]
        best = {}
        for key, metric, _ in columns:
            values = {k: v.get(key) for k, v in results["means"].items() if _finite(v.get(key))}
            if values:
                pick = max if metric.higher_is_better else min
                best[key] = pick(values, key=values.get)
        rows = []
        for method, means in results["means"].items():
            cells = [f'<td data-v="{_e(method)}">{_e(method)}</td>']
            for key, metric, _ in columns:
                value = means.get(key)
                shown = fmt(value, metric.display_scale)
                mark = " style='background:#e8f4ea'" if best.get(key) == method else ""
                cells.append(f'<td data-v="{value if _finite(value) else ""}"{mark}>{shown}</td>')
            spf = means.get("seconds_per_frame")
            cells.append(f'<td data-v="{spf if _finite(spf) else ""}">{fmt(spf, 1, 4)}</td>')
            rows.append("<tr>" + "".join(cells) + "</tr>")
        self.parts.append("<h2>Metrics</h2><p class='note'>Mean over clips (per frame → per clip → mean). Click a "
                          "column to sort; the best value of each column is shaded.</p>"
                          "<table class='sortable'><thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) +
                          "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")

    def study(self, study: dict) -> None:
        if study["kind"] == "tradeoff":
            axes = {**study["axes"]["spatial"], **study["axes"]["temporal"]}
            head = ["method", "PSNR-Y", *axes.values()]
            rows = []
            for method in study["methods"]:
                p = study["points"][method]
                cells = [f'<td data-v="{_e(method)}">{_e(method)}</td>',
                         f'<td data-v="{p.get("psnr_y")}">{fmt(p.get("psnr_y"), 1, 2)}</td>']
                cells += [f'<td data-v="{p.get(a) if _finite(p.get(a)) else ""}">{fmt(p.get(a), 1, 4)}</td>'
                          for a in axes]
                rows.append("<tr>" + "".join(cells) + "</tr>")
            recognition = study.get("recognition") or {}
            note = ""
            if recognition:
                floor = recognition.get("ground_truth_errors", {})
                note = (f"<p class='note'>Recognition errors on {recognition['clips']} procedural action clips (seed "
                        f"{recognition['seed']}); the classifiers' error on the ground truth itself: "
                        f"{_e(', '.join(f'{k} {v:.3f}' for k, v in floor.items()))}.</p>")
            self.parts.append("<h2>Spatial–temporal trade-off</h2><p class='note'>All axes lower-is-better; filled "
                              "points lie on the Pareto front of their plot.</p><table class='sortable'><thead><tr>" +
                              "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr></thead><tbody>" + "".join(rows) +
                              "</tbody></table>" + note)
        else:
            head = ["β", "steps", "MSE-RGB ×1e3", "1 − SSIM-Y", "WarpErr ×1e3", "PSNR-Y"]
            rows = ["<tr>" + "".join(f'<td data-v="{v}">{_e(s)}</td>' for v, s in (
                (r["beta"], f"{r['beta']:g}"), (r["steps"], f"{r['steps']}{'' if r['complete'] else ' (partial)'}"),
                (r["mse_rgb"], f"{r['mse_rgb']:.4f}"), (r["1-ssim_y"], f"{r['1-ssim_y']:.4f}"),
                (r["warp_err@dis"], f"{r['warp_err@dis']:.4f}"), (r["psnr_y"], f"{r['psnr_y']:.2f}"))) + "</tr>"
                for r in study["rows"]]
            self.parts.append(f"<h2>β study</h2><p class='note'>ToSR trained with α = {study['alpha']} and each β for "
                              f"{study['steps_per_beta']} steps; hollow points are runs short of that budget.</p>"
                              "<table class='sortable'><thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) +
                              "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
        plots = "".join(f"<figure>{self.image(p['file'], p['file'])}<figcaption>{_e(p.get('x', ''))} vs "
                        f"{_e(p.get('y', ''))}{' — front: ' + _e(', '.join(p['front'])) if p.get('front') else ''}"
                        f"</figcaption></figure>" if "x" in p else f"<figure>{self.image(p['file'], p['file'])}</figure>"
                        for p in study.get("plots", []))
        if plots:
            self.parts.append(f"<h3>Plots</h3><div class='grid plots'>{plots}</div>")

    def visuals(self, results: dict) -> None:
        self.parts.append("<h2>Per clip</h2><p class='note'>The same crop from every method, its PSNR-Y on the "
                          "whole frame below it; error maps show |ΔY| × 4; scanlines show one image row (marked "
                          "row) over all frames, time downwards — flicker shows as noise across rows.</p>")
        for clip, entry in results["visuals"].items():
            y, x, h, w = entry["crop"]
            figures = []
            if "low_res" in entry:
                figures.append(f"<figure>{self.image(entry['low_res']['file'], 'low resolution', 2 * w)}"
                               f"<figcaption>LR ({_e(entry['low_res']['note'])})</figcaption></figure>")
            errors = []
            for method, image in entry["images"].items():
                figures.append(f"<figure>{self.image(image['crop'], method, 2 * w)}<figcaption>{_e(method)}<br>"
                               f"{fmt(image['psnr_y'], 1, 2)} dB</figcaption></figure>")
                errors.append(f"<figure>{self.image(image['error'], method + ' error', 2 * w)}<figcaption>"
                              f"{_e(method)}</figcaption></figure>")
            figures.append(f"<figure>{self.image(entry['ground_truth'], 'ground truth', 2 * w)}"
                           f"<figcaption>ground truth</figcaption></figure>")
            scans = "".join(f"<div>{_e(name)}</div><div>{self.image(path, name + ' scanline')}</div>"
                            for name, path in entry["scanlines"].items())
            self.parts.append(f"<h3>{_e(clip)} — frame {entry['frame']}, crop x {x}, y {y}, {w}×{h}</h3>"
                              f"<div class='grid'>{''.join(figures)}</div><h3>Error maps</h3>"
                              f"<div class='grid'>{''.join(errors)}</div>"
                              f"<h3>Scanlines (row {entry['scanline_row']})</h3><div class='scan'>{scans}</div>")

    def protocol(self, protocol: dict) -> None:
        self.parts.append("<h2>Protocol</h2><p class='note'>How every number above was obtained.</p><pre>" +
                          _e(json.dumps(protocol, indent=2)) + "</pre>")

    def render(self) -> str:
        return ("<!doctype html><html lang='en'><head><meta charset='utf-8'><title>stvsr report</title>"
                f"<meta name='viewport' content='width=device-width'><style>{STYLE}</style></head><body><main>"
                + "".join(self.parts) + f"</main><script>{SCRIPT}</script></body></html>\n")


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)
