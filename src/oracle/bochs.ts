// The Bochs adapters' process layer: a batch of state pages runs in Bochs 2.7 under the harness
// (svm.asm or vmx.asm assembled with -DBOCHS), entered from an option ROM (optrom.asm) that our
// reset ROM (resetrom.asm, in place of the BIOS) jumps to, with the static image, the batch header
// and the pages on an ATA flat disk image the harness reads by PIO (oracle.md §4.2: optramimage is
// scrambled above 128 KiB). The harness prints one text line per state on port 0xE9 (Bochs's
// stdout) after the outcome, so lines survive a Bochs PANIC or reset; the first index without a
// line is a crash of that state, and the batch resumes at the next one with the start index patched
// in the disk image (oracle.md §4.3). `jobs` instances run side by side, each in its own directory
// with its own image copy (Bochs locks the image).

import { spawn } from 'node:child_process';
import { closeSync, existsSync, fstatSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NestfuzzError } from '../campaign/errors.ts';
import { assembleHarness } from './assemble.ts';
import { inputHeader, staticImage, vmxStaticImage, type Segment } from './image.ts';
import { CPUID_LEAVES, LAYOUT, statePage } from './layout.ts';
import type { BatchRun, RawOutcome, VmxBatchRun, VmxFailedInsn, VmxRawOutcome } from './raw.ts';
import { runLanes } from './lanes.ts';
import { StallWatch } from './stallWatch.ts';
import type { StatePages } from './statePages.ts';
import { VMCB_DEFINED_BYTES } from '../arch/svm/layout.ts';

export const BOCHS_BINARY = 'bochs';
/** AMD model with SVM and NPT (oracle.md §4.1). */
export const BOCHS_SVM_CPU = 'phenom_8650_toliman';
/** Intel model with VMX (oracle.md §6). */
export const BOCHS_VMX_CPU = 'corei7_sandy_bridge_2600k';

const SECTOR = 512;
/** Bochs wants a flat image of whole cylinders: 16 heads x 63 sectors (oracle.md §4.2). */
const CYLINDER = 16 * 63 * SECTOR;
/** The harness's ata_read takes 1..255 sectors per command. */
const MAX_CHUNK_SECTORS = 128;
/** Room in the directory sector: 8 header bytes, 20 bytes per extent. */
const MAX_EXTENTS = Math.floor((SECTOR - 8) / 20);

/**
 * No new line for this long means Bochs hung on the current state (boot gets BOOT_STALL_MS). A
 * state takes well under a millisecond (measured: 2,000 valid VMX states in ~0.7 s, SVM ~0.25 ms
 * each), and every hang the hold-back does not predict costs this long; a false hang under load
 * is an unexplained crash, which the drivers re-run alone.
 */
const STALL_MS = 300;
const BOOT_STALL_MS = 10_000;
const POLL_MS = 50;

/** One harness record as printed: u32 index, u32 kind, seven u64 fields. */
export interface BochsRecord {
  index: number;
  kind: number;
  f: bigint[];
}

export interface BochsHarness {
  /** harness/<name>.asm, assembled with -DBOCHS. */
  name: 'svm' | 'vmx';
  cpu: string;
  /** Bytes of each state page the harness needs (the rest of the page stays zero). */
  stateBytes: number;
  /** The fixed guest memory the harness expects (default: image.ts staticImage). */
  image?: () => Segment[];
}

export interface BochsBatch {
  /** Per state: its record, or why there is none. */
  records: (BochsRecord | { crash: string })[];
  boots: number;
  /** "@NF <tag>" lines other than records (C = CPUID, M = capability MSRs), first boot's. */
  extra: Map<string, bigint[]>;
}

const roundUp = (n: number, to: number): number => Math.ceil(n / to) * to;

interface Extent {
  gpa: number;
  lba: number;
  sectors: number;
  chunks: number;
  stride: number;
}

/**
 * The disk image: directory sector, then the static image and the batch header as runs of whole
 * 4 KiB pages (segments sharing or touching pages coalesce, so the directory stays one sector),
 * then the first `stateBytes` bytes of every state from `start` on, padded to whole sectors.
 */
