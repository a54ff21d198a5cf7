// Keyboard navigation on every page: j / ↓ and k / ↑ move the selection through the rows of the
// page's first table that have links, Enter opens the selected row's first link, / focuses the
// page's filter, ? shows (and Escape hides) the list of keys. Keys typed into a field are left
// alone (Escape leaves the field).
import { useEffect, useState } from "preact/hooks";

const KEYS = [
  ["j  or  ↓", "next row"],
  ["k  or  ↑", "previous row"],
  ["Enter", "open the selected row"],
  ["/", "focus the filter"],
  ["?", "show or hide this help"],
  ["Esc", "close this help, leave a field"],
];

function rows() {
  const table = document.querySelector("main table");
  if (!table) return [];
  return [...table.querySelectorAll("tbody tr")].filter((tr) => tr.querySelector("a[href]"));
}

function typing(el) {
  return el && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName));
}

export function KeyHelp() {
  const [open, setOpen] = useState(false);
  useEffect(() => {
    const onKey = (e) => {
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      if (typing(e.target)) {
        if (e.key === "Escape") e.target.blur();
        return;
      }
      if (e.key === "?") {
        setOpen((o) => !o);
        e.preventDefault();
        return;
      }
      if (e.key === "Escape") {
        setOpen(false);
        return;
      }
      if (e.key === "/") {
        const f = document.querySelector("main .filters input:not([type=checkbox]), main input[data-filter]");
        if (f) {
          f.focus();
          e.preventDefault();
        }
        return;
      }
      const down = e.key === "j" || e.key === "ArrowDown";
      const up = e.key === "k" || e.key === "ArrowUp";
      if (!down && !up && e.key !== "Enter") return;
      const list = rows();
      if (!list.length) return;
      const at = list.findIndex((tr) => tr.classList.contains("selected"));
      if (e.key === "Enter") {
        if (at < 0 || e.target.closest("a, button")) return;
        list[at].querySelector("a[href]").click();
        e.preventDefault();
        return;
      }
      const next = at < 0 ? (down ? 0 : list.length - 1) : Math.min(list.length - 1, Math.max(0, at + (down ? 1 : -1)));
      if (at >= 0) {
        list[at].classList.remove("selected");
        list[at].removeAttribute("aria-selected");
      }
      list[next].classList.add("selected");
      list[next].setAttribute("aria-selected", "true");
      list[next].scrollIntoView({ block: "nearest" });
      e.preventDefault();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);
  return (
    <>
      <button class="help-button secondary" aria-label="keyboard shortcuts" title="keyboard shortcuts (?)" onClick={() => setOpen((o) => !o)}>
        ?
      </button>
      {open && (
        <div class="overlay" onClick={() => setOpen(false)}>
          <div class="card keys" role="dialog" aria-label="keyboard shortcuts" onClick={(e) => e.stopPropagation()}>
            <h2>Keyboard</h2>
            <dl class="kv">
              {KEYS.map(([k, what]) => [
                <dt key={k + "k"}>
                  <kbd>{k}</kbd>
                </dt>,
                <dd key={k + "d"}>{what}</dd>,
              ])}
            </dl>
            <button class="secondary" onClick={() => setOpen(false)}>
              Close
            </button>
          </div>
        </div>
      )}
    </>
  );
}
