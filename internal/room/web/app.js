// The room's dashboard. Every piece of learner data goes into the page as
// text (textContent, setAttribute on data-* and title), never as markup.
"use strict";
(function () {
  const token = new URLSearchParams(location.search).get("token") || "";
  let view = null;
  let skew = 0; // browser clock minus server clock, in ms
  // Elements showing the time since a moment, refreshed by tick.
  let clocks = [];

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  // bdi isolates a learner-given text: its direction (a right-to-left name,
  // or one the room kept from before it refused bidi controls) cannot
  // reorder what is around it.
  function bdi(text) {
    const e = el("bdi", "", text);
    e.dir = "auto";
    return e;
  }
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); }
  function serverNow() { return Date.now() - skew; }
  function ago(iso) {
    if (!iso) return "never";
    return duration((serverNow() - Date.parse(iso)) / 1000);
  }
  function duration(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    if (s < 60) return s + " s";
    const m = Math.floor(s / 60);
    if (m < 60) return m + " min " + String(s % 60).padStart(2, "0") + " s";
    return Math.floor(m / 60) + " h " + String(m % 60).padStart(2, "0") + " min";
  }
  function stuck(l) {
    return view.stuck_after_seconds > 0 && l.at !== "" &&
      (serverNow() - Date.parse(l.since)) / 1000 >= view.stuck_after_seconds;
  }
  function title(id) {
    for (const s of view.steps) if (s.id === id) return s.title;
    return id;
  }
  const marks = { pass: "✓", fail: "✗", skip: "·" };

  function renderSummary() {
    const ol = document.getElementById("summary");
    clear(ol);
    view.steps.forEach(function (s, i) {
      const li = el("li", s.at ? "" : "zero");
      li.title = s.title;
      li.appendChild(el("span", "n", s.at));
      li.appendChild(el("span", "label", (i + 1) + ". " + s.id));
      ol.appendChild(li);
    });
    const done = el("li", "done");
    done.appendChild(el("span", "n", view.done));
    done.appendChild(el("span", "label", "done"));
    ol.appendChild(done);
  }

  function renderGroups() {
    const ul = document.getElementById("groups");
    clear(ul);
    const shown = view.groups.filter(function (g) { return g.names.length > 1; }).slice(0, 8);
    if (shown.length === 0) {
      ul.appendChild(el("li", "none", view.groups.length ? "No two learners fail the same check." : "Nobody is failing a check."));
      return;
    }
    shown.forEach(function (g) {
      const li = el("li", "group");
      li.dataset.step = g.step;
      li.appendChild(el("span", "count", g.names.length + " learners: "));
      const what = el("span", "what");
      what.appendChild(document.createTextNode(g.step + " / "));
      what.appendChild(bdi(g.check));
      what.appendChild(document.createTextNode(" — "));
      what.appendChild(bdi(g.message));
      if (g.variants > 0) what.appendChild(document.createTextNode(" (and " + g.variants + " other wording" + (g.variants > 1 ? "s" : "") + ")"));
      li.appendChild(what);
      const who = el("span", "who");
      g.names.forEach(function (n, i) {
        if (i > 0) who.appendChild(document.createTextNode(", "));
        who.appendChild(bdi(n));
      });
      li.appendChild(who);
      ul.appendChild(li);
    });
    const singles = view.groups.length - shown.length;
    if (singles > 0) ul.appendChild(el("li", "none", singles + " other failing check" + (singles > 1 ? "s" : "") + ", one learner each (see the table)."));
  }

  // clock is an element showing the time since iso, kept by tick.
  function clock(iso) {
    const e = el("span", "clock", ago(iso));
    clocks.push({ el: e, since: iso });
    return e;
  }

  // announce asks the room to announce a drill ("" withdraws it): POST
  // /api/announce with the instructor token as a Bearer header. Learners
  // start it with their own drill start --from-room.
  function announce(id) {
    fetch("/api/announce", {
      method: "POST",
      headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" },
      body: JSON.stringify({ drill: id }),
    }).then(function (r) {
      if (!r.ok) return r.text().then(function (t) { status("could not announce: " + t.trim(), "down"); });
    }, function (err) {
      status("could not announce: " + err, "down");
    });
  }

  function renderAnnounce() {
    const choice = document.getElementById("drill-choice");
    if (!choice.childElementCount) {
      view.catalog.forEach(function (d) {
        const o = el("option", "", d.id + " — " + d.title);
        o.value = d.id;
        choice.appendChild(o);
      });
      document.getElementById("announce").addEventListener("click", function () { announce(choice.value); });
      document.getElementById("withdraw").addEventListener("click", function () { announce(""); });
    }
    document.getElementById("withdraw").hidden = view.announced === "";
    document.getElementById("announced").textContent = view.announced === "" ? "No drill announced." :
      "Announced: " + view.announced + ". Learners start it with kubetutor drill start --from-room.";
  }

  // drillNames lists a drill's learners of one state: their names, then
  // what says how it went.
  function drillNames(label, cls, list, what) {
    const p = el("span", "state " + cls);
    p.appendChild(el("span", "label", label + " (" + list.length + "): "));
    list.forEach(function (l, i) {
      if (i > 0) p.appendChild(document.createTextNode(", "));
      const who = el("span", "who");
      who.appendChild(bdi(l.name));
      what(who, l);
      p.appendChild(who);
    });
    return p;
  }

  function renderDrills() {
    renderAnnounce();
    const ul = document.getElementById("drills");
    clear(ul);
    if (view.drills.length === 0) {
      ul.appendChild(el("li", "none", "No learner is on a drill."));
      return;
    }
    view.drills.forEach(function (d) {
      const li = el("li", "drill" + (d.announced ? " announced" : ""));
      li.dataset.drill = d.id;
      const head = el("span", "head");
      head.appendChild(el("span", "id", d.id));
      head.appendChild(document.createTextNode(" — " + d.title));
      if (d.announced) head.appendChild(el("span", "badge", "announced"));
      li.appendChild(head);
      if (d.on.length + d.solved.length + d.restored.length === 0) {
        li.appendChild(el("span", "state", "Nobody has started it yet."));
      }
      if (d.on.length) li.appendChild(drillNames("on it", "on", d.on, function (who, l) {
        who.appendChild(document.createTextNode(" "));
        who.appendChild(clock(l.started));
      }));
      if (d.solved.length) li.appendChild(drillNames("solved", "solved", d.solved, function (who, l) {
        who.appendChild(document.createTextNode(" in " + duration(l.fix_seconds)));
      }));
      if (d.restored.length) li.appendChild(drillNames("gave up (restored)", "restored", d.restored, function () {}));
      ul.appendChild(li);
    });
  }

  // drillCell is a learner's last drill, on their row.
  function drillCell(l) {
    const td = el("td", "drill");
    const d = l.drill;
    if (!d) return td;
    td.dataset.state = d.state;
    td.appendChild(el("span", "id", d.id));
    if (d.state === "on") {
      td.appendChild(document.createTextNode(": on for "));
      td.appendChild(clock(d.started));
    } else if (d.state === "solved") {
      td.appendChild(document.createTextNode(": solved in " + duration(d.fix_seconds)));
    } else {
      td.appendChild(document.createTextNode(": restored"));
    }
    return td;
  }

  function renderHead() {
    const tr = document.getElementById("head");
    if (tr.childElementCount) return;
    ["Learner", "Working on", "Time on it", "Failing check", "Drill", "Last heard"].forEach(function (h, i) {
      tr.appendChild(el("th", ["", "", "time", "", "drill", "heard"][i], h));
    });
    view.steps.forEach(function (s, i) {
      const th = el("th", "step");
      th.title = s.id + ": " + s.title;
      th.appendChild(el("span", "", String(i + 1)));
      tr.appendChild(th);
    });
    tr.appendChild(el("th", "remove", ""));
  }

  // remove asks the room to drop a learner's row (DELETE /api/learners,
  // with the instructor token as a Bearer header: never in a URL).
  function remove(l) {
    if (!window.confirm("Remove " + l.name + " from the room? Their row goes and the name is free; their checks stop reaching the room until they join again.")) return;
    fetch("/api/learners?id=" + encodeURIComponent(l.id), {
      method: "DELETE",
      headers: { "Authorization": "Bearer " + token },
    }).then(function (r) {
      if (!r.ok) return r.text().then(function (t) { status("could not remove " + l.name + ": " + t.trim(), "down"); });
    }, function (err) {
      status("could not remove " + l.name + ": " + err, "down");
    });
  }

  function renderRows() {
    const tbody = document.getElementById("rows");
    clear(tbody);
    document.getElementById("empty").hidden = view.learners.length > 0;
    view.learners.forEach(function (l) {
      const tr = el("tr", "learner");
      tr.dataset.name = l.name;
      tr.dataset.at = l.at;
      tr.dataset.current = l.current;
      const name = el("td", "name");
      name.dir = "auto";
      name.appendChild(bdi(l.name));
      tr.appendChild(name);
      tr.appendChild(el("td", "at", l.at === "" ? "all done" : l.at));
      tr.appendChild(el("td", "time", ""));
      const msg = el("td", "msg");
      if (l.failing) {
        const check = el("span", "check");
        check.appendChild(bdi(l.failing.check));
        msg.appendChild(check);
        msg.appendChild(document.createTextNode(": "));
        msg.appendChild(bdi(l.failing.message));
        if (l.failing.hint) msg.title = "hint: " + l.failing.hint;
      }
      tr.appendChild(msg);
      tr.appendChild(drillCell(l));
      tr.appendChild(el("td", "heard", ""));
      l.steps.forEach(function (st, i) {
        const td = el("td", "mark " + st, marks[st] || "?");
        td.title = view.steps[i].id + ": " + st;
        tr.appendChild(td);
      });
      const rm = el("td", "remove");
      const button = el("button", "remove", "✕");
      button.type = "button";
      button.title = "Remove " + l.name + " from the room";
      button.setAttribute("aria-label", button.title);
      button.addEventListener("click", function () { remove(l); });
      rm.appendChild(button);
      tr.appendChild(rm);
      tbody.appendChild(tr);
    });
    tick();
  }

  // tick refreshes what changes with time alone: times, stuck marks.
  function tick() {
    if (!view) return;
    let nStuck = 0;
    const rows = document.getElementById("rows").children;
    view.learners.forEach(function (l, i) {
      const tr = rows[i];
      if (!tr) return;
      const s = stuck(l);
      if (s) nStuck++;
      tr.classList.toggle("stuck", s);
      const time = tr.querySelector("td.time");
      time.textContent = l.at === "" ? "" : ago(l.since);
      if (s) time.appendChild(el("span", "badge", "stuck"));
      tr.querySelector("td.heard").textContent = l.updated ? ago(l.updated) + " ago" : "no check yet";
    });
    clocks.forEach(function (c) { c.el.textContent = ago(c.since); });
    const n = view.learners.length;
    document.getElementById("totals").textContent =
      n + (n === 1 ? " learner" : " learners") + " · " + view.done + " done · " + nStuck + " stuck";
  }

  function render() {
    clocks = [];
    renderHead();
    renderSummary();
    renderDrills();
    renderGroups();
    renderRows();
  }

  function status(text, cls) {
    const c = document.getElementById("conn");
    c.textContent = text;
    c.className = "conn " + cls;
  }

  function connect() {
    const es = new EventSource("/events?token=" + encodeURIComponent(token));
    es.onopen = function () { status("live", "live"); };
    es.addEventListener("view", function (ev) {
      view = JSON.parse(ev.data);
      skew = Date.now() - Date.parse(view.now);
      status("live", "live");
      render();
    });
    es.onerror = function () {
      status(es.readyState === EventSource.CLOSED ? "disconnected: reload the page" : "reconnecting…", "down");
    };
  }

  connect();
  setInterval(tick, 1000);
})();
