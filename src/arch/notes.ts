// Shared by the SVM and VMX diff views: how a decoded field changed, as '+added -removed' between
// two space-separated decodings (set-bit names, intercept names, control names).

function tokens(s: string): string[] {
  return s === '' ? [] : s.split(' ');
}

/** '+added -removed' between two space-separated decodings; undefined when nothing changed. */
export function tokenNote(ref: string, value: string): string | undefined {
  const a = tokens(ref);
  const b = tokens(value);
  const added = b.filter((t) => !a.includes(t)).map((t) => `+${t}`);
  const removed = a.filter((t) => !b.includes(t)).map((t) => `-${t}`);
  const note = [...added, ...removed].join(' ');
  return note === '' ? undefined : note;
}
