// Bedside UI script: the worklist countdown and the EHR sandbox client.
// Hand-written, no dependencies, no eval, no inline handlers (CSP-friendly).
// Card text is only ever inserted with textContent, never as HTML.
(function () {
  "use strict";

  // ---- Countdown: every element with data-deadline, once a second. ------
  // Same wording and rounding as util::countdown in the Rust renderer.
  function span(secs) {
    var d = Math.floor(secs / 86400), h = Math.floor(secs / 3600) % 24,
        m = Math.floor(secs / 60) % 60, s = secs % 60;
    if (d > 0) return d + " d " + h + " h";
    if (h > 0) return h + " h " + m + " min";
    if (m > 0) return m + " min " + s + " s";
    return s + " s";
  }
  function tick() {
    var els = document.querySelectorAll("[data-deadline]");
    var now = Date.now();
    for (var i = 0; i < els.length; i++) {
      var t = Date.parse(els[i].getAttribute("data-deadline"));
      if (isNaN(t)) continue;
      var secs = Math.trunc((t - now) / 1000);
      var overdue = secs < 0;
      els[i].textContent = overdue ? "overdue by " + span(-secs) : "in " + span(secs);
      els[i].classList.toggle("overdue", overdue);
    }
  }
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);

  // ---- EHR sandbox: fire CDS Hooks exactly as an EHR would. --------------
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  function safeHref(url) {
    if (typeof url !== "string") return null;
    var u = url.trim();
    if (/^(https?:)?\/\//i.test(u) || /^\/(?!\/)/.test(u) || /^[#?]/.test(u)) return u;
    return null;
  }

  // A tiny, safe Markdown subset for card.detail: paragraphs, "- " lists,
  // "> " block quotes, pipe tables, "#" headings (shown bold), **bold**,
  // *em* / _em_ (at a word start), `code`, [text](url), backslash escapes.
  // Emphasis may contain links, code and escaped characters.
  var INLINE = /(\\[!-\/:-@\[-`{-~]|\*\*(?:[^*\\]|\\.)+\*\*|\*[^*\s\\](?:[^*\\]|\\.)*\*|_[^_\s][^_]*_|`[^`]+`|\[[^\]]+\]\([^)\s]+\))/g;
  function inline(parent, text) {
    var re = new RegExp(INLINE.source, "g"), last = 0, m;
    while ((m = re.exec(text)) !== null) {
      var t = m[0];
      if (t[0] === "_" && m.index > 0 && /\w/.test(text[m.index - 1])) continue; // snake_case
      if (m.index > last) parent.appendChild(document.createTextNode(text.slice(last, m.index)));
      if (t[0] === "\\") parent.appendChild(document.createTextNode(t[1]));
      else if (t.slice(0, 2) === "**") { var b = el("strong"); inline(b, t.slice(2, -2)); parent.appendChild(b); }
      else if (t[0] === "*" || t[0] === "_") { var i = el("em"); inline(i, t.slice(1, -1)); parent.appendChild(i); }
      else if (t[0] === "`") parent.appendChild(el("code", null, t.slice(1, -1)));
      else {
        var lm = /^\[([^\]]+)\]\(([^)\s]+)\)$/.exec(t), href = lm && safeHref(lm[2]);
        parent.appendChild(href ? el("a", { href: href }, lm[1]) : document.createTextNode(lm ? lm[1] : t));
      }
      last = m.index + t.length;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }
  function cells(line) {
    return line.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map(function (c) { return c.trim(); });
  }
  function table(lines) {
    var t = el("table", { "class": "card-table" }), body = el("tbody");
    var rows = lines.filter(function (l) { return !/^\s*\|?\s*:?-{2,}/.test(l); });
    var head = el("thead"), tr = el("tr");
    cells(rows[0]).forEach(function (c) { var th = el("th", { scope: "col" }); inline(th, c); tr.appendChild(th); });
    head.appendChild(tr);
    t.appendChild(head);
    rows.slice(1).forEach(function (l) {
      var r = el("tr");
      cells(l).forEach(function (c) { var td = el("td"); inline(td, c); r.appendChild(td); });
      body.appendChild(r);
    });
    t.appendChild(body);
    return t;
  }
  function blocks(root, src) {
    String(src || "").split(/\n\s*\n/).forEach(function (block) {
      var lines = block.split("\n").filter(function (l) { return l.trim() !== ""; });
      if (!lines.length) return;
      if (lines.every(function (l) { return /^\s*>/.test(l); })) {
        var q = el("blockquote");
        blocks(q, lines.map(function (l) { return l.replace(/^\s*> ?/, ""); }).join("\n"));
        root.appendChild(q);
      } else if (lines.length > 1 && lines.every(function (l) { return /^\s*\|/.test(l); })) {
        root.appendChild(table(lines));
      } else if (lines.every(function (l) { return /^\s*[-*] /.test(l); })) {
        var ul = el("ul");
        lines.forEach(function (l) { var li = el("li"); inline(li, l.replace(/^\s*[-*] /, "")); ul.appendChild(li); });
        root.appendChild(ul);
      } else if (/^#{1,6} /.test(lines[0]) && lines.length === 1) {
        var p = el("p"), s = el("strong");
        inline(s, lines[0].replace(/^#{1,6} /, ""));
        p.appendChild(s);
        root.appendChild(p);
      } else if (/^\s*[-*] /.test(lines[lines.length - 1]) && !/^\s*[-*] /.test(lines[0])) {
        // A lead-in line followed by a list.
        var k = lines.findIndex(function (l) { return /^\s*[-*] /.test(l); });
        blocks(root, lines.slice(0, k).join("\n"));
        blocks(root, lines.slice(k).join("\n"));
      } else {
        var para = el("p");
        inline(para, lines.join(" "));
        root.appendChild(para);
      }
    });
  }
  function markdown(src) {
    var root = el("div", { "class": "card-detail" });
    blocks(root, src);
    return root;
  }

  function cfg() {
    var s = document.getElementById("sandbox");
    return s && {
      fhirServer: s.getAttribute("data-fhir-server"),
      userId: s.getAttribute("data-user-id"),
      patientId: s.getAttribute("data-patient-id"),
      encounterId: s.getAttribute("data-encounter-id"),
      tokenUrl: s.getAttribute("data-token-url")
    };
  }
  function serviceUrl(id) { return location.origin + "/cds-services/" + encodeURIComponent(id); }

  // The JWT comes from the server (it holds the sandbox's private key):
  // JSON {"token": "..."} (or access_token), or the bare token as text.
  function token(tokenUrl, aud) {
    return fetch(tokenUrl + "?aud=" + encodeURIComponent(aud), { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("token endpoint answered " + r.status);
      var ct = r.headers.get("content-type") || "";
      return ct.indexOf("json") >= 0
        ? r.json().then(function (j) { return j.token || j.access_token; })
        : r.text().then(function (t) { return t.trim(); });
    });
  }

  function post(url, aud, tokenUrl, body) {
    return token(tokenUrl, aud).then(function (jwt) {
      return fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "application/json", "Authorization": "Bearer " + jwt },
        body: JSON.stringify(body)
      });
    });
  }

  function status(text, isError) {
    var s = document.getElementById("hook-status");
    if (!s) return;
    s.textContent = text;
    s.classList.toggle("error", !!isError);
  }

  function fire(btn) {
    var c = cfg();
    if (!c) return;
    var id = btn.getAttribute("data-service-id"), hook = btn.getAttribute("data-hook");
    var context = { userId: c.userId, patientId: c.patientId };
    if (c.encounterId) context.encounterId = c.encounterId;
    if (hook === "order-sign" || hook === "order-select") {
      var d = document.getElementById("draft-orders");
      try { context.draftOrders = JSON.parse(d ? d.textContent : "null"); } catch (e) { context.draftOrders = null; }
      if (hook === "order-select") {
        context.selections = ((context.draftOrders && context.draftOrders.entry) || []).map(function (e) {
          return e.resource.resourceType + "/" + e.resource.id;
        });
      }
    }
    var body = { hook: hook, hookInstance: uuid(), fhirServer: c.fhirServer, context: context };
    var started = performance.now();
    btn.disabled = true;
    status("Calling " + id + " (" + hook + ")\u2026");
    post(serviceUrl(id), serviceUrl(id), c.tokenUrl, body).then(function (r) {
      if (!r.ok) return r.text().then(function (t) { throw new Error(hook + " answered " + r.status + ": " + t.slice(0, 200)); });
      return r.json();
    }).then(function (res) {
      var cards = (res && res.cards) || [];
      var box = document.getElementById("cds-cards");
      box.textContent = "";
      cards.forEach(function (card) { box.appendChild(renderCard(card, id, c)); });
      status(hook + ": " + cards.length + (cards.length === 1 ? " card" : " cards") + " in " + Math.round(performance.now() - started) + " ms");
    }).catch(function (e) {
      status("Failed: " + e.message, true);
    }).then(function () { btn.disabled = false; });
  }

  var ICON = { info: "\u2139", warning: "\u26A0", critical: "\u26D4" };
  var LABEL = { info: "Info", warning: "Warning", critical: "Critical" };

  function renderCard(card, serviceId, c) {
    var ind = ICON[card.indicator] ? card.indicator : "info";
    var art = el("article", { "class": "cds-card indicator-" + ind, "data-card-uuid": card.uuid || "" });
    var head = el("p", { "class": "indicator" });
    head.appendChild(el("span", { "aria-hidden": "true" }, ICON[ind] + " "));
    head.appendChild(document.createTextNode(LABEL[ind]));
    art.appendChild(head);
    art.appendChild(el("h3", { "class": "card-summary" }, card.summary || ""));
    if (card.detail) art.appendChild(markdown(card.detail));
    if (card.source && card.source.label) {
      var sp = el("p", { "class": "card-source" }, "Source: "), href = safeHref(card.source.url);
      sp.appendChild(href ? el("a", { href: href }, card.source.label) : document.createTextNode(card.source.label));
      art.appendChild(sp);
    }
    if (card.links && card.links.length) {
      var ul = el("ul", { "class": "card-links" });
      card.links.forEach(function (l) {
        var h = safeHref(l.url), li = el("li");
        li.appendChild(h ? el("a", { href: h }, l.label) : document.createTextNode(l.label));
        ul.appendChild(li);
      });
      art.appendChild(ul);
    }
    var fb = el("p", { "class": "feedback-status", role: "status" });
    var actions = el("div", { "class": "card-actions" });
    (card.suggestions || []).forEach(function (s) {
      var b = el("button", { type: "button", "class": "suggestion-accept" }, "Accept: " + (s.label || "suggestion"));
      b.addEventListener("click", function () {
        var f = { card: card.uuid, outcome: "accepted", outcomeTimestamp: new Date().toISOString() };
        if (s.uuid) f.acceptedSuggestions = [{ id: s.uuid }];
        sendFeedback(serviceId, c, f, art, fb, "accepted \u201C" + (s.label || "suggestion") + "\u201D");
      });
      actions.appendChild(b);
    });
    if (actions.childNodes.length) art.appendChild(actions);
    art.appendChild(overrideForm(card, serviceId, c, art, fb));
    art.appendChild(fb);
    return art;
  }

  function overrideForm(card, serviceId, c, art, fb) {
    var n = uuid().slice(0, 8);
    var form = el("form", { "class": "override-form" });
    var reasons = card.overrideReasons || [];
    var selWrap = el("div");
    selWrap.appendChild(el("label", { "for": "reason-" + n }, "Override reason"));
    var sel = el("select", { id: "reason-" + n, "class": "override-reason" });
    sel.appendChild(el("option", { value: "" }, "(no reason given)"));
    reasons.forEach(function (r, i) { sel.appendChild(el("option", { value: String(i) }, r.display || r.code)); });
    selWrap.appendChild(sel);
    var comWrap = el("div");
    comWrap.appendChild(el("label", { "for": "comment-" + n }, "Comment"));
    var com = el("textarea", { id: "comment-" + n, rows: "1", "class": "override-comment" });
    comWrap.appendChild(com);
    form.appendChild(selWrap);
    form.appendChild(comWrap);
    form.appendChild(el("button", { type: "submit", "class": "override-submit" }, "Override"));
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var f = { card: card.uuid, outcome: "overridden", outcomeTimestamp: new Date().toISOString() };
      var r = sel.value === "" ? null : reasons[Number(sel.value)];
      var comment = com.value.trim();
      if (r || comment) {
        f.overrideReason = {};
        if (r) f.overrideReason.reason = r;
        if (comment) f.overrideReason.userComment = comment;
      }
      sendFeedback(serviceId, c, f, art, fb, "overridden" + (r ? " (" + (r.display || r.code) + ")" : ""));
    });
    return form;
  }

  function sendFeedback(serviceId, c, f, art, fb, what) {
    var buttons = art.querySelectorAll("button");
    Array.prototype.forEach.call(buttons, function (b) { b.disabled = true; });
    fb.classList.remove("error");
    fb.textContent = "Sending feedback\u2026";
    post(serviceUrl(serviceId) + "/feedback", serviceUrl(serviceId), c.tokenUrl, { feedback: [f] }).then(function (r) {
      if (!r.ok) return r.text().then(function (t) { throw new Error("feedback answered " + r.status + ": " + t.slice(0, 200)); });
      fb.textContent = "Feedback recorded: " + what + ".";
      art.setAttribute("data-feedback", f.outcome);
    }).catch(function (e) {
      fb.textContent = "Feedback failed: " + e.message;
      fb.classList.add("error");
      Array.prototype.forEach.call(buttons, function (b) { b.disabled = false; });
    });
  }

  // ---- htmx: say so when an action fails (htmx does not swap errors). ---
  document.addEventListener("htmx:responseError", function (ev) {
    var flash = document.querySelector("#worklist .flash");
    if (!flash) return;
    var xhr = ev.detail && ev.detail.xhr;
    var msg = xhr && xhr.responseText && xhr.getResponseHeader("content-type") &&
      xhr.getResponseHeader("content-type").indexOf("text/plain") === 0 ? xhr.responseText.slice(0, 200) : "";
    flash.textContent = "The action failed" + (xhr ? " (" + xhr.status + ")" : "") + (msg ? ": " + msg : ".");
    flash.classList.add("error");
  });

  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest && ev.target.closest("button.fire");
    if (btn) { ev.preventDefault(); fire(btn); }
  });
})();
