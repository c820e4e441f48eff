// CareOps pages: small behaviours that need no framework, kept out of the HTML (no inline
// script, so a Content-Security-Policy can forbid it).

// A "Copy" button names the field it copies in data-copy.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const field = document.getElementById(button.dataset.copy);
  if (!field) return;
  field.select();
  const copied = () => { button.textContent = "Copied"; };
  const write = navigator.clipboard ? navigator.clipboard.writeText(field.value) : Promise.reject();
  write.then(copied, () => { document.execCommand("copy"); copied(); });
});

// A read-only field to copy by hand (a link, a feed address) selects itself when focused.
document.addEventListener("focusin", (event) => {
  if (event.target.matches("input[data-select-all], textarea[data-select-all]")) {
    event.target.select();
  }
});

// A select marked data-autosubmit submits its form when it changes (the button beside it stays
// for browsers without JavaScript).
document.addEventListener("change", (event) => {
  if (event.target.matches("select[data-autosubmit]") && event.target.form) {
    event.target.form.submit();
  }
});

// htmx leaves 4xx answers unswapped; a container names in data-swap-statuses the statuses whose
// answers carry a form with its errors, to be swapped in like a success. (In place of hx-on,
// which htmx runs through eval, and the Content-Security-Policy forbids eval.)
document.addEventListener("htmx:beforeSwap", (event) => {
  const holder = event.target.closest("[data-swap-statuses]");
  if (!holder) return;
  const statuses = holder.dataset.swapStatuses.split(/\s+/).map(Number);
  if (statuses.includes(event.detail.xhr.status)) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});

// The public booking pages ask the browser for its time zone: a page marked data-detect-tz
// (showing times in data-tz) reloads itself in the visitor's zone when that differs.
function detectTimeZone() {
  const form = document.querySelector("[data-detect-tz]");
  if (!form) return;
  let zone;
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  if (zone && zone !== form.dataset.tz) {
    const url = new URL(window.location.href);
    url.searchParams.set("tz", zone);
    window.location.replace(url);
  }
}
if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", detectTimeZone);
} else {
  detectTimeZone();
}