function diskImage(pages: StatePages, stateBytes: number, start: number, fixed: Segment[]): Buffer {
  const PAGE = 0x1000;
  const memory = new Map<number, Uint8Array>();
  const header = inputHeader(pages.length, start);
  for (const seg of [...fixed, header]) {
    for (let off = 0; off < seg.bytes.length; ) {
      const gpa = seg.gpa + off;
      const pfn = Math.floor(gpa / PAGE);
      let page = memory.get(pfn);
      if (!page) memory.set(pfn, (page = new Uint8Array(PAGE)));
      const n = Math.min(seg.bytes.length - off, PAGE - (gpa % PAGE));
      page.set(seg.bytes.subarray(off, off + n), gpa % PAGE);
      off += n;
    }
  }
  const pfns = [...memory.keys()].sort((a, b) => a - b);
  const extents: Extent[] = [];
  const blobs: { lba: number; bytes: Uint8Array }[] = [];
  let lba = 1;
  const sectorsPerPage = PAGE / SECTOR;
  for (let k = 0; k < pfns.length; ) {
    let run = 1;
    while (k + run < pfns.length && pfns[k + run] === pfns[k] + run) run++;
    const sectors = run * sectorsPerPage;
    for (let s = 0; s < sectors; s += MAX_CHUNK_SECTORS) {
      const n = Math.min(MAX_CHUNK_SECTORS, sectors - s);
      extents.push({ gpa: pfns[k] * PAGE + s * SECTOR, lba: lba + s, sectors: n, chunks: 1, stride: 0 });
    }
    for (let r = 0; r < run; r++) blobs.push({ lba: lba + r * sectorsPerPage, bytes: memory.get(pfns[k] + r)! });
    lba += sectors;
    k += run;
  }
  // A resumed boot loads only the states from `start` on: the harness never reads the others.
  const perState = Math.ceil(stateBytes / SECTOR);
  const todo = pages.length - start;
  const statesLba = lba;
  if (todo > 0) {
    extents.push({ gpa: statePage(start), lba, sectors: perState, chunks: todo, stride: PAGE });
    lba += perState * todo;
  }
  if (extents.length > MAX_EXTENTS) throw new Error(`bochs: ${extents.length} disk extents, the directory holds ${MAX_EXTENTS}`);
  const image = Buffer.alloc(roundUp(lba * SECTOR, CYLINDER));
  image.writeUInt32LE(LAYOUT.DISK_MAGIC, 0);
  image.writeUInt32LE(extents.length, 4);
  extents.forEach((e, k) => [e.gpa, e.lba, e.sectors, e.chunks, e.stride].forEach((v, j) => image.writeUInt32LE(v, 8 + k * 20 + j * 4)));
  for (const b of blobs) image.set(b.bytes, b.lba * SECTOR);
  for (let i = start; i < pages.length; i++) {
    const off = (statesLba + (i - start) * perState) * SECTOR;
    pages.writeInto(i, image.subarray(off, off + stateBytes));
  }
  return image;
}

/** The option ROM with its checksum byte fixed (all bytes sum to 0 mod 256). */
function optionRom(): Buffer {
  const rom = Buffer.from(readFileSync(assembleHarness('optrom')));
  let sum = 0;
  for (let k = 0; k < rom.length - 1; k++) sum = (sum + rom[k]) & 0xff;
  rom[rom.length - 1] = (256 - sum) & 0xff;
  return rom;
}

