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
