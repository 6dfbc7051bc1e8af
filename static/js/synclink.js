// /sync/link: draw the one-time code as a QR and count down to its expiry (no inline script: CSP).

import { drawQr } from "./nestbar.js";

const codeEl = document.getElementById("link-code");
const expiryEl = document.getElementById("link-expiry");
const code = codeEl?.dataset.code || "";
const deadline = Date.now() + Number(codeEl?.dataset.seconds || 300) * 1000;

if (code) drawQr(document.getElementById("link-qr"), code);

function tick() {
  const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
  if (left === 0) {
    expiryEl.textContent = "This code has expired. Get a new one.";
    codeEl.style.opacity = "0.4";
    return;
  }
  const mm = Math.floor(left / 60);
  const ss = String(left % 60).padStart(2, "0");
  expiryEl.textContent = `Valid for ${mm}:${ss}, once.`;
  setTimeout(tick, 1000);
}
if (expiryEl) tick();