/** The instance config; without `disk`, the harness image carries its own memory (a REPRO image). */
function config(h: Pick<BochsHarness, 'cpu'>, harnessBin: string, disk = true): string {
  return [
    `megs: ${LAYOUT.RAM_MB}`,
    // Our reset ROM instead of BIOS-bochs-latest: no POST (harness/resetrom.asm).
    `romimage: file=${assembleHarness('resetrom')}, address=0xffff0000`,
    'vgaromimage: file=/usr/share/vgabios/vgabios.bin',
    'optromimage1: file=optrom.rom, address=0xd0000',
    `optramimage1: file=${harnessBin}, address=0x${LAYOUT.HARNESS_BASE.toString(16)}`,
    ...(disk ? ['ata0: enabled=1, ioaddr1=0x1f0, ioaddr2=0x3f0, irq=14', 'ata0-master: type=disk, path=disk.img, mode=flat'] : []),
    `cpu: model=${h.cpu}, count=1, ips=100000000`,
    // Plain VGA: the VBE extension's 16 MiB framebuffer took ~45 ms of every start to allocate and clear.
    'vga: extension=none',
    // nogui is not built into Debian's bochs; rfb with timeout=0 starts without a client and each
    // instance takes the next free port (oracle.md §4.1).
    'display_library: rfb, options="timeout=0"',
    'log: bochs.log',
    'panic: action=fatal',
    'error: action=report',
    'info: action=report',
    'debug: action=ignore',
    'magic_break: enabled=1',
    'port_e9_hack: enabled=1',
    'speaker: enabled=0',
    'sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy',
    '',
  ].join('\n');
}

interface Boot {
  status: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  lines: string[];
}

const LINE = /@NF ([A-Z])((?: [0-9a-f]+)*)$/;
/** A line the batch harness wrote to Bochs's "BIOS info" port, as the instance log has it. */
const BIOS_INFO = /^\d+i\[BIOS\s*\] (.*)$/;
/** harness/bochs.inc rec_putc: a line carried on from the one before. */
const CARRIED = '@NF +';

/**
 * The batch harness's lines, read from the instance log as Bochs appends them (each is flushed as
 * it is logged, harness/bochs.inc): "@NF +" lines are joined to the line before, and the last line
 * counts once the next one starts or Bochs has exited.
 */
class HarnessLog {
  private offset = 0;
  private partial = '';
  private pending: string | null = null;
  readonly lines: string[] = [];

  constructor(private readonly path: string) {}

  /** Reads what was appended since the last call; true when a line came in. */
  poll(): boolean {
    let text: string;
    let fd: number | null = null;
    try {
      fd = openSync(this.path, 'r');
      const size = fstatSync(fd).size;
      if (size === this.offset) return false;
      if (size < this.offset) {
        // A new log in place of the one read so far (runInstance removes it before each boot).
        this.offset = 0;
        this.partial = '';
      }
      const buf = Buffer.alloc(size - this.offset);
      readSync(fd, buf, 0, buf.length, this.offset);
      this.offset = size;
      text = buf.toString('latin1');
    } catch {
      return false; // not created yet
    } finally {
      if (fd !== null) closeSync(fd);
    }
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop() ?? '';
    const before = this.lines.length;
    for (const l of parts) {
      const m = BIOS_INFO.exec(l);
      if (!m) continue;
      if (m[1].startsWith(CARRIED)) this.pending = (this.pending ?? '') + m[1].slice(CARRIED.length);
      else {
        this.settle();
        this.pending = m[1];
      }
    }
    return this.lines.length > before || this.pending !== null;
  }

  /** Bochs has exited: the line in hand is whole. */
  close(): void {
    this.poll();
    this.settle();
  }

  private settle(): void {
    if (this.pending === null) return;
    const m = LINE.exec(this.pending);
    if (m) this.lines.push(`${m[1]}${m[2]}`);
    this.pending = null;
  }
}

/**
 * Boots Bochs in `dir` and collects the harness's "@NF" lines from the instance log (every stdout
 * line with `allLines`, for a REPRO image, which prints on port 0xE9). The debugger script
 * continues to the harness's final magic breakpoint (or a reset) and quits; a PANIC ends the
 * process by itself. A watchdog kills a Bochs that writes no line for STALL_MS (BOOT_STALL_MS
 * before the first).
 */
