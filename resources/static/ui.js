/* mr web view: helpers shared by the pages. No framework, no build step. */
"use strict";

const mr = (() => {
  const data = JSON.parse(document.getElementById("mr-data").textContent || "{}");

  /* The token kept by the page (?token= once, then the mr_token cookie), for the JSON API,
     which wants it in an Authorization header. */
  function token() {
    const found = document.cookie.match(/(?:^|;\s*)mr_token=([^;]*)/);
    return found ? decodeURIComponent(found[1]) : null;
  }

  async function api(method, url) {
    const headers = {Accept: "application/json"};
    const t = token();
    if (t) headers.Authorization = "Bearer " + t;
    const reply = await fetch(url, {method, headers, credentials: "same-origin"});
    const body = await reply.json().catch(() => ({}));
    if (!reply.ok) throw new Error(body.error || `${method} ${url}: HTTP ${reply.status}`);
    return body;
  }

  async function fragment(url) {
    const reply = await fetch(url, {credentials: "same-origin"});
    if (!reply.ok) throw new Error(`${url}: HTTP ${reply.status}`);
    const holder = document.createElement("template");
    holder.innerHTML = await reply.text();   // server-rendered, escaped HTML
    return holder.content;
  }

  function duration(seconds) {
    if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
    if (seconds < 60) return `${seconds.toFixed(1)} s`;
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return `${minutes} min ${Math.floor(seconds % 60)} s`;
    return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
  }

  /* Display only: running clocks tick here, in the browser; nothing is asked of the server. */
  function tick(root) {
    const now = Date.now() / 1000;
    for (const el of (root || document).querySelectorAll(".elapsed[data-since]")) {
      const until = el.dataset.until ? parseFloat(el.dataset.until) : now;
      el.textContent = duration(Math.max(until - parseFloat(el.dataset.since), 0));
    }
  }

  function localTimes(root) {
    for (const el of (root || document).querySelectorAll("time[data-ts]")) {
      if (el.dataset.local) continue;
      const when = new Date(parseFloat(el.dataset.ts) * 1000);
      el.textContent = when.toLocaleString();
      el.title = when.toISOString();
      el.dataset.local = "1";
    }
  }

  function refreshed(root) { localTimes(root); tick(root); }

  /* Server-Sent Events; `handlers` maps event names to functions of the parsed data. */
  function listen(url, handlers) {
    const live = document.getElementById("live");
    const source = new EventSource(url, {withCredentials: true});
    source.onopen = () => {
      if (live) live.className = "live on";
      document.body.dataset.stream = "open";
    };
    source.onerror = () => {
      if (live) live.className = source.readyState === EventSource.CLOSED ? "live" : "live off";
    };
    for (const [name, handle] of Object.entries(handlers)) {
      source.addEventListener(name, (event) => {
        if (typeof event.data === "string") handle(JSON.parse(event.data));
      });
    }
    return source;
  }

  function stopped(source) {
    source.close();
    document.body.dataset.stream = "ended";
    const live = document.getElementById("live");
    if (live) live.className = "live";
  }

  if (new URLSearchParams(location.search).has("token")) {   // keep it out of the history
    const url = new URL(location.href);
    url.searchParams.delete("token");
    history.replaceState(null, "", url);
  }
  refreshed(document);
  setInterval(() => tick(document), 1000);
  return {data, api, fragment, duration, refreshed, listen, stopped};
})();
