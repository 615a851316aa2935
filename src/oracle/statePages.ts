// A batch's input states as the harness reads them, encoded on demand straight into the buffer
// the adapter hands the emulator (QEMU's RAM-file write run, Bochs's disk image) rather than as a
// 4 KiB page object per state. Measured on 50,000 VMCBs (2026-11-26): a page each cost 0.6–1.3 s
// to allocate, and the 200 MB they held kept V8's collector marking on the two cores the emulator
// instances needed (one QEMU instance took 1.5 s instead of 0.65 s); encoding into one reused run
// takes 85 ms.

export interface StatePages {
  readonly length: number;
  /** Writes state `i` at the start of `dst`, which the caller has zeroed. */
  writeInto(i: number, dst: Uint8Array): void;
}

/** `items` encoded by `encodeInto` when the adapter asks for them. */
export function encodedStates<C>(items: readonly C[], encodeInto: (dst: Uint8Array, c: C) => void): StatePages {
  return { length: items.length, writeInto: (i, dst) => encodeInto(dst, items[i]) };
}

/** Pages already encoded (tests, a handful of re-runs): each copied as far as `dst` reaches. */
export function pageList(pages: readonly Uint8Array[]): StatePages {
  return { length: pages.length, writeInto: (i, dst) => dst.set(pages[i].subarray(0, Math.min(pages[i].length, dst.length))) };
}

/** States `from` up to `to` (exclusive) of `p`, renumbered from 0. */
export function sliceStates(p: StatePages, from: number, to: number): StatePages {
  const end = Math.min(to, p.length);
  return { length: Math.max(0, end - from), writeInto: (i, dst) => p.writeInto(from + i, dst) };
}

/** The states of `p` at `indices`, in that order. */
export function pickStates(p: StatePages, indices: readonly number[]): StatePages {
  return { length: indices.length, writeInto: (i, dst) => p.writeInto(indices[i], dst) };
}