function boot(dir: string, allLines = false): Promise<Boot> {
  return new Promise((resolve, reject) => {
    const p = spawn(BOCHS_BINARY, ['-q', '-f', 'cfg.bxrc', '-rc', 'dump.rc'], { cwd: dir, stdio: ['ignore', allLines ? 'pipe' : 'ignore', 'ignore'] });
    const stdoutLines: string[] = [];
    const log = allLines ? null : new HarnessLog(join(dir, 'bochs.log'));
    const lines = log?.lines ?? stdoutLines;
    let partial = '';
    let timedOut = false;
    const stall = new StallWatch(POLL_MS);
    p.stdout?.on('data', (d: Buffer) => {
      const parts = (partial + d.toString('latin1')).split('\n');
      partial = parts.pop() ?? '';
      for (const l of parts) {
        stdoutLines.push(l.replace(/\r$/, ''));
        stall.progress();
      }
    });
    const watchdog = setInterval(() => {
      if (log?.poll()) stall.progress();
      if (stall.stalledFor() > (lines.length === 0 ? BOOT_STALL_MS : STALL_MS)) {
        timedOut = true;
        p.kill('SIGKILL');
      }
    }, POLL_MS);
    p.on('error', (e: NodeJS.ErrnoException) => {
      clearInterval(watchdog);
      if (e.code === 'ENOENT') reject(new NestfuzzError('NESTFUZZ_ORACLE', `${BOCHS_BINARY} is not installed`, 'apt-get install bochs bochsbios bochs-x vgabios (see .ci/run)'));
      else reject(e);
    });
    p.on('close', (status, signal) => {
      clearInterval(watchdog);
      log?.close();
      resolve({ status, signal, timedOut, lines });
    });
  });
}

/**
 * What the instance log says about the death: its PANIC or reset lines. Nothing else: the log's
 * last error line belongs to an earlier state (info/error lines are logged and the run goes on).
 */
function deathNote(dir: string): string {
  let log = '';
  try {
    log = readFileSync(join(dir, 'bochs.log'), 'latin1');
  } catch {
    return '';
  }
  const strip = (l: string): string => l.replace(/^\d+([ipedx])\[[^\]]*\]\s*/, '$1 ').trim();
  return log.split('\n').filter((l) => /PANIC|resetting|3rd \(/.test(l)).slice(0, 2).map(strip).join('; ');
}

function parseRecord(rest: bigint[]): BochsRecord {
  return { index: Number(rest[0]), kind: Number(rest[1]), f: rest.slice(2, 9) };
}

let instanceSerial = 0;

function scratchRoot(): string {
  return existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
}

