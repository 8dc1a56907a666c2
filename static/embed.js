/* iwf-widget embed snippet. Turns each [data-iwf-report] element into the report form,
   inline or behind a button that opens it in a modal dialog; IWFReport.mount(el, options)
   does the same for elements added later. The server fills in CONFIG (the offered
   languages, their labels and the default one; see iwf_widget/embed.py). The button and
   its dialog are in embed-dialog.js, loaded only by a page that has one.
   No cookies, no storage, no inline styles; it talks only to the widget's own origin. */
(function (w, d) {
  "use strict";
  // Markup injected into the page (<img name="currentScript">, <form id="IWFReport">) can
  // shadow document's and window's properties: read them from the prototypes, check types.
  var D = Document.prototype;
  function prop(name) { return Object.getOwnPropertyDescriptor(D, name); }
  function get(name) { return prop(name).get.call(d); }
  var known = w.IWFReport;
  if (known && Object.getPrototypeOf(known) === Object.prototype && typeof known.scan === "function") return known.scan();
  // {d: default language, o: offered ones, r: right-to-left ones,
  //  s: {lang: [button and frame title, close]} for the default; others load on demand,
  //  i: the integrity hash of embed-dialog.js}
  var CONFIG = /*@config*/{"d": "en", "o": ["en"], "r": [], "s": {"en": ["Report child sexual abuse images", "Close"]}, "i": ""}/*@*/;
  var SANDBOX = "allow-forms allow-scripts allow-same-origin allow-top-navigation-by-user-activation";

  // The widget's origin and base path (".../report") come from this script's own address.
  var me = get("currentScript");
  if (!(me instanceof HTMLScriptElement)) return;
  var src = new URL(me.src);
  var ORIGIN = src.origin;
  var BASE = ORIGIN + src.pathname.replace(/\/embed\.js$/, "");
  var vv = w.visualViewport;
  var waiting = {};
  var policy;

  // Everything the snippet loads comes from here, from the widget's origin: where the page
  // requires Trusted Types, through a policy named "iwf-widget" that passes only the widget's
  // embed-*.js addresses; with this script's CSP nonce; for embed-dialog.js, with its
  // integrity hash. fn() once CONFIG.s[key] is there (or could not be had); fn(1) at once
  // if Trusted Types are required and the page does not allow the policy.
  function need(key, path, fn) {
    var queue = waiting[key];
    if (CONFIG.s[key] || queue === 1) return fn();
    if (!queue) {
      queue = waiting[key] = [];
      var s = el("script", { referrerPolicy: "no-referrer", crossOrigin: "anonymous", nonce: me.nonce });
      if (key === "dialog") s.integrity = CONFIG.i;
      s.onerror = function () { got(key); };
      try {
        policy = policy || w.trustedTypes.createPolicy("iwf-widget", {
          createScriptURL: function (u) { if (!u.indexOf(BASE + "/embed-")) return u; throw u; }
        });
      } catch (x) { /* no Trusted Types, or the policy not allowed: then a string, which such a page refuses */ }
      try {
        s.src = policy ? policy.createScriptURL(BASE + path) : BASE + path;
      } catch (x) {
        waiting[key] = 0;
        return fn(1);
      }
      get("head").appendChild(s);
    }
    queue.push(fn);
  }

  // Called by what need() loaded: a language's labels, or the dialog's code ("dialog").
  function got(key, value) {
    var queue = waiting[key];
    if (value) CONFIG.s[key] = value;
    waiting[key] = 1;
    (queue || []).forEach(function (fn) { fn(); });
  }

  function el(tag, props) {
    var e = D.createElement.call(d, tag);
    for (var k in props) e[k] = props[k];
    return e;
  }

  function link(url, text) {
    return el("a", { href: url, rel: "noreferrer", referrerPolicy: "no-referrer", textContent: text });
  }

  // data-lang, then the lang of a plain link's address, then the page's, then the browser's.
  // The snippet's labels are the language's; the form gets the whole tag (pt-BR, es-419),
  // which the server answers with that region's wording where it differs.
  function language(e, o, whole) {
    var tags = [o.lang, e.getAttribute("data-lang")];
    try { tags.push(new URL(e.href).searchParams.get("lang")); } catch (x) { /* not a link */ }
    tags = tags.concat(get("documentElement").lang, navigator.languages);
    for (var i = 0; i < tags.length; i++) {
      var tag = String(tags[i] || ""), base = tag.toLowerCase().split(/[-_]/)[0];
      if (CONFIG.o.indexOf(base) >= 0) return whole && /^[a-z]{2,3}([-_][a-z0-9]{2,8}){0,3}$/i.test(tag) ? tag : base;
    }
    return whole ? CONFIG.t : CONFIG.d;
  }

  // A colour's hex digits, or "". The server keeps it only if white text on it has 4.5:1
  // contrast (WCAG AA), and so does embed-dialog.js for its button.
  function accent(value) {
    var m = /^#?([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(String(value || "").trim());
    return m ? m[1].toLowerCase() : "";
  }

  // Blank the page at once, then leave without adding a history entry.
  function leave(href) {
    get("documentElement").style.visibility = "hidden";
    location.replace(href);
  }

  function frame(url, title, dialog) {
    var f = el("iframe", { title: title, className: "iwf-report-frame" }), port, timer, queued;
    f.setAttribute("sandbox", SANDBOX);
    f.setAttribute("referrerpolicy", "no-referrer");
    var s = f.style;
    s.display = "block";
    s.border = "0";
    s.inlineSize = "100%";
    s.blockSize = "32rem";
    // Inline, the frame is as tall as the form and never scrolls, so the form's exit bar
    // could not stay in view by itself: at most once a frame, the form is told where the
    // screen is, in the frame's CSS pixels (top < 0 while the frame starts lower down), and
    // keeps the bar in the part of itself that is on screen.
    function view() {
      queued = 0;
      if (port) port.postMessage({ v: 1, type: "iwf:view", top: vv.offsetTop - f.getBoundingClientRect().top, height: vv.height });
    }
    function soon() {
      if (vv && !dialog && !queued) queued = requestAnimationFrame(view);
    }
    if (!dialog) {
      f.setAttribute("loading", "lazy");
      ["scroll", "resize"].forEach(function (type) {
        w.addEventListener(type, soon, { passive: true, capture: true });
        if (vv) vv.addEventListener(type, soon);
      });
    }
    // No answer from the form (its server refused to be framed here, or the page's CSP
    // blocked it): fall back to a plain link to the form.
    function fallback() {
      f.replaceWith(link(url, title));
      console.warn("iwf-widget: no answer; check IWF_WIDGET_ALLOWED_ORIGINS and frame-src");
    }
    f.addEventListener("load", function () {
      try { if (f.contentWindow.location.href === "about:blank") return; } catch (x) { /* the form */ }
      if (port) port.close();
      var channel = new MessageChannel();
      port = channel.port1;
      port.onmessage = function (ev) {
        var m = ev.data;
        if (!m || m.v !== 1) return;
        clearTimeout(timer);
        if (m.type === "iwf:height") {
          if (typeof m.height === "number" && m.height > 0 && m.height < 100000) {
            s.blockSize = Math.ceil(m.height) + "px";
          }
          soon();
        } else if (m.type === "iwf:page") {
          // The form's language, after a change inside the frame too: the frame's title follows.
          if (typeof m.lang === "string") {
            f.title = m.title;
            f.lang = m.lang;
          }
        } else if (m.type === "iwf:exit") {
          if (/^https?:/.test(m.url)) leave(m.url);
        } else if (dialog) {
          dialog(m); // iwf:escape, for embed-dialog.js
        }
      };
      clearTimeout(timer);
      timer = setTimeout(fallback, 3000);
      f.contentWindow.postMessage({ v: 1, type: "iwf:hello" }, ORIGIN, [channel.port2]);
    });
    f.src = url;
    return f;
  }

  function mount(e, options) {
    var o = options || {};
    if (e.hasAttribute("data-iwf-ready")) return e;
    var button = (o.mode || e.getAttribute("data-mode")) === "button";
    var lang = language(e, o);
    var count = 2, blocked; // button mode: the dialog's code and the labels
    e.setAttribute("data-iwf-ready", "");
    function ready(no) {
      blocked = blocked || no;
      if (!--count) build(e, o, button, lang, blocked);
    }
    var labels = "/embed-labels.js?lang=" + lang, f, first;
    if (button) {
      need("dialog", "/embed-dialog.js?v=" + encodeURIComponent(CONFIG.i), ready);
      need(lang, labels, ready);
      return e;
    }
    // Inline, the frame does not wait for its language's labels (a round trip on a slow
    // phone): it starts with the default's title, which the labels, or the form itself
    // (iwf:page), then replace. Only a page whose Trusted Types refuse the policy, which
    // need() says at once, gets the plain link instead.
    need(lang, labels, function (no) {
      if (!f) f = build(e, o, false, lang, no) || 1;
      else if (f.title === first && CONFIG.s[lang]) f.title = CONFIG.s[lang][0];
    });
    if (!f) f = build(e, o, false, lang, 0);
    first = f.title;
    return e;
  }

  function build(e, o, button, lang, blocked) {
    var text = CONFIG.s[lang] || CONFIG.s[CONFIG.d];
    var colour = accent(o.accent || e.getAttribute("data-accent"));
    // data-page="status": the page where a reporter looks up a reference, embedded like the form.
    var page = BASE + ((o.page || e.getAttribute("data-page")) === "status" ? "/status" : "/form") + "?lang=" +
      encodeURIComponent(language(e, o, 1));
    var url = page + (colour ? "&accent=" + colour : "");
    var dialog = CONFIG.s.dialog;
    if (blocked || button && !dialog) {
      // The page's policy kept out what the embed needs: the plain link to the form.
      if (e.tagName !== "A") e.appendChild(link(page, text[0]));
      return;
    }
    var box = e;
    if (e.tagName === "A") {
      // A plain link for pages without JavaScript: the embed takes its place.
      box = el("div", { id: e.id, className: e.className });
      e.replaceWith(box);
    }
    box.textContent = "";
    box.setAttribute("data-iwf-ready", "");
    if (button) dialog(box, url, text, lang, CONFIG.r.indexOf(lang) < 0 ? "ltr" : "rtl", colour, frame, el);
    else return box.appendChild(frame(url, text[0]));
  }

  function scan() {
    var found = D.querySelectorAll.call(d, "[data-iwf-report]:not([data-iwf-ready])");
    for (var i = 0; i < found.length; i++) mount(found[i]);
  }

  w.IWFReport = { mount: mount, scan: scan, l: got };
  scan();
  if (get("readyState") === "loading") EventTarget.prototype.addEventListener.call(d, "DOMContentLoaded", scan);
  w.addEventListener("pageshow", function () { get("documentElement").style.visibility = ""; });
})(window, document);
