/* iwf-widget: behaviour inside the form document. The page works without it.
   Embedded, it talks to the partner page's embed.js over a MessageChannel that the
   partner page hands over in an "iwf:hello" message: it reports its height, forwards
   Escape, asks the partner page to leave quickly, and keeps its exit bar within the part
   of the frame the partner page says is on screen. */
(function () {
  "use strict";
  var doc = document, root = doc.documentElement, body = doc.body;
  var exitUrl = body.getAttribute("data-iwf-exit-url");
  var countUrl = body.getAttribute("data-iwf-count");
  // The partner origins allowed to embed this form (the server's IWF_WIDGET_ALLOWED_ORIGINS).
  var origins = (body.getAttribute("data-iwf-origins") || "").split(/\s+/).filter(Boolean).map(function (o) {
    try { return new URL(o).origin; } catch (e) { return ""; }
  });
  if (!origins.length) origins = [location.origin];
  var port = null, height = 0, pending = 0;

  function send(message) {
    if (!port) return false;
    message.v = 1;
    port.postMessage(message);
    return true;
  }

  // The partner page (and any script on it) sees the frame's height. Once past the first step,
  // the height is that of the tallest step the first step leads to, so it does not tell which
  // choice was made; the person still sees the whole step without a scrollbar in the frame.
  function measure() {
    pending = 0;
    var h = body.getBoundingClientRect().height;
    var shown = doc.querySelector("[data-iwf-step]:not([hidden])");
    if (shown && !/^(scope|language)$/.test(shown.getAttribute("data-iwf-step"))) {
      var own = shown.getBoundingClientRect().height, tallest = own;
      var others = doc.querySelectorAll("[data-iwf-step][hidden]:not([data-iwf-step=scope]):not([data-iwf-step=language])");
      for (var i = 0; i < others.length; i++) others[i].hidden = false;
      for (i = 0; i < others.length; i++) tallest = Math.max(tallest, others[i].getBoundingClientRect().height);
      for (i = 0; i < others.length; i++) others[i].hidden = true;
      h += tallest - own;
    }
    h = Math.ceil(h);
    if (h !== height && send({ type: "iwf:height", height: h })) height = h;
  }

  // Inline, the frame is as tall as the form and never scrolls, so the exit bar's sticky
  // position does nothing there: the partner page says which part of the frame is on screen
  // ("iwf:view", at most once a frame) and the bar moves to its top, never past the frame's
  // end. It stays first in the document, for the keyboard and screen readers. Opened alone
  // or in the dialog no such message comes, and the bar sticks to the top as it is.
  var view = null;
  function place() {
    var bar = doc.querySelector(".iwf-exit");
    if (!bar || !view) return;
    var at = Math.max(0, Math.min(view.top, window.innerHeight - bar.offsetHeight - bar.offsetTop));
    bar.style.transform = at ? "translateY(" + at + "px)" : "";
  }

  window.addEventListener("message", function (ev) {
    var m = ev.data;
    if (port || window.parent === window || ev.source !== window.parent) return;
    if (origins.indexOf(ev.origin) < 0 || !ev.ports || ev.ports.length !== 1) return;
    if (!m || m.v !== 1 || m.type !== "iwf:hello") return;
    port = ev.ports[0];
    port.onmessage = function (e) {
      var v = e.data;
      if (v && v.v === 1 && v.type === "iwf:view" && typeof v.top === "number" && typeof v.height === "number") {
        view = v;
        place();
      }
    };
    send({ type: "iwf:page", lang: root.lang, dir: root.dir, title: body.getAttribute("data-iwf-title") || doc.title });
    measure();
  });
  window.addEventListener("resize", place);
  if (window.ResizeObserver) {
    new ResizeObserver(function () {
      if (!pending) pending = requestAnimationFrame(measure);
    }).observe(body);
  }

  // Quick exit: blank the page at once, then leave without adding a history entry.
  function leave(ev) {
    root.classList.add("iwf-leaving");
    doc.title = "";
    if (send({ type: "iwf:exit", url: exitUrl }) || window.top === window) {
      if (ev) ev.preventDefault();
      if (!port) window.location.replace(exitUrl);
      return;
    }
    if (ev) return; // framed without embed.js: the link itself navigates the top window
    try { window.top.location.replace(exitUrl); } catch (e) { window.location.replace(exitUrl); }
  }

  function focusFirst(scope) {
    var target = scope.querySelector("[data-iwf-focus]") ||
      scope.querySelector("[data-iwf-step]:not([hidden]) h1, h1");
    if (target) target.focus();
  }

  function show(step) {
    var steps = doc.querySelectorAll("[data-iwf-step]");
    for (var i = 0; i < steps.length; i++) {
      steps[i].hidden = steps[i].getAttribute("data-iwf-step") !== step;
    }
    var heading = doc.querySelector('[data-iwf-step="' + step + '"] h1');
    if (heading) heading.focus();
    // The day's count of people sent to other help of this kind; nothing else is sent.
    if (countUrl && /^(danger|self|adult|other)$/.test(step) && navigator.sendBeacon) {
      navigator.sendBeacon(countUrl, new URLSearchParams({ kind: step }));
    }
  }

  doc.addEventListener("click", function (ev) {
    var el = ev.target.closest && ev.target.closest("[data-iwf-exit],[data-iwf-go],a[href^='#']");
    if (!el) {
      // Inside a frame, moving between the form's own pages adds no history entry.
      var link = ev.target.closest && ev.target.closest("a[href]:not([target])");
      if (link && window.top !== window && link.origin === location.origin && !ev.defaultPrevented &&
          !(ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.altKey)) {
        ev.preventDefault();
        location.replace(link.href);
      }
      return;
    }
    if (el.hasAttribute("data-iwf-exit")) return leave(ev);
    ev.preventDefault();
    if (el.hasAttribute("data-iwf-go")) return show(el.getAttribute("data-iwf-go"));
    // An error summary link: focus the field without a history entry.
    var target = doc.getElementById(el.getAttribute("href").slice(1));
    if (!target) return;
    var field = target.matches("input, textarea, select") ? target : target.querySelector("input, textarea, select");
    (field || target).focus();
    target.scrollIntoView({ block: "center" });
  });

  // Shift pressed three times within 5 seconds, as on GOV.UK; any other key starts again.
  var shifts = [], lastWasModified = false;
  doc.addEventListener("keyup", function (ev) {
    if (ev.key === "Shift" && !lastWasModified) {
      var now = Date.now();
      shifts = shifts.filter(function (t) { return now - t < 5000; });
      shifts.push(now);
      if (shifts.length >= 3) {
        shifts = [];
        leave();
      }
    } else if (ev.key !== "Shift") {
      shifts = [];
    }
    lastWasModified = ev.shiftKey;
  });
  doc.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape") send({ type: "iwf:escape" });
  });
  window.addEventListener("pageshow", function () {
    root.classList.remove("iwf-leaving");
    shifts = [];
  });

  // "Sending…" at once, before anything else (the proof-of-work may still be running), and
  // announced; a form already on its way is not sent again.
  function busy(form, on) {
    var button = form.querySelector("[type=submit]"), status = form.querySelector("[data-iwf-sending]");
    if (on) form.setAttribute("aria-busy", "true"); else form.removeAttribute("aria-busy");
    if (button) {
      if (on) button.setAttribute("aria-disabled", "true"); else button.removeAttribute("aria-disabled");
    }
    if (status) status.textContent = on ? status.getAttribute("data-iwf-sending") : "";
  }
  window.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (form.method !== "post") return;
    if (form.iwfSending) {
      ev.preventDefault();
      ev.stopImmediatePropagation();
      return;
    }
    busy(form, true);
  }, true);

  // A refusal that is not the form again (too long, too many, not saved): keep the form and
  // the answers, and show the answer's message above it.
  function keep(form, page) {
    var message = page.querySelector("main [role=alert]"), title = page.querySelector("main h1");
    var box = doc.querySelector(".iwf-summary");
    if (!box) {
      box = doc.createElement("div");
      box.className = "iwf-summary";
      box.setAttribute("role", "alert");
      box.tabIndex = -1;
      form.parentNode.insertBefore(box, form.parentNode.querySelector(".iwf-guidance") || form);
    }
    box.textContent = "";
    var h = doc.createElement("h2");
    h.textContent = title ? title.textContent : "";
    var p = doc.createElement("p");
    p.textContent = message ? message.textContent : "";
    box.appendChild(h);
    box.appendChild(p);
    box.focus();
  }

  // Submit with fetch and swap in the answer's <main>: no history entry inside the iframe.
  doc.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (ev.defaultPrevented || !window.fetch || !window.DOMParser || form.method !== "post") return;
    ev.preventDefault();
    form.iwfSending = true;
    var sent = fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      mode: "same-origin",
      credentials: "omit",
      redirect: "error",
      cache: "no-store"
    });
    sent.then(function (res) {
      if (!/^text\/html/.test(res.headers.get("Content-Type") || "")) throw new Error("not a page");
      return res.text().then(function (text) { return [res.status, text]; });
    }).then(function (answer) {
      var page = new DOMParser().parseFromString(answer[1], "text/html");
      var main = page.querySelector("main"), current = doc.querySelector("main");
      if (!main || !current) throw new Error("no main");
      if (answer[0] >= 400 && !main.querySelector("form")) {
        form.iwfSending = false;
        busy(form, false);
        return keep(form, page);
      }
      current.replaceWith(doc.adoptNode(main));
      doc.title = page.title;
      focusFirst(main);
    }).catch(function () {
      // Whatever went wrong, the plain form post still works.
      HTMLFormElement.prototype.submit.call(form);
    });
  });

  // After a change of language, the new page's heading (the language list links to it).
  var focus = doc.querySelector("[data-iwf-focus]") ||
    (location.hash && doc.getElementById(location.hash.slice(1)));
  if (focus) focus.focus();
})();