/** One Bochs instance running `pages` in as many boots as crashes require. */
async function runInstance(h: BochsHarness, pages: StatePages, memory: readonly Segment[]): Promise<BochsBatch> {
  const harnessBin = assembleHarness(h.name, ['BOCHS']);
  const dir = mkdtempSync(join(scratchRoot(), `nestfuzz-bochs-${process.pid}-${instanceSerial++}-`));
  const n = pages.length;
  const records: (BochsRecord | { crash: string })[] = new Array(n);
  const extra = new Map<string, bigint[]>();
  let boots = 0;
  const t0 = performance.now();
  try {
    writeFileSync(join(dir, 'optrom.rom'), optionRom());
    writeFileSync(join(dir, 'cfg.bxrc'), config(h, harnessBin));
    writeFileSync(join(dir, 'dump.rc'), 'c\nquit\n');
    let start = 0;
    // An empty batch still boots once (it is how the adapter reads CPUID); a resume past the last
    // state has nothing left to run.
    while (start < n || boots === 0) {
      writeFileSync(join(dir, 'disk.img'), diskImage(pages, h.stateBytes, start, [...(h.image ?? staticImage)(), ...memory]));
      // A Bochs that died (SIGSEGV, watchdog) leaves its image lock behind; the next boot would
      // PANIC on it ("could not open hard drive image file").
      rmSync(join(dir, 'disk.img.lock'), { force: true });
      // The harness's lines come from this boot's log alone (HarnessLog).
      rmSync(join(dir, 'bochs.log'), { force: true });
      boots++;
      const b = await boot(dir);
      let ended = false;
      for (const l of b.lines) {
        const tag = l[0];
        const vals = l.slice(1).trim().split(' ').filter((x) => x !== '').map((x) => BigInt(`0x${x}`));
        if (tag === 'R') {
          const r = parseRecord(vals);
          if (r.index === n && r.kind === LAYOUT.REC_END) ended = true;
          else if (r.index >= start && r.index < n && vals.length === 9) records[r.index] = r;
        } else if (!extra.has(tag)) extra.set(tag, vals);
      }
      if (ended) break;
      let i = start;
      while (i < n && records[i] !== undefined) i++;
      if (i >= n) break; // every state recorded, the end line lost: nothing left to resume
      const why = b.timedOut ? `hang (no line for ${STALL_MS} ms)` : b.signal ? `bochs killed by ${b.signal}` : `bochs exited with status ${b.status}`;
      const note = deathNote(dir);
      records[i] = { crash: note ? `${why}: ${note}` : why };
      if (process.env.NESTFUZZ_ORACLE_DEBUG) console.error(`bochs: state ${i} of ${n}: ${records[i] && 'crash' in records[i] ? (records[i] as { crash: string }).crash : ''}`);
      start = i + 1;
    }
  } finally {
    if (process.env.NESTFUZZ_ORACLE_DEBUG) console.error(`bochs instance ${dir}: ${n} states, ${boots} boots, ${(performance.now() - t0).toFixed(0)} ms`);
    if (!process.env.NESTFUZZ_ORACLE_KEEP) rmSync(dir, { recursive: true, force: true });
  }
  return { records, boots, extra };
}

/**
 * Runs every lane on Bochs, each on an instance of its own (lanes.ts), at most `jobs` at once;
 * `memory` is what the batch's states read beyond the harness's image (loaded after it).
 */
export async function runBochs(h: BochsHarness, lanes: readonly StatePages[], jobs = 1, memory: readonly Segment[] = []): Promise<BochsBatch> {
  const results = await runLanes(lanes, jobs, LAYOUT.MAX_STATES - 1, (p) => runInstance(h, p, memory));
  return { records: results.flatMap((r) => r.records), boots: results.reduce((s, r) => s + r.boots, 0), extra: results[0]?.extra ?? new Map() };
}

const SVM_HARNESS: BochsHarness = { name: 'svm', cpu: BOCHS_SVM_CPU, stateBytes: VMCB_DEFINED_BYTES };

/** The "@NF C" line: CPUID_LEAVES x [eax, ebx, ecx, edx]. */
export function cpuidFromLine(vals: bigint[] | undefined): number[][] {
  if (!vals) return [];
  return CPUID_LEAVES.map((_, k) => [0, 1, 2, 3].map((r) => Number(vals[k * 4 + r] ?? 0n)));
}

/** The outcomes both harnesses record alike: no record (the batch ended early), a crash, a host exception. */
function sharedOutcome(r: BochsRecord | { crash: string } | undefined): { kind: 'crash'; detail: string } | { kind: 'host-exception'; vector: number; error_code: bigint } {
  if (r === undefined) return { kind: 'crash', detail: 'no record' };
  if ('crash' in r) return { kind: 'crash', detail: r.crash };
  return { kind: 'host-exception', vector: Number(r.f[0]), error_code: r.f[1] };
}

/** The bochs-svm adapter's runner: the same BatchRun shape as qemu.ts. */
export async function runBochsSvm(lanes: readonly StatePages[], jobs = 1): Promise<BatchRun> {
  const b = await runBochs(SVM_HARNESS, lanes, jobs);
  const outcomes: RawOutcome[] = Array.from(b.records, (r): RawOutcome => {
    if (r === undefined || 'crash' in r || r.kind === LAYOUT.REC_HOST_EXC) return sharedOutcome(r);
    const [a, b1, c, d, e, f, g] = r.f;
    return {
      kind: 'exit',
      exit: { exit_code: a, exit_info_1: b1, exit_info_2: c, exit_int_info: Number(d & 0xffffffffn), exit_int_info_err: Number(d >> 32n), rip: e, next_rip: f, event_inj: g },
    };
  });
  return { outcomes, boots: b.boots, cpuid: cpuidFromLine(b.extra.get('C')) };
}

