/** The nearest of some known words to a word a user wrote: "did you mean …" everywhere. */

/** The candidate nearest to `word`, when near enough to be a typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const limit = typoLimit(word);
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/** Edit distance counting a swap of neighbours as one edit (optimal string alignment): typos are often swaps. */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [Array.from({ length: b.length + 1 }, (_, j) => j)];
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const at = (r: number, c: number): number => (r === i ? row[c] : rows[r]?.[c]) ?? Infinity;
      let d = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, at(i - 2, j - 2) + 1);
      row.push(d);
    }
    rows.push(row);
  }
  return rows[a.length]?.[b.length] ?? 0;
}

/** Up to `count` candidates near enough to `word` to be what was meant, nearest first. */
export function nearest(word: string, candidates: readonly string[], count: number): string[] {
  const limit = typoLimit(word);
  return candidates
    .filter((c) => c !== word)
    .map((c) => ({ c, d: editDistance(word, c) }))
    .filter(({ d }) => d <= limit)
    .sort((a, b) => a.d - b.d || (a.c < b.c ? -1 : 1))
    .slice(0, count)
    .map(({ c }) => c);
}

/** How many edits still look like a typo of `word`: 1 for short words, at most 3. */
function typoLimit(word: string): number {
  return Math.max(1, Math.min(3, Math.floor(word.length / 4)));
}
