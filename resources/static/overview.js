/* Overview of a workflow: every panel is replaced by the HTML the server sends as events. */
"use strict";

(() => {
  const wf = mr.data.workflow;
  const rows = document.getElementById("rows");

  function place(id, html) {
    const el = document.getElementById(id);
    el.innerHTML = html;
    mr.refreshed(el);
  }

  function rowOf(id) {
    return rows.querySelector(`tr[data-rid="${CSS.escape(id)}"]`);
  }

  function putRow(message) {
    const holder = document.createElement("tbody");
    holder.innerHTML = message.html;
    const fresh = holder.firstElementChild;
    const old = rowOf(message.id);
    if (old) {
      old.replaceWith(fresh);
    } else {
      const none = rows.querySelector("tr.none");
      if (none) none.remove();
      rows.prepend(fresh);
      fresh.classList.add("fresh");
      while (rows.children.length > mr.data.recent) rows.lastElementChild.remove();
    }
    mr.refreshed(fresh);
  }

  mr.listen(`/ui/${encodeURIComponent(wf)}/events`, {
    snapshot: (m) => {
      place("counts", m.counts);
      place("rows", m.rows);
      place("workers", m.workers);
      place("queues", m.queues);
    },
    row: putRow,
    gone: (m) => { const old = rowOf(m.id); if (old) old.remove(); },
    counts: (m) => place("counts", m.html),
    side: (m) => { place("workers", m.workers); place("queues", m.queues); },
    broken: (m) => console.warn("live updates:", m.error),
  });
})();
