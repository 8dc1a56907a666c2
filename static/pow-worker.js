/* iwf-widget: finds n such that SHA-256(salt + n) is the challenge (ALTCHA v1). */
"use strict";
onmessage = async function (ev) {
  var c = ev.data, enc = new TextEncoder(), max = Math.min(c.maxNumber | 0, 10000000);
  for (var n = 0; n <= max; n++) {
    var digest = new Uint8Array(await crypto.subtle.digest("SHA-256", enc.encode(c.salt + n)));
    var hex = "";
    for (var i = 0; i < digest.length; i++) hex += (digest[i] < 16 ? "0" : "") + digest[i].toString(16);
    if (hex === c.challenge) { postMessage({ number: n }); return; }
  }
  postMessage({ number: -1 });
};
