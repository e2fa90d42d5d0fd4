// Progressive enhancement only: every page works without this file, and the
// server checks everything again.

// After a failed submit, move the focus to the error summary so keyboard
// and screen-reader users start from the problem.
const summary = document.querySelector("[data-error-summary]");
if (summary && !document.querySelector("[autofocus]")) summary.focus();

// Typed-name confirmations: say inline what is wrong while typing, and
// refuse to submit a mismatch (Enter included) with the same message.
// Names are compared exactly, as the server does: "twin " is not "twin".
document.querySelectorAll("form[data-confirm-name]").forEach((form) => {
  const input = form.querySelector("input[name=confirm]");
  const button = form.querySelector("button[type=submit]");
  const hint = form.querySelector("[data-confirm-hint]");
  if (!input || !button || !hint) return;
  const want = form.dataset.confirmName;
  const what = form.dataset.confirmWhat || "link name";
  const problem = () => {
    const got = input.value;
    if (got === want) return "";
    if (got === "") return `Type ${want} to confirm.`;
    if (got.trim() === want.trim()) return `Spaces count: type the ${what} exactly, “${want}”.`;
    if (got.toLowerCase() === want.toLowerCase()) return `Names are case-sensitive: type ${want} exactly.`;
    if (want.startsWith(got)) return `Keep typing: ${want}.`;
    return `“${got}” does not match the ${what} ${want}.`;
  };
  const sync = (loud) => {
    const p = problem();
    button.setAttribute("aria-disabled", p ? "true" : "false");
    hint.textContent = p;
    hint.classList.toggle("text-red-700", Boolean(p) && loud);
    if (p && loud) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  };
  input.addEventListener("input", () => sync(input.value !== "" && !want.startsWith(input.value)));
  form.addEventListener("submit", (ev) => {
    if (problem()) {
      ev.preventDefault();
      sync(true);
      input.focus();
    }
  });
  if (input.value !== "") sync(true);
  else button.setAttribute("aria-disabled", "true");
});

// "Try <name>" buttons fill a field with a suggested value.
document.querySelectorAll("button[data-fill]").forEach((b) => {
  b.addEventListener("click", () => {
    const input = document.getElementById(b.dataset.fill);
    if (!input) return;
    input.value = b.dataset.value;
    input.focus();
  });
});

// appendName adds a name to el that wraps only after "_", "." or "/", as
// views.Name renders names: never inside a word.
const appendName = (el, s) => {
  let start = 0;
  for (let i = 0; i < s.length - 1; i++) {
    if ("_./".includes(s[i])) {
      el.append(s.slice(start, i + 1), document.createElement("wbr"));
      start = i + 1;
    }
  }
  el.append(s.slice(start));
};

// Create form: the name placeholder follows the chosen remote, and picking a
// remote already linked into the chosen local warns at once.
const createForm = document.querySelector("form[data-existing]");
if (createForm) {
  const remote = createForm.querySelector("select[name=remote]");
  const local = createForm.querySelector("select[name=local]");
  const name = createForm.querySelector("input[name=name]");
  const hint = createForm.querySelector("[data-duplicate-hint]");
  let existing = {};
  try {
    existing = JSON.parse(createForm.dataset.existing || "{}");
  } catch (e) {
    existing = {};
  }
  const fallback = name ? name.placeholder : "";
  // The server already warns about the pair it was sent: no second warning
  // until the pair changes.
  const serverWarned = createForm.querySelector("[data-testid=duplicate-confirm]");
  const posted = remote && local ? remote.value + "\n" + local.value : "";
  const update = () => {
    const opt = remote && remote.selectedOptions[0];
    if (name) name.placeholder = (opt && opt.dataset.defaultName) || fallback;
    if (!hint || !remote || !local) return;
    const same = serverWarned && remote.value + "\n" + local.value === posted;
    const names = same ? [] : (existing[local.value] || {})[remote.value] || [];
    hint.textContent = "";
    if (names.length) {
      appendName(hint, local.value);
      hint.append(` already has ${names.length} ${names.length === 1 ? "link" : "links"} from `);
      appendName(hint, remote.value);
      hint.append(": ");
      names.forEach((n, i) => {
        if (i > 0) hint.append(", ");
        appendName(hint, n);
      });
      hint.append(".");
    }
    hint.classList.toggle("hidden", names.length === 0);
  };
  remote && remote.addEventListener("change", update);
  local && local.addEventListener("change", update);
  update();

  // Ticking a table chooses "Only the tables chosen below". Picking "All
  // tables" is then said in so many words (tables_mode=all), so ticks
  // left in place no longer count; without this script the server reads
  // ticked tables as "only these".
  const all = createForm.querySelector("input[data-tables-all]");
  const some = createForm.querySelector("input[data-tables-some]");
  createForm.querySelectorAll("input[type=checkbox][name=table]").forEach((box) => {
    box.addEventListener("change", () => {
      if (box.checked && some) some.checked = true;
    });
  });
  if (all) {
    all.addEventListener("change", () => {
      if (all.checked) all.value = "all";
    });
  }
}

// Copy buttons copy the text of the element they name.
document.querySelectorAll("button[data-copy]").forEach((b) => {
  b.addEventListener("click", async () => {
    const src = document.getElementById(b.dataset.copy);
    if (!src) return;
    try {
      await navigator.clipboard.writeText(src.textContent.trim());
      b.textContent = "Copied";
    } catch (e) {
      const range = document.createRange();
      range.selectNodeContents(src);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      b.textContent = "Selected: press Ctrl-C";
    }
  });
});

// A table that scrolls sideways inside its card must be reachable by
// keyboard: make its scroll box focusable (and named) while it overflows.
const wraps = document.querySelectorAll(".table-wrap");
const syncWraps = () => {
  wraps.forEach((w) => {
    const table = w.querySelector("table");
    if (w.scrollWidth > w.clientWidth + 1) {
      w.setAttribute("tabindex", "0");
      w.setAttribute("role", "region");
      const label = table && (table.getAttribute("aria-label") || (table.caption && table.caption.textContent));
      const heading = w.closest("section, .card")?.querySelector("h2, h1");
      w.setAttribute("aria-label", (label || (heading && heading.textContent.trim()) || "Table") + " (scrolls sideways)");
    } else if (w.getAttribute("role") === "region") {
      w.removeAttribute("tabindex");
      w.removeAttribute("role");
      w.removeAttribute("aria-label");
    }
  });
};
syncWraps();
window.addEventListener("resize", syncWraps);
