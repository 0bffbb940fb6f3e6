/* One request: live progress, a tree whose children load on demand a page at a time,
   an invocation's record and log, retry, re-run a subtree, pause, resume and cancel. */
"use strict";

(() => {
  const {workflow: wf, request_id: rid, base} = mr.data;
  const tree = document.getElementById("tree");
  const detail = document.getElementById("detail");
  const api = `/request/${encodeURIComponent(wf)}/${encodeURIComponent(rid)}`;
  let source = null;

  function pageUrl(of, start) {
    return `${base}/children?of=${encodeURIComponent(of)}&start=${start}`;
  }

  async function loadPage(of, start) {
    const content = await mr.fragment(pageUrl(of, start));
    mr.refreshed(content);
    return content.querySelector(".page");
  }

  async function toggle(li) {
    const box = li.querySelector(":scope > .kids-box");
    const button = li.querySelector(":scope > .row > .toggle");
    const opening = box.hidden;
    if (opening && !box.firstElementChild) box.replaceChildren(await loadPage(li.dataset.iid, 0));
    box.hidden = !opening;
    button.textContent = opening ? "▾" : "▸";
    button.setAttribute("aria-expanded", String(opening));
  }

  async function turn(page, start) {
    page.replaceWith(await loadPage(page.dataset.of, start));
  }

  /* Bring shown nodes up to date in place: expanded boxes below them stay as they are. */
  async function refreshPage(page) {
    const fresh = await loadPage(page.dataset.of, page.dataset.start);
    const list = page.querySelector(":scope > ul");
    const pager = page.querySelector(":scope > .pager");
    const freshPager = fresh.querySelector(":scope > .pager");
    if (pager && freshPager) pager.replaceWith(freshPager);
    else if (freshPager) page.prepend(freshPager);
    for (const item of fresh.querySelectorAll(":scope > ul > li")) {
      const old = item.dataset.iid &&
        list.querySelector(`:scope > li[data-iid="${CSS.escape(item.dataset.iid)}"]`);
      if (old) {
        const selected = old.classList.contains("selected");
        old.className = item.className;
        old.classList.toggle("selected", selected);
        old.dataset.state = item.dataset.state;
        const label = old.querySelector(":scope > .row > .label");
        const freshLabel = item.querySelector(":scope > .row > .label");
        if (label.innerHTML !== freshLabel.innerHTML) label.replaceWith(freshLabel);
        const leaf = old.querySelector(":scope > .row > .toggle.leaf");
        const button = item.querySelector(":scope > .row > button.toggle");
        if (leaf && button) leaf.replaceWith(button);   // it has made children meanwhile
      } else if (item.dataset.iid) {
        list.querySelector(":scope > li.none")?.remove();
        list.append(item);
      }
    }
  }

  let refreshing = false, again = false, lastRefresh = 0, timer = null;
  async function refreshTree() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    try {
      const shown = [...tree.querySelectorAll(".page")].filter((p) => !p.closest("[hidden]"));
      for (const page of shown) await refreshPage(page);
      if (detail.dataset.iid) await showDetail(detail.dataset.iid);
    } catch (error) {
      console.warn("tree refresh:", error);
    } finally {
      refreshing = false;
      lastRefresh = Date.now();
      if (again) { again = false; refreshSoon(); }
    }
  }

  function refreshSoon() {      // driven by the server's events, at most about once a second
    if (timer) return;
    const wait = Math.max(0, 1000 - (Date.now() - lastRefresh));
    timer = setTimeout(() => { timer = null; refreshTree(); }, wait);
  }

  function field(list, name, value) {
    if (value === null || value === undefined || value === "") return;
    const item = document.createElement("div");
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = name;
    dd.textContent = value;
    item.append(dt, dd);
    list.append(item);
  }

  function block(title, text, cls) {
    if (!text) return [];
    const h = document.createElement("h3");
    const pre = document.createElement("pre");
    h.textContent = title;
    pre.textContent = text;
    if (cls) pre.className = cls;
    return [h, pre];
  }

  async function showDetail(iid) {
    const inv = await mr.api("GET", `${base}/invocation/${encodeURIComponent(iid)}`);
    const facts = document.createElement("dl");
    facts.className = "facts";
    const ran = inv.started && inv.finished ? mr.duration(inv.finished - inv.started) : null;
    for (const [name, value] of [
      ["invocation", inv.id], ["kind", inv.kind], ["step", inv.step], ["handler", inv.handler],
      ["version", inv.version], ["state", inv.state], ["worker", inv.worker],
      ["attempts", inv.attempts], ["children", inv.children], ["ran", ran],
      ["arguments", inv.arguments === null ? null : JSON.stringify(inv.arguments).slice(0, 300)],
    ]) field(facts, name, value);
    const heading = document.createElement("h2");
    heading.textContent = `Invocation ${inv.id}`;
    detail.dataset.iid = iid;
    detail.replaceChildren(heading, facts, ...rerunButton(inv),
                           ...block("Error", inv.error, "traceback"),
                           ...block("Log", inv.log || "(nothing captured)", "log"),
                           ...block("Stderr", inv.stderr, "log stderr"));
  }

  /* An ended request's mapper can run again with its subtree (a data step's split runs
     again with its step's mapper). */
  function rerunButton(inv) {
    const state = document.querySelector("#summary dl.facts")?.dataset.state;
    if (!["done", "failed", "cancelled"].includes(state) || inv.kind !== "map" || inv.split
        || document.querySelector("p.kept")) {   // a trace document: nothing left to re-run
      return [];
    }
    const button = document.createElement("button");
    button.type = "button";
    button.id = "rerun";
    button.dataset.iid = inv.id;
    button.textContent = "Re-run from here";
    button.title = "run this invocation and everything below it again, and reduce what " +
                   "depends on it up to a new result";
    return [button];
  }

  function select(li) {
    for (const old of tree.querySelectorAll("li.selected")) old.classList.remove("selected");
    li.classList.add("selected");
    showDetail(li.dataset.iid).catch((error) => {
      detail.replaceChildren(...block("Could not load the invocation", String(error)));
    });
  }

  tree.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (button && button.classList.contains("toggle")) {
      toggle(button.closest("li")).catch((error) => console.warn(error));
    } else if (button && button.dataset.start !== undefined) {
      turn(button.closest(".page"), button.dataset.start).catch((error) => console.warn(error));
    } else if (event.target.closest("a.label")) {
      event.preventDefault();
      select(event.target.closest("li"));
    }
  });

  function note(text) {
    const el = document.getElementById("action-note");
    if (el) el.textContent = text;
  }

  document.addEventListener("click", async (event) => {
    const button = event.target.closest("#retry, #rerun, #pause, #resume, #cancel");
    if (!button) return;
    button.disabled = true;
    try {
      if (button.id === "retry") {
        const reply = await mr.api("POST", `${api}/retry`);
        note(`retrying: ${reply.requeued} invocation(s) queued again`);
        connect();
      } else if (button.id === "rerun") {
        const iid = button.dataset.iid;
        await mr.api("POST", `${api}/rerun?invocations=${encodeURIComponent(iid)}`);
        note(`re-running the subtree of ${iid}`);
        connect();
      } else if (button.id === "pause") {
        await mr.api("POST", `${api}/pause`);
        note("paused: what runs finishes, nothing new starts");
        button.disabled = false;
      } else if (button.id === "resume") {
        const reply = await mr.api("POST", `${api}/resume`);
        note(`resumed: ${reply.published} invocation(s) published again`);
        button.disabled = false;
      } else {
        await mr.api("DELETE", api);
        note("cancelled");
      }
    } catch (error) {
      note(String(error.message || error));
      button.disabled = false;
    }
  });

  function connect() {
    if (source) mr.stopped(source);
    source = mr.listen(`${base}/events`, {
      progress: (m) => {
        const el = document.getElementById("progress");
        el.innerHTML = m.html;
        mr.refreshed(el);
        refreshSoon();
      },
      request: (m) => {
        for (const [id, html] of [["summary", m.summary], ["failure", m.failure]]) {
          const el = document.getElementById(id);
          el.innerHTML = html;
          mr.refreshed(el);
        }
        document.body.dataset.state = m.state;
      },
      end: () => {
        mr.stopped(source);
        refreshTree();
        const graph = document.getElementById("graph");
        graph.src = `${base}/graph.svg?at=${Date.now()}`;
      },
      gone: () => mr.stopped(source),
      broken: (m) => console.warn("live updates:", m.error),
    });
  }

  document.body.dataset.state = mr.data.state;
  connect();
})();
