// cv4pve's `--keep N`, with one correction: the newest N by snaptime, never by name (names
// sort wrongly in the repeated DST hour and when the timestamp format changes).
export interface CountItem {
  name: string;
  snaptime: number;
}
export interface CountVerdict {
  action: 'keep' | 'remove';
  reason: string;
}

/** `items` newest first. `keep 0` removes everything; callers ask for that explicitly. */
export function planCount<T extends CountItem>(items: T[], keep: number): Map<T, CountVerdict> {
  const out = new Map<T, CountVerdict>();
  items.forEach((it, i) => {
    out.set(it, i < keep ? { action: 'keep', reason: `count ${i + 1}/${keep}` } : { action: 'remove', reason: `beyond count ${keep}` });
  });
  return out;
}
