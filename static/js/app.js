// Progressive enhancement only: every page works without this file, and the
// server checks everything again.

// Typed-name confirmations: the submit button stays disabled until the
// typed value matches the name.
document.querySelectorAll("form[data-confirm-name]").forEach((form) => {
  const input = form.querySelector("input[name=confirm]");
  const button = form.querySelector("button[type=submit]");
  if (!input || !button) return;
  const want = form.dataset.confirmName;
  const sync = () => {
    button.disabled = input.value.trim() !== want;
  };
  input.addEventListener("input", sync);
  sync();
});
