/* iwf-widget: behaviour inside the form document. The page works without it. */
(function () {
  "use strict";
  var doc = document, root = doc.documentElement, body = doc.body;
  var exitUrl = body.getAttribute("data-iwf-exit-url");

  function leave(ev) {
    if (ev) ev.preventDefault();
    root.className += " iwf-leaving";
    doc.title = "";
    try { window.top.location.replace(exitUrl); } catch (e) { window.location.replace(exitUrl); }
  }

  function show(step) {
    var steps = doc.querySelectorAll("[data-iwf-step]");
    for (var i = 0; i < steps.length; i++) {
      steps[i].hidden = steps[i].getAttribute("data-iwf-step") !== step;
    }
    var heading = doc.querySelector('[data-iwf-step="' + step + '"] h1');
    if (heading) heading.focus();
  }

  doc.addEventListener("click", function (ev) {
    var el = ev.target.closest && ev.target.closest("[data-iwf-exit],[data-iwf-go]");
    if (!el) return;
    if (el.hasAttribute("data-iwf-exit")) return leave(ev);
    ev.preventDefault();
    show(el.getAttribute("data-iwf-go"));
  });

  var shifts = [];
  doc.addEventListener("keyup", function (ev) {
    if (ev.key !== "Shift") return;
    var now = Date.now();
    shifts = shifts.filter(function (t) { return now - t < 5000; });
    shifts.push(now);
    if (shifts.length >= 3) leave();
  });
  window.addEventListener("pageshow", function () {
    root.className = root.className.replace(/\s*iwf-leaving/g, "");
  });

  var focus = doc.querySelector("[data-iwf-focus]");
  if (focus) focus.focus();
})();
