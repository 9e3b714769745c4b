// The taskmaster dashboard: one page that speaks the live link
// (docs/websocket.md) to the taskmasterd that serves it. Every change is
// pushed by taskmasterd; the page never polls.
"use strict";

const PROTOCOL = "1.0.0";
const $ = (sel) => document.querySelector(sel);

const state = {
  ws: null,
  seq: 0,
  pending: new Map(), // seq of a request -> function called with its response data
  jobs: new Map(), // job name -> job summary
  instances: new Map(), // "web:0" -> instance data
  followed: null, // instance whose output is shown
  retry: 0, // reconnections in a row
  everReady: false,
  needToken: false, // the token was refused: wait for the user, do not reconnect
};

// ---- the link ----------------------------------------------------------

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${location.host}/api/socket`);
  state.ws = ws;
  state.pending.clear();
  ws.onmessage = (e) => receive(JSON.parse(e.data));
  ws.onclose = () => {
    if (state.ws !== ws) return;
    if (state.needToken) {
      setLink(false, "token needed");
      return; // the login form reconnects
    }
    setLink(false, "link lost");
    const delay = Math.min(30000, 500 * 2 ** state.retry++);
    banner(`The link to taskmasterd is lost; reconnecting in ${Math.round(delay / 1000)} s…`, true);
    setTimeout(connect, delay);
  };
}

function send(type, data) {
  const seq = ++state.seq;
  state.ws.send(JSON.stringify({ seq, type, data: data || {} }));
  return seq;
}

// request sends a *_request and calls done(data) with its response, or
// shows the error of an error response.
function request(type, data, done) {
  const seq = send(type, data);
  state.pending.set(seq, (resp) => {
    if (resp.error) banner(`${type.replace("_request", "")}: ${resp.error}`, true);
    else if (done) done(resp);
  });
}

function receive(msg) {
  const d = msg.data || {};
  switch (msg.type) {
    case "hello":
      $("#server").textContent = `taskmasterd ${d.build_version || ""}`;
      register(d.token_required);
      return;
    case "ready":
      state.retry = 0;
      setLink(true, "live");
      banner(state.everReady ? "Reconnected." : "", false);
      state.everReady = true;
      request("list_jobs_request", {}, showSnapshot);
      if (state.followed) follow(state.followed);
      return;
    case "close":
      setLink(false, "closed");
      if (/authentication|token/.test(d.reason)) {
        sessionStorage.removeItem("taskmaster-token");
        state.needToken = true;
        $("#login").hidden = false;
      }
      banner(`taskmasterd closed the link: ${d.reason}`, true);
      return;
    case "job_update_event":
      updateInstance(d, true);
      return;
    case "job_file_event":
      if (d.change === "invalid") banner(`${d.job}: job file not in use: ${d.error}`, true);
      request("list_jobs_request", {}, showSnapshot);
      return;
    case "jobs_snapshot_event":
      showSnapshot(d);
      return;
    case "events_lost_event":
      return; // a jobs_snapshot_event follows
    case "output_event":
      if (d.instance === state.followed) appendOutput(d.data);
      return;
    case "shutdown_event":
      banner("taskmasterd is shutting down.", true);
      return;
  }
  if (msg.type.endsWith("_response")) {
    const done = state.pending.get(d.seq);
    state.pending.delete(d.seq);
    if (done) done(d);
  }
}

function register(tokenRequired) {
  const token = sessionStorage.getItem("taskmaster-token") || "";
  if (tokenRequired && !token) {
    state.needToken = true;
    $("#login").hidden = false;
    setLink(false, "token needed");
    return;
  }
  $("#login").hidden = true;
  send("register_control", { token, agent: "taskmaster dashboard", version: PROTOCOL });
}

$("#login").addEventListener("submit", (e) => {
  e.preventDefault();
  sessionStorage.setItem("taskmaster-token", $("#token").value);
  $("#login").hidden = true;
  state.needToken = false;
  if (state.ws && state.ws.readyState === WebSocket.OPEN) {
    register(true);
  } else {
    connect();
  }
});

// ---- the table ---------------------------------------------------------

function showSnapshot(d) {
  state.jobs = new Map(d.jobs.map((j) => [j.name, j]));
  state.instances = new Map(d.instances.map((i) => [i.instance, i]));
  render();
}

function updateInstance(d, flash) {
  state.instances.set(d.instance, d);
  const row = document.querySelector(`tr[data-instance="${CSS.escape(d.instance)}"]`);
  if (!row) {
    render();
    return;
  }
  fillInstance(row, d);
  refreshJobState(d.job);
  if (flash) {
    row.classList.remove("changed");
    void row.offsetWidth; // restart the animation
    row.classList.add("changed");
  }
}

function render() {
  const body = $("#jobs tbody");
  body.replaceChildren();
  $("#empty").hidden = state.jobs.size > 0;
  for (const job of [...state.jobs.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    body.append(jobRow(job));
    const insts = [...state.instances.values()]
      .filter((i) => i.job === job.name)
      .sort((a, b) => a.index - b.index);
    for (const inst of insts) {
      const row = instanceRow(inst);
      body.append(row);
      fillInstance(row, inst);
    }
  }
}

function jobRow(job) {
  const row = el("tr", { class: "job", "data-job": job.name });
  row.append(
    el("td", {}, job.name),
    el("td", { class: `state ${job.state}` }, job.state),
    el("td"), el("td"), el("td"), el("td"),
    el("td", { class: "detail" }, job.error ? `job file not in use: ${job.error}` : ""),
    actions(job.name),
  );
  return row;
}

// The order in which one instance's state sums up its job's, as
// taskmasterd does it (docs/protocol.md, the status JSON).
const PRIORITY = ["FATAL", "BACKOFF", "EXITED", "STOPPING", "STARTING", "STOPPED", "RUNNING"];

function refreshJobState(name) {
  const states = [...state.instances.values()].filter((i) => i.job === name).map((i) => i.state);
  const job = state.jobs.get(name);
  if (!job || states.length === 0) return;
  job.state = PRIORITY.find((s) => states.includes(s)) || states[0];
  const cell = document.querySelector(`tr[data-job="${CSS.escape(name)}"] td.state`);
  if (cell) {
    cell.textContent = job.state;
    cell.className = `state ${job.state}`;
  }
}

function instanceRow(inst) {
  const row = el("tr", { class: "instance", "data-instance": inst.instance });
  for (const cls of ["name", "state", "pid", "uptime", "restarts", "exit", "detail"]) {
    row.append(el("td", { class: cls }));
  }
  row.append(actions(inst.instance));
  row.addEventListener("click", (e) => {
    if (e.target.tagName !== "BUTTON") follow(inst.instance);
  });
  if (inst.instance === state.followed) row.classList.add("selected");
  return row;
}

function fillInstance(row, inst) {
  const cell = (cls) => row.querySelector(`td.${cls}`);
  cell("name").textContent = inst.instance;
  cell("state").textContent = inst.state;
  cell("state").className = `state ${inst.state}`;
  cell("pid").textContent = inst.pid || "";
  cell("uptime").dataset.started = inst.started || "";
  cell("uptime").textContent = uptime(inst.started);
  cell("restarts").textContent = inst.restarts;
  cell("exit").textContent = exitText(inst);
  cell("detail").textContent = [healthText(inst), inst.detail, inst.notify_status, inst.check_error]
    .filter(Boolean).join("; ");
  cell("detail").classList.toggle("unhealthy", inst.health === "unhealthy");
}

// healthText sums up an instance's checks (docs/jobs.md, ready and
// health): its health check's verdict, or "not ready" while its ready
// check has not passed.
function healthText(inst) {
  if (inst.health) return `health: ${inst.health}`;
  if (inst.ready === "waiting") return "not ready";
  return "";
}

function actions(target) {
  const td = el("td", { class: "actions" });
  for (const action of ["start", "stop", "restart"]) {
    const b = el("button", { type: "button", "data-action": action, "data-target": target }, action);
    b.addEventListener("click", () => request(`${action}_job_request`, { job: target }));
    td.append(b);
  }
  return td;
}

function exitText(inst) {
  if (inst.exit_code === null || inst.exit_code === undefined) return "";
  return inst.signal ? inst.signal : String(inst.exit_code);
}

function uptime(started) {
  if (!started) return "";
  let s = Math.max(0, Math.floor((Date.now() - Date.parse(started)) / 1000));
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}

// The uptimes tick in the browser; taskmasterd is not asked.
setInterval(() => {
  for (const td of document.querySelectorAll("td.uptime")) td.textContent = uptime(td.dataset.started);
}, 1000);

// ---- output ------------------------------------------------------------

function follow(instance) {
  if (state.followed && state.followed !== instance) {
    send("unsubscribe_output_request", { job: state.followed });
  }
  state.followed = instance;
  for (const r of document.querySelectorAll("tr.selected")) r.classList.remove("selected");
  const row = document.querySelector(`tr[data-instance="${CSS.escape(instance)}"]`);
  if (row) row.classList.add("selected");
  $("#output-pane").hidden = false;
  $("#output-name").textContent = instance;
  $("#output").textContent = "";
  request("tail_request", { job: instance, lines: 200 }, (t) => {
    appendOutput(t.data);
    request("subscribe_output_request", { job: instance, after: t.next });
  });
}

function appendOutput(text) {
  const pre = $("#output");
  const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  pre.append(text);
  if (pre.textContent.length > 200000) pre.textContent = pre.textContent.slice(-100000);
  if (atEnd) pre.scrollTop = pre.scrollHeight;
}

$("#output-close").addEventListener("click", () => {
  if (state.followed) send("unsubscribe_output_request", { job: state.followed });
  state.followed = null;
  $("#output-pane").hidden = true;
  for (const r of document.querySelectorAll("tr.selected")) r.classList.remove("selected");
});

$("#reload").addEventListener("click", () => request("reload_request", {}));

// ---- small helpers -----------------------------------------------------

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function setLink(up, text) {
  const s = $("#link");
  s.textContent = text;
  s.className = `link ${up ? "up" : "down"}`;
}

function banner(text, isError) {
  const b = $("#banner");
  b.textContent = text;
  b.hidden = !text;
  b.className = isError ? "error" : "";
}

connect();
