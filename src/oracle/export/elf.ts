// The flat multiboot image wrapped in a minimal ELF32 executable (one PT_LOAD at its load
// address), so repro.elf is what its name says: loaders that take ELF load the same bytes at the
// same place, and multiboot loaders still find the header (it must lie 32-bit aligned in the first
// 8 KiB of the file; with the a.out-kludge flag they load from its file offset, Multiboot 0.6.96 §3.1).

const EHDR_SIZE = 52;
const PHDR_SIZE = 32;
/** The flat image starts at this file offset. */
const IMAGE_OFFSET = 0x1000;
const MB_MAGIC = 0x1badb002;

/** Multiboot 0.6.96 §3.1: the header lies 32-bit aligned in the first 8 KiB (vmx.asm's follows its fixed host RIP). */
const MB_SEARCH = 8192;

/** Wraps `flat` (loaded at `loadAddr`, with a multiboot header) into an ELF32 file. */
export function wrapElf32(flat: Uint8Array, loadAddr: number): Uint8Array {
  const fv = new DataView(flat.buffer, flat.byteOffset, flat.byteLength);
  let at = 0;
  while (at + 32 <= Math.min(flat.length, MB_SEARCH) && fv.getUint32(at, true) !== MB_MAGIC) at += 4;
  if (at + 32 > Math.min(flat.length, MB_SEARCH)) throw new Error('wrapElf32: the image has no multiboot header in its first 8 KiB');
  const entry = fv.getUint32(at + 28, true); // multiboot header entry_addr
  const out = new Uint8Array(IMAGE_OFFSET + flat.length);
  const dv = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 1 /* ELFCLASS32 */, 1 /* little-endian */, 1 /* EV_CURRENT */], 0);
  dv.setUint16(16, 2, true); // ET_EXEC
  dv.setUint16(18, 3, true); // EM_386
  dv.setUint32(20, 1, true); // e_version
  dv.setUint32(24, entry, true);
  dv.setUint32(28, EHDR_SIZE, true); // e_phoff
  dv.setUint32(32, 0, true); // e_shoff: no sections
  dv.setUint16(40, EHDR_SIZE, true);
  dv.setUint16(42, PHDR_SIZE, true);
  dv.setUint16(44, 1, true); // e_phnum
  const p = EHDR_SIZE;
  dv.setUint32(p, 1, true); // PT_LOAD
  dv.setUint32(p + 4, IMAGE_OFFSET, true);
  dv.setUint32(p + 8, loadAddr, true); // p_vaddr
  dv.setUint32(p + 12, loadAddr, true); // p_paddr
  dv.setUint32(p + 16, flat.length, true); // p_filesz
  dv.setUint32(p + 20, flat.length, true); // p_memsz
  dv.setUint32(p + 24, 7, true); // PF_R | PF_W | PF_X
  dv.setUint32(p + 28, 0x1000, true); // p_align
  out.set(flat, IMAGE_OFFSET);
  return out;
}
