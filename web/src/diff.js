// A small line diff (longest common subsequence), enough for rendered workflow YAML: returns
// [{op: " " | "-" | "+", text, a, b}] where a/b are 1-based line numbers in the old/new text
// (null on the other side). Texts over `maxLines` lines are compared by prefix/suffix only, so a
// huge file cannot freeze the page.
export function lineDiff(oldText, newText, maxLines = 4000) {
  const a = splitLines(oldText);
  const b = splitLines(newText);
  // Common head and tail are kept as they are; only the middle is compared.
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const am = a.slice(head, a.length - tail);
  const bm = b.slice(head, b.length - tail);
  const out = [];
  for (let i = 0; i < head; i++) out.push({ op: " ", text: a[i], a: i + 1, b: i + 1 });
  if (am.length * bm.length > maxLines * maxLines || am.length > maxLines || bm.length > maxLines) {
    am.forEach((t, i) => out.push({ op: "-", text: t, a: head + i + 1, b: null }));
    bm.forEach((t, j) => out.push({ op: "+", text: t, a: null, b: head + j + 1 }));
  } else {
    // lcs[i][j]: length of the LCS of am[i:] and bm[j:], in one flat array.
    const n = am.length;
    const m = bm.length;
    const w = m + 1;
    const lcs = new Uint32Array((n + 1) * w);
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i * w + j] = am[i] === bm[j] ? lcs[(i + 1) * w + j + 1] + 1 : Math.max(lcs[(i + 1) * w + j], lcs[i * w + j + 1]);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && am[i] === bm[j]) {
        out.push({ op: " ", text: am[i], a: head + i + 1, b: head + j + 1 });
        i++;
        j++;
      } else if (i < n && (j === m || lcs[(i + 1) * w + j] >= lcs[i * w + j + 1])) {
        out.push({ op: "-", text: am[i], a: head + i + 1, b: null });
        i++;
      } else {
        out.push({ op: "+", text: bm[j], a: null, b: head + j + 1 });
        j++;
      }
    }
  }
  const ta = a.length - tail;
  const tb = b.length - tail;
  for (let k = 0; k < tail; k++) out.push({ op: " ", text: a[ta + k], a: ta + k + 1, b: tb + k + 1 });
  return out;
}

function splitLines(text) {
  if (!text) return [];
  const lines = String(text).split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}
