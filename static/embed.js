/* iwf-widget embed snippet. Turns each [data-iwf-report] element into the report form,
   inline or behind a button that opens it in a modal dialog; IWFReport.mount(el, options)
   does the same for elements added later. The server fills in CONFIG (the offered
   languages, their labels and the default one; see iwf_widget/embed.py).
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
  //  s: {lang: [button and frame title, close]} for the default; others load on demand}
  var CONFIG = /*@config*/{"d": "en", "o": ["en"], "r": [], "s": {"en": ["Report child sexual abuse images", "Close"]}}/*@*/;
  var SANDBOX = "allow-forms allow-scripts allow-same-origin allow-top-navigation-by-user-activation";
  var CSS = ":where(.iwf-report-button){font:inherit;font-weight:700;min-block-size:2.75rem;" +
    "padding:.5em 1.2em;border:2px solid transparent;border-radius:6px;background:var(--iwf-accent,#0b5cad);color:#fff;cursor:pointer}" +
    ".iwf-report-dialog{padding:0;border:0;inline-size:min(44rem,100% - 2rem);max-block-size:calc(100% - 2rem)}" +
    ".iwf-report-dialog[open]{display:flex;flex-direction:column}" +
    ".iwf-report-dialog::backdrop{background:#0009}" +
    ".iwf-report-dialog iframe{flex:auto;min-block-size:0}" +
    ".iwf-report-bar{display:flex;justify-content:flex-end;padding:.25rem}" +
    ".iwf-report-close{font:inherit;min-block-size:2.75rem;padding-inline:1rem;cursor:pointer}" +
    ".iwf-report-exit{position:fixed;inset-block-start:.5rem;inset-inline-end:.5rem;z-index:2147483647;" +
    "font:700 1rem/1.3 system-ui,sans-serif;padding:.6em 1em;border:2px solid #fff;border-radius:6px;" +
    "background:#b3261e;color:#fff;text-decoration:none;max-inline-size:calc(100% - 1rem);overflow-wrap:anywhere}" +
    ".iwf-report-exit:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}" +
    ".iwf-report-exit[hidden]{display:none}" +
    "@media (forced-colors:active){.iwf-report-exit{border-color:LinkText}}" +
    "@media (max-width:40rem),(max-height:30rem){.iwf-report-dialog{inline-size:100%;block-size:100%;" +
    "max-inline-size:none;max-block-size:none;margin:0}}";

  // The widget's origin and base path (".../report") come from this script's own address.
  var me = get("currentScript");
  if (!(me instanceof HTMLScriptElement)) return;
  var src = new URL(me.src, location.href);
  var ORIGIN = src.origin;
  var BASE = ORIGIN + src.pathname.replace(/\/embed\.js$/, "");
  var styled = false;
  var waiting = {};
  var policy;

  // Where the page requires Trusted Types, the labels' address goes through a policy named
  // "iwf-widget" that allows only that address; if the page does not allow it, null.
  function scriptURL(url) {
    var tt = w.trustedTypes;
    if (!tt || typeof tt.createPolicy !== "function") return url;
    try {
      policy = policy || tt.createPolicy("iwf-widget", {
        createScriptURL: function (u) { if (u === url) return u; throw new TypeError(u); }
      });
      return policy.createScriptURL(url);
    } catch (x) {
      return url;
    }
  }

  // Another language's labels, from the widget's own origin, then fn().
  function withLabels(lang, fn) {
    if (CONFIG.s[lang]) return fn();
    if (!waiting[lang]) {
      waiting[lang] = [];
      var s = el("script", { referrerPolicy: "no-referrer" });
      s.onerror = function () { labels(lang, CONFIG.s[CONFIG.d]); };
      try {
        s.src = scriptURL(BASE + "/embed-labels.js?lang=" + lang);
      } catch (x) {
        return fn(1); // Trusted Types required and our policy not allowed: the plain link
      }
      get("head").appendChild(s);
    }
    waiting[lang].push(fn);
  }

  function labels(lang, text) {
    if (!CONFIG.s[lang]) CONFIG.s[lang] = text;
    (waiting[lang] || []).forEach(function (fn) { fn(); });
    waiting[lang] = [];
  }

  function el(tag, props) {
    var e = D.createElement.call(d, tag);
    for (var k in props) e[k] = props[k];
    return e;
  }

  // data-lang, then the lang of a plain link's address, then the page's, then the browser's.
  function language(e, o) {
    var tags = [o.lang, e.getAttribute("data-lang")];
    try { tags.push(new URL(e.href).searchParams.get("lang")); } catch (x) { /* not a link */ }
    tags = tags.concat(get("documentElement").lang, navigator.languages || navigator.language);
    for (var i = 0; i < tags.length; i++) {
      var base = String(tags[i] || "").toLowerCase().split(/[-_]/)[0];
      if (CONFIG.o.indexOf(base) >= 0) return base;
    }
    return CONFIG.d;
  }

  // A colour as six hex digits, kept only if white text on it has 4.5:1 contrast (WCAG AA);
  // the server applies the same rule to the form.
  function accent(value) {
    var m = /^#?([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(String(value || "").trim());
    if (!m) return "";
    var hex = m[1].length === 3 ? m[1].replace(/./g, "$&$&") : m[1];
    var lum = [0.2126, 0.7152, 0.0722].reduce(function (sum, weight, i) {
      var c = parseInt(hex.substr(i * 2, 2), 16) / 255;
      return sum + weight * (c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4));
    }, 0);
    return 1.05 / (lum + 0.05) >= 4.5 ? hex.toLowerCase() : "";
  }

  // A constructed stylesheet: allowed by a host page's CSP without 'unsafe-inline'.
  function addStyles() {
    if (styled) return;
    styled = true;
    try {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      prop("adoptedStyleSheets").set.call(d, get("adoptedStyleSheets").concat(sheet));
    } catch (x) { /* older browsers: native button and dialog styles */ }
  }

  // Blank the page at once, then leave without adding a history entry.
  function leave(href) {
    get("documentElement").style.visibility = "hidden";
    location.replace(href);
  }

  // Inline, the form is often taller than the screen, so its own exit bar scrolls away: while
  // any of the frame is on screen but its bar is not, a copy of the exit link stays fixed at
  // the edge of the screen. The form sends the link's text and address once it has loaded.
  function exitLink(f) {
    var a = el("a", { className: "iwf-report-exit", rel: "noreferrer", referrerPolicy: "no-referrer", hidden: true });
    var on = false;
    a.iwfBar = 48;
    function place() {
      var r = f.getBoundingClientRect(), h = w.innerHeight;
      a.hidden = !(on && a.href && r.bottom > 0 && r.top < h && (r.top < 0 || r.top + a.iwfBar > h));
    }
    a.addEventListener("click", function (ev) {
      ev.preventDefault();
      leave(a.href);
    });
    if (w.IntersectionObserver) {
      new IntersectionObserver(function (seen) {
        on = seen[seen.length - 1].isIntersecting;
        place();
      }).observe(f);
      w.addEventListener("scroll", place, { passive: true });
      w.addEventListener("resize", place);
    }
    a.iwfPlace = place;
    return a;
  }

  function frame(url, title, dialog) {
    var f = el("iframe", { title: title, className: "iwf-report-frame" }), port, timer;
    f.setAttribute("sandbox", SANDBOX);
    f.setAttribute("referrerpolicy", "no-referrer");
    var exit;
    if (!dialog) {
      f.setAttribute("loading", "lazy");
      exit = exitLink(f);
      addStyles();
    }
    var s = f.style;
    s.display = "block";
    s.border = "0";
    s.inlineSize = "100%";
    s.blockSize = "32rem";
    // No answer from the form (its server refused to be framed here, or the page's CSP
    // blocked it): fall back to a plain link to the form.
    function fallback() {
      f.replaceWith(el("a", { href: url, rel: "noreferrer", referrerPolicy: "no-referrer", textContent: title }));
      if (exit) exit.remove();
      console.warn("iwf-widget: no answer from " + ORIGIN + "; check IWF_WIDGET_ALLOWED_ORIGINS and frame-src");
    }
    f.addEventListener("load", function () {
      try { if (f.contentWindow.location.href === "about:blank") return; } catch (x) { /* the form */ }
      if (port) port.close();
      var channel = new MessageChannel();
      port = channel.port1;
      port.onmessage = function (ev) {
        var m = ev.data;
        if (!m || m.v !== 1 || typeof m.type !== "string") return;
        clearTimeout(timer);
        if (m.type === "iwf:height") {
          if (typeof m.height === "number" && m.height > 0 && m.height < 100000) {
            s.blockSize = Math.ceil(m.height) + "px";
          }
          if (exit && typeof m.bar === "number") exit.iwfBar = m.bar;
          if (exit) exit.iwfPlace();
        } else if (m.type === "iwf:page") {
          // The form's language, after a change inside the frame too: the frame's title follows.
          if (typeof m.title === "string" && typeof m.lang === "string") {
            f.title = m.title;
            f.lang = m.lang;
            if (exit && typeof m.exit === "string" && /^https?:/.test(m.url)) {
              exit.textContent = m.exit;
              exit.lang = m.lang;
              exit.dir = m.dir === "rtl" ? "rtl" : "ltr";
              exit.href = m.url;
              exit.iwfPlace();
            }
          }
        } else if (m.type === "iwf:escape") {
          if (dialog && dialog.open) dialog.close();
        } else if (m.type === "iwf:exit") {
          var to;
          try { to = new URL(m.url); } catch (x) { return; }
          if (to.protocol !== "https:" && to.protocol !== "http:") return;
          leave(to.href);
        }
      };
      clearTimeout(timer);
      timer = setTimeout(fallback, 3000);
      f.contentWindow.postMessage({ v: 1, type: "iwf:hello" }, ORIGIN, [channel.port2]);
    });
    f.src = url;
    f.iwfExit = exit;
    return f;
  }

  function mount(e, options) {
    var o = options || {};
    if (e.hasAttribute("data-iwf-ready")) return e;
    var mode = o.mode || e.getAttribute("data-mode");
    var lang = language(e, o);
    e.setAttribute("data-iwf-ready", "");
    withLabels(lang, function (blocked) {
      if (blocked) {
        if (e.tagName !== "A") e.appendChild(el("a", {
          href: BASE + "/form?lang=" + lang, rel: "noreferrer", referrerPolicy: "no-referrer", textContent: CONFIG.s[CONFIG.d][0]
        }));
      } else {
        build(e, o, mode, lang);
      }
    });
    return e;
  }

  function build(e, o, mode, lang) {
    var text = CONFIG.s[lang];
    var dir = CONFIG.r.indexOf(lang) < 0 ? "ltr" : "rtl";
    var colour = accent(o.accent || e.getAttribute("data-accent"));
    var url = BASE + "/form?lang=" + lang + (colour ? "&accent=" + colour : "");
    var box = e;
    if (e.tagName === "A") {
      // A plain link for pages without JavaScript: the embed takes its place.
      box = el("div", { id: e.id, className: e.className });
      e.replaceWith(box);
    }
    box.textContent = "";
    box.setAttribute("data-iwf-ready", "");
    if (mode !== "button") {
      var f = frame(url, text[0]);
      box.appendChild(f.iwfExit);
      box.appendChild(f);
      return;
    }
    addStyles();
    var button = el("button", { type: "button", className: "iwf-report-button", textContent: text[0], lang: lang, dir: dir });
    button.setAttribute("aria-haspopup", "dialog");
    if (colour) button.style.setProperty("--iwf-accent", "#" + colour);
    var dialog = el("dialog", { className: "iwf-report-dialog", lang: lang, dir: dir });
    dialog.setAttribute("aria-label", text[0]);
    var bar = el("div", { className: "iwf-report-bar" });
    var close = el("button", { type: "button", className: "iwf-report-close", textContent: text[1] });
    var inner;
    bar.appendChild(close);
    dialog.appendChild(bar);
    button.addEventListener("click", function () {
      if (!inner) dialog.appendChild(inner = frame(url, text[0], dialog));
      dialog.showModal();
      close.focus();
    });
    close.addEventListener("click", function () { dialog.close(); });
    dialog.addEventListener("close", function () { button.focus(); });
    box.appendChild(button);
    box.appendChild(dialog);
  }

  function scan() {
    var found = D.querySelectorAll.call(d, "[data-iwf-report]:not([data-iwf-ready])");
    for (var i = 0; i < found.length; i++) mount(found[i]);
  }

  w.IWFReport = { mount: mount, scan: scan, l: labels };
  scan();
  if (get("readyState") === "loading") EventTarget.prototype.addEventListener.call(d, "DOMContentLoaded", scan);
  w.addEventListener("pageshow", function () { get("documentElement").style.visibility = ""; });
})(window, document);
