// The stvsr page: submits jobs, follows them by polling the API, and plays the before/after pair in step.
"use strict";
const $ = (id) => document.getElementById(id);
const STATES = { queued: "waiting", running: "working", done: "done", failed: "failed", cancelled: "cancelled" };
let shown = null;  // the job whose before/after pair is on screen

async function api(path, options = {}) {
  const response = await fetch(path, { credentials: "same-origin", ...options });
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) throw new Error(body?.error || `the server answered ${response.status}`);
  return body;
}

function clock(seconds) {
  if (seconds == null) return "";
  const s = Math.max(0, Math.round(seconds));
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s left` : `${s} s left`;
}

function button(label, action) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.addEventListener("click", action);
  return b;
}

function render(jobs) {
  const list = $("jobs");
  $("empty").hidden = jobs.length > 0;
  list.replaceChildren(...jobs.slice().reverse().map((job) => {
    const item = document.createElement("li");
    item.className = "job";
    item.dataset.id = job.id;
    item.dataset.state = job.state;
    const top = document.createElement("div");
    top.className = "top";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = job.name;
    const state = document.createElement("span");
    state.className = "state";
    const pct = Math.round(job.progress * 100);
    state.textContent = job.state === "running" ? `${STATES.running} ${pct}% ${clock(job.eta_s)}` : STATES[job.state];
    top.append(name, state);
    item.append(top);
    if (job.state === "running" || job.state === "queued") {
      const bar = document.createElement("progress");
      bar.max = 100;
      bar.value = pct;
      bar.setAttribute("aria-label", `${job.name}: ${pct}%`);
      item.append(bar);
    }
    const detail = document.createElement("p");
    detail.className = "detail";
    const o = job.options;
    detail.textContent = `×${o.scale} size, ×${o.time_factor} frame rate, ${o.quality}` +
      (job.why ? ` — ${job.why}` : job.model ? ` — ${job.model}` : "");
    item.append(detail);
    if (job.error) {
      const error = document.createElement("p");
      error.className = "error";
      error.textContent = job.error;
      item.append(error);
    }
    if (job.summary?.self_check) {
      const check = document.createElement("p");
      check.className = "detail check";
      const c = job.summary.self_check;
      check.textContent = `self-check: ${c.frames[1]} frames at ${c.fps[1]} fps, ${c.duration[1]} s — ` +
        (c.ok ? "OK" : c.problems.join("; "));
      item.append(check);
    }
    const actions = document.createElement("div");
    actions.className = "actions";
    if (job.state === "done") {
      const link = document.createElement("a");
      link.href = `/api/jobs/${job.id}/result`;
      link.textContent = "Download";
      link.setAttribute("download", "");
      actions.append(link, button("Before / after", () => compare(job)));
      const result = document.createElement("video");
      result.className = "result";
      result.src = `/api/jobs/${job.id}/result`;
      result.preload = "metadata";
      result.controls = true;
      result.muted = true;
      result.style.width = "100%";
      result.setAttribute("aria-label", `${job.name}: result`);
      item.append(result);
    }
    if (job.state === "queued" || job.state === "running") actions.append(button("Cancel", () => act(job, "DELETE")));
    if (job.state === "failed" || job.state === "cancelled") {
      actions.append(button("Retry", () => act(job, "POST", "/retry")), button("Remove", () => act(job, "DELETE")));
    }
    if (job.state === "done") actions.append(button("Remove", () => act(job, "DELETE")));
    item.append(actions);
    return item;
  }));
}

// Keeps finished jobs' <video> elements across polls: rebuilding them would restart their loading.
let lastKey = "";
async function refresh() {
  try {
    const jobs = await api("/api/jobs");
    const key = JSON.stringify(jobs);
    if (key !== lastKey) {
      lastKey = key;
      render(jobs);
    }
    const busy = jobs.some((j) => j.state === "queued" || j.state === "running");
    setTimeout(refresh, busy ? 1000 : 4000);
  } catch (error) {
    $("form-error").textContent = error.message;
    setTimeout(refresh, 4000);
  }
}

async function act(job, method, suffix = "") {
  try {
    await api(`/api/jobs/${job.id}${suffix}`, { method });
    if (shown === job.id && method === "DELETE") $("compare").hidden = true;
  } catch (error) {
    $("form-error").textContent = error.message;
  }
  lastKey = "";
  refresh();
}

async function compare(job) {
  const pair = await api(`/api/jobs/${job.id}/preview`);
  shown = job.id;
  $("compare-name").textContent = job.name;
  $("before").src = pair.before;
  $("after").src = pair.after;
  $("compare").hidden = false;
  $("compare").scrollIntoView({ behavior: "smooth" });
}

function split(value) {
  $("after").style.clipPath = `inset(0 0 0 ${value}%)`;
  $("divider").style.left = `${value}%`;
}

function play() {
  const [before, after] = [$("before"), $("after")];
  if (after.paused) {
    before.currentTime = after.currentTime;
    Promise.all([before.play(), after.play()]).catch(() => {});
    $("play").textContent = "Pause";
  } else {
    before.pause();
    after.pause();
    $("play").textContent = "Play";
  }
}

function setup() {
  $("split").addEventListener("input", (e) => split(e.target.value));
  $("play").addEventListener("click", play);
  // the after video leads; the before video follows it within a frame or two
  $("after").addEventListener("timeupdate", () => {
    const before = $("before");
    if (Math.abs(before.currentTime - $("after").currentTime) > 0.08) before.currentTime = $("after").currentTime;
  });
  $("after").addEventListener("ended", () => { $("before").pause(); $("play").textContent = "Play"; });
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files.length) {
      $("file").files = e.dataTransfer.files;
      $("drop-text").textContent = e.dataTransfer.files[0].name;
    }
  });
  $("file").addEventListener("change", () => {
    $("drop-text").textContent = $("file").files[0]?.name || "Drop a video here, or choose one";
  });
  $("new-job").addEventListener("submit", async (e) => {
    e.preventDefault();
    $("form-error").textContent = "";
    if (!$("file").files.length) {
      $("form-error").textContent = "Choose a video first.";
      return;
    }
    const form = new FormData($("new-job"));
    $("submit").disabled = true;
    try {
      await api("/api/jobs", { method: "POST", body: form });
      $("new-job").reset();
      $("drop-text").textContent = "Drop a video here, or choose one";
    } catch (error) {
      $("form-error").textContent = error.message;
    } finally {
      $("submit").disabled = false;
    }
    lastKey = "";
    refresh();
  });
  document.body.dataset.ready = "1";
  refresh();
}

setup();