/**
 * A VMX state page holds the (u32 encoding, u32 pad, u64 value) list and its end marker; 2 KiB
 * holds 127 fields, more than the vmcs12 has non-zero ones (vmx/fields.ts checks the fit).
 */
export const VMX_STATE_BYTES = 0x800;
const VMX_HARNESS: BochsHarness = { name: 'vmx', cpu: BOCHS_VMX_CPU, stateBytes: VMX_STATE_BYTES, image: vmxStaticImage };

function failedInsn(b: bigint): VmxFailedInsn {
  const v = BigInt.asIntN(64, b);
  if (v === -1n) return { insn: 'vmlaunch' };
  if (v === -2n) return { insn: 'vmclear' };
  if (v === -3n) return { insn: 'vmptrld' };
  return { insn: 'vmwrite', encoding: Number(b & 0xffffffffn) };
}

/** The bochs-vmx adapter's runner (harness/vmx.asm on corei7_sandy_bridge_2600k). */
export async function runBochsVmx(lanes: readonly StatePages[], jobs = 1, memory: readonly Segment[] = []): Promise<VmxBatchRun> {
  const b = await runBochs(VMX_HARNESS, lanes, jobs, memory);
  const outcomes: VmxRawOutcome[] = Array.from(b.records, (r): VmxRawOutcome => {
    if (r === undefined || 'crash' in r || r.kind === LAYOUT.REC_HOST_EXC) return sharedOutcome(r);
    const [a, b1, c, d, e, f, g] = r.f;
    if (r.kind === LAYOUT.REC_VMFAIL_INVALID) return { kind: 'vmfail-invalid', failed: failedInsn(b1) };
    if (r.kind === LAYOUT.REC_VMFAIL_VALID) return { kind: 'vmfail-valid', error: Number(a & 0xffffffffn), failed: failedInsn(b1) };
    return {
      kind: 'exit',
      exit: {
        exit_reason: Number(a & 0xffffffffn), exit_qualification: b1, guest_physical_address: c, exit_intr_info: Number(d & 0xffffffffn),
        guest_rip: e, instruction_len: Number(f & 0xffffffffn), idt_vectoring_info: Number(g & 0xffffffffn),
      },
    };
  });
  return { outcomes, boots: b.boots, cpuid: cpuidFromLine(b.extra.get('C')), vmxCaps: b.extra.get('M') ?? [] };
}

/**
 * Boots a flat image that carries its own memory (a REPRO harness with its data block, at most the
 * 128 KiB optramimage loads intact, oracle.md §4.2) through the option ROM, without a disk, and
 * returns what it printed on port 0xE9 (Bochs's stdout), line by line.
 */
export async function bootBochsImage(flat: Uint8Array, cpu: string): Promise<{ lines: string[]; timedOut: boolean; status: number | null }> {
  if (flat.length > 128 * 1024) throw new NestfuzzError('NESTFUZZ_ORACLE', `bochs: a ${flat.length}-byte image does not load intact as option RAM (128 KiB at most)`, 'shrink the image (oracle.md §4.2)');
  const dir = mkdtempSync(join(scratchRoot(), `nestfuzz-bochs-${process.pid}-${instanceSerial++}-`));
  try {
    writeFileSync(join(dir, 'optrom.rom'), optionRom());
    writeFileSync(join(dir, 'image.bin'), flat);
    writeFileSync(join(dir, 'cfg.bxrc'), config({ cpu }, 'image.bin', false));
    writeFileSync(join(dir, 'dump.rc'), 'c\nquit\n');
    const b = await boot(dir, true);
    return { lines: b.lines, timedOut: b.timedOut, status: b.status };
  } finally {
    if (!process.env.NESTFUZZ_ORACLE_KEEP) rmSync(dir, { recursive: true, force: true });
  }
}
