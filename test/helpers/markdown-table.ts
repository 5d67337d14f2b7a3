/** Markdown tables as prettier lays them out, for tests that hold a doc's table to the code. */

/** Header, dash line and rows, every column padded to its widest cell. */
export function markdownTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    `| ${widths.map((w, i) => (cells[i] ?? '').padEnd(w)).join(' | ')} |`;
  const dashes = `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`;
  return [line(header), dashes, ...rows.map(line)].join('\n');
}

/** The first table after the line `heading`, as written. */
export function tableAfter(doc: string, heading: string): string {
  const lines = doc.split('\n');
  const start = lines.indexOf(heading);
  if (start < 0) throw new Error(`no line ${heading}`);
  const first = lines.findIndex((l, i) => i > start && l.startsWith('|'));
  if (first < 0) throw new Error(`no table after ${heading}`);
  const end = lines.findIndex((l, i) => i > first && !l.startsWith('|'));
  return lines.slice(first, end < 0 ? undefined : end).join('\n');
}
