/* iwf-widget embed snippet, button mode: a button that opens the form in a modal dialog.
   embed.js loads this file only for a page with a data-mode="button" element (with its
   integrity hash, its own CSP nonce and its Trusted Types policy), and then hands it what
   it needs: the element, the form's address, the labels, the language and its direction,
   the validated accent colour, and its own frame() and el(). */
(function (d) {
  "use strict";
  var CSS = ":where(.iwf-report-button){font:inherit;font-weight:700;min-block-size:2.75rem;" +
    "padding:.5em 1.2em;border:2px solid transparent;border-radius:6px;background:var(--iwf-accent,#0b5cad);color:#fff;cursor:pointer}" +
    ".iwf-report-dialog{padding:0;border:0;inline-size:min(44rem,100% - 2rem);max-block-size:calc(100% - 2rem)}" +
    ".iwf-report-dialog[open]{display:flex;flex-direction:column}" +
    ".iwf-report-dialog::backdrop{background:#0009}" +
    ".iwf-report-dialog iframe{flex:auto;min-block-size:0}" +
    ".iwf-report-bar{display:flex;justify-content:flex-end;padding:.25rem}" +
    ".iwf-report-close{font:inherit;min-block-size:2.75rem;padding-inline:1rem;cursor:pointer}" +
    "@media (max-width:40rem),(max-height:30rem){.iwf-report-dialog{inline-size:100%;block-size:100%;" +
    "max-inline-size:none;max-block-size:none;margin:0}}";

  // A constructed stylesheet, added once (this file runs once): a host page's CSP allows it
  // without 'unsafe-inline'. Reached through the prototype, as embed.js reaches document's
  // properties, so injected markup cannot shadow it.
  var sheets = Object.getOwnPropertyDescriptor(Document.prototype, "adoptedStyleSheets");
  try {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    sheets.set.call(d, sheets.get.call(d).concat(sheet));
  } catch (x) { /* older browsers: native button and dialog styles */ }

  IWFReport.l("dialog", function (box, url, text, lang, dir, colour, frame, el) {
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
    // The form loads only when first asked for, and stays when the dialog closes.
    button.addEventListener("click", function () {
      if (!inner) {
        // Escape inside the form closes the dialog too.
        dialog.appendChild(inner = frame(url, text[0], function (m) {
          if (m.type === "iwf:escape" && dialog.open) dialog.close();
        }));
      }
      dialog.showModal();
      close.focus();
    });
    close.addEventListener("click", function () { dialog.close(); });
    dialog.addEventListener("close", function () { button.focus(); });
    box.appendChild(button);
    box.appendChild(dialog);
  });
})(document);
