// The govbus ops console: signs in with an ops client's credentials (POST /auth/token),
// then polls the ops API (/ops/...) and the public star-level report every few seconds.
// Same origin as the API (the local gateway, or CloudFront in front of S3 and the API).
// Everything from the API is written with textContent: no HTML is ever built from data.
"use strict";

(function () {
  const params = new URLSearchParams(window.location.search);
  // ?refresh=SECONDS changes the polling period (at least one second)
  const REFRESH_MS = Math.max(1, Number(params.get("refresh")) || 3) * 1000;
  const TOKEN_KEY = "govbus-ops-token";
  let timer = null;
  let busy = false;

  const $ = (id) => document.getElementById(id);

  function token() {
    return window.sessionStorage.getItem(TOKEN_KEY);
  }

  class ApiError extends Error {
    constructor(status, detail) {
      super(detail);
      this.status = status;
    }
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    if (token()) headers.Authorization = "Bearer " + token();
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const answer = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
    const text = await answer.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (e) {
      data = null;
    }
    if (!answer.ok) {
      const detail = (data && (data.detail || data.message)) || answer.statusText;
      throw new ApiError(answer.status, detail);
    }
    return data;
  }

  function cell(row, value, className) {
    const td = document.createElement("td");
    td.textContent = value === null || value === undefined ? "-" : String(value);
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  function fill(tableId, rows, render) {
    const body = $(tableId).querySelector("tbody");
    const fresh = document.createDocumentFragment();
    for (const item of rows) {
      const tr = document.createElement("tr");
      render(tr, item);
      fresh.appendChild(tr);
    }
    body.replaceChildren(fresh);
  }

  function percent(share) {
    return (share * 100).toFixed(1) + "%";
  }

  // --- the panels -------------------------------------------------------------

  function showAdapters(data) {
    fill("adapters", data.adapters, (tr, a) => {
      tr.dataset.adapter = a.adapter;
      cell(tr, a.adapter).title = a.title;
      cell(tr, a.family);
      cell(tr, a.version);
      cell(tr, a.health, a.health).dataset.field = "health";
      cell(tr, a.latency_ms, "num");
      cell(tr, a.circuit, a.circuit).dataset.field = "circuit";
      cell(tr, a.failures, "num");
      const reason = a.last_error || a.detail || "";
      // a long error wraps inside its panel; the whole text is also its tooltip
      cell(tr, reason, "reason").title = reason;
    });
  }

  function showEvents(data) {
    $("events-total").textContent = String(data.total);
    fill("events", data.types, (tr, t) => {
      tr.dataset.type = t.type;
      cell(tr, t.type);
      cell(tr, t.count, "num").dataset.field = "count";
      cell(tr, t.per_minute, "num");
      cell(tr, t.latency_ms_p50, "num");
      cell(tr, t.latency_ms_p95, "num");
      cell(tr, t.latency_ms_p99, "num");
    });
  }

  function showQueues(data) {
    fill("dlq", data.queues, (tr, q) => {
      tr.dataset.queue = q.name;
      cell(tr, q.name);
      cell(tr, q.depth, "num").dataset.field = "depth";
      cell(tr, q.sources.join(", ") || "(rule targets)");
      const td = document.createElement("td");
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = "Redrive";
      button.disabled = q.depth === 0;
      button.addEventListener("click", () => redrive(q.name, button));
      td.appendChild(button);
      tr.appendChild(td);
    });
  }

  function showCases(data) {
    $("cases-total").textContent = String(data.total);
    const list = document.createDocumentFragment();
    for (const [state, count] of Object.entries(data.by_state)) {
      const li = document.createElement("li");
      li.dataset.state = state;
      li.textContent = state.replaceAll("_", " ") + ": " + count;
      list.appendChild(li);
    }
    $("case-states").replaceChildren(list);
    fill("cases", data.latest, (tr, c) => {
      cell(tr, c.case_id);
      cell(tr, c.state.replaceAll("_", " "));
      cell(tr, c.agency);
      cell(tr, c.created_at.replace("T", " ").slice(0, 19));
    });
  }

  function showReport(data) {
    const targets = document.createDocumentFragment();
    for (const t of data.targets) {
      const li = document.createElement("li");
      li.className = t.met ? "met" : "unmet";
      li.textContent =
        t.text + " by " + t.by + ": now " + percent(data.overall[t.measure]) +
        (t.met ? " (met)" : " (not met)");
      targets.appendChild(li);
    }
    $("targets").replaceChildren(targets);
    const goal = {};
    for (const t of data.targets) goal[t.measure] = t.share;
    const rows = [...data.agencies, { agency_name: "all agencies", ...data.overall }];
    fill("report", rows, (tr, a) => {
      tr.dataset.agency = a.agency || "overall";
      cell(tr, a.agency_name + (a.agency ? " (" + a.agency + ")" : ""));
      cell(tr, a.items, "num");
      for (const measure of ["at_least_3_star", "at_least_4_star", "five_star"]) {
        const below = measure in goal && a[measure] < goal[measure];
        cell(tr, percent(a[measure]), "num " + (measure in goal ? (below ? "unmet" : "met") : ""));
      }
    });
  }

  // --- refresh ----------------------------------------------------------------

  async function refresh() {
    if (busy || !token()) return;
    busy = true;
    try {
      const minutes = $("window").value;
      const [adapters, events, queues, cases, report] = await Promise.all([
        api("GET", "/ops/adapters"),
        api("GET", "/ops/events?minutes=" + encodeURIComponent(minutes)),
        api("GET", "/ops/dlq"),
        api("GET", "/ops/cases"),
        api("GET", "/catalog/report"),
      ]);
      showAdapters(adapters);
      showEvents(events);
      showQueues(queues);
      showCases(cases);
      showReport(report);
      $("error").textContent = "";
      $("updated").textContent = "updated " + new Date().toLocaleTimeString();
    } catch (e) {
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
        // the gateway answers an expired (or revoked) token with a bare "Forbidden"
        signOut(
          "Your token expired or was refused (" + e.status + " " + e.message + "): " +
            "sign in again."
        );
      } else {
        $("error").textContent = "Refresh failed: " + e.message;
      }
    } finally {
      busy = false;
    }
  }

  async function redrive(name, button) {
    button.disabled = true;
    try {
      const answer = await api("POST", "/ops/dlq/" + encodeURIComponent(name) + "/redrive");
      $("redrive-result").textContent =
        "Redrove " + answer.moved + " from " + name + "." + (answer.reason ? " " + answer.reason : "");
    } catch (e) {
      $("redrive-result").textContent = "Redrive of " + name + " failed: " + e.message;
    }
    await refresh();
  }

  // --- session ----------------------------------------------------------------

  function showDashboard(clientId) {
    $("sign-in-panel").hidden = true;
    $("dashboard").hidden = false;
    $("session").hidden = false;
    $("who").textContent = clientId ? "signed in as " + clientId : "signed in";
    refresh();
    timer = window.setInterval(refresh, REFRESH_MS);
  }

  function signOut(message) {
    window.sessionStorage.removeItem(TOKEN_KEY);
    if (timer) window.clearInterval(timer);
    timer = null;
    $("dashboard").hidden = true;
    $("session").hidden = true;
    $("sign-in-panel").hidden = false;
    $("sign-in-error").textContent = message || "";
  }

  async function signIn(event) {
    event.preventDefault();
    $("sign-in-error").textContent = "";
    const clientId = $("client-id").value.trim();
    try {
      const answer = await api("POST", "/auth/token", {
        client_id: clientId,
        client_secret: $("client-secret").value,
      });
      if (!(answer.scopes || []).includes("ops")) {
        $("sign-in-error").textContent =
          "This client is not an ops client: the console needs the ops role.";
        return;
      }
      window.sessionStorage.setItem(TOKEN_KEY, answer.access_token);
      $("client-secret").value = "";
      showDashboard(clientId);
    } catch (e) {
      $("sign-in-error").textContent = "Sign-in refused: " + e.message;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("sign-in").addEventListener("submit", signIn);
    $("sign-out").addEventListener("click", () => signOut(""));
    $("window").addEventListener("change", refresh);
    if (token()) showDashboard("");
  });
})();
