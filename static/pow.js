/* iwf-widget: solves the form's proof-of-work in a Web Worker while the person types.
   Without JavaScript the form still works; the server then counts each report more
   heavily against its rate limit. */
(function () {
  "use strict";
  if (!window.Worker || !window.crypto || !crypto.subtle || !window.TextEncoder) return;

  function start(form) {
    if (form.iwfWork) return;
    var challenge;
    try { challenge = JSON.parse(form.getAttribute("data-iwf-pow")); } catch (e) { return; }
    var state = form.iwfWork = { done: false, waiting: false };
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = "iwf_pow";
    form.appendChild(input);
    var worker = new Worker(form.getAttribute("data-iwf-pow-worker"));
    worker.onmessage = function (ev) {
      var n = ev.data && ev.data.number;
      if (typeof n === "number" && n >= 0) {
        input.value = btoa(JSON.stringify({
          algorithm: challenge.algorithm, challenge: challenge.challenge, number: n,
          salt: challenge.salt, signature: challenge.signature
        }));
      }
      state.done = true;
      worker.terminate();
      if (state.waiting) {
        state.waiting = false;
        if (form.requestSubmit) form.requestSubmit(); else form.submit();
      }
    };
    worker.onerror = function () { state.done = true; };
    worker.postMessage(challenge);
  }

  function scan() {
    var forms = document.querySelectorAll("form[data-iwf-pow]");
    for (var i = 0; i < forms.length; i++) start(forms[i]);
  }

  document.addEventListener("submit", function (ev) {
    var form = ev.target, state = form.iwfWork;
    if (state && !state.done) {
      ev.preventDefault();
      ev.stopImmediatePropagation();
      state.waiting = true;
    }
  }, true);
  new MutationObserver(scan).observe(document.documentElement, { childList: true, subtree: true });
  scan();
})();
