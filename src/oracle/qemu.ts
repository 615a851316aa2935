// The qemu-svm adapter's process layer: a batch of VMCB pages runs in QEMU TCG
// (-cpu qemu64,+svm,+npt) under the harness, with input and output passed through a RAM file in
// /dev/shm that backs the guest's memory (oracle.md §3.1: ~16 µs per VMCB, against ~100 µs for
// a byte-per-write debug port). A state the emulator dies or hangs on is recorded as a crash for
// that state and the batch resumes at the next one; `jobs` instances run side by side.

import { spawn } from 'node:child_process';
import { closeSync, ftruncateSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { NestfuzzError } from '../campaign/errors.ts';
import { assembleHarness } from './assemble.ts';
import { inputHeader, staticImage, type Segment } from './image.ts';
import { CPUID_LEAVES, LAYOUT, RECORD_SIZE, statePage } from './layout.ts';
import type { BatchRun, RawOutcome, SvmExitFields } from './raw.ts';

const RAM_BYTES = LAYOUT.RAM_MB * 2 ** 20;

export const QEMU_BINARY = 'qemu-system-x86_64';
/** The CPU model the engine is compared with; its CPUID is read back from the harness. */
export const QEMU_CPU = 'qemu64,+svm,+npt';

function qemuArgs(ramPath: string, harness: string): string[] {
  return [
    '-accel', 'tcg', '-cpu', QEMU_CPU, '-m', `${LAYOUT.RAM_MB}`, '-nographic', '-no-reboot',
    '-display', 'none', '-monitor', 'none', '-serial', 'none', '-nodefaults',
    '-object', `memory-backend-file,id=ram0,size=${LAYOUT.RAM_MB}M,mem-path=${ramPath},share=on`,
    '-machine', 'memory-backend=ram0',
    // qboot instead of SeaBIOS: it loads the multiboot image too, and boots in ~60 ms less.
    '-bios', 'qboot.rom',
    '-kernel', harness,
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04',
  ];
}

function writeAt(fd: number, seg: Segment): void {
  writeSync(fd, seg.bytes, 0, seg.bytes.length, seg.gpa);
}

function readAt(fd: number, gpa: number, len: number): Uint8Array {
  const b = new Uint8Array(len);
  readSync(fd, b, 0, len, gpa);
  return b;
}

interface Boot {
  status: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stderr: string;
}

/**
 * No new record for this long means the emulator hung on the current state: a state takes ~25 µs
 * (measured: 25,000 states in 0.6 s). A false hang under load is a crash no listed divergence
 * explains (only an abort's "invalid tss type" is listed), so the driver re-runs it in a fresh
 * emulator before it counts.
 */
const STALL_MS = 200;
/** Before the first record: QEMU starts, qboot loads the harness, the harness sets up. */
const BOOT_STALL_MS = 3000;
const POLL_MS = 50;

/**
 * Boots QEMU on the prepared RAM file. The harness writes each record into shared memory as it
 * goes, so a watchdog reading the records can tell a hang (no progress for STALL_MS) from a long
 * batch, and kills only a stalled emulator.
 */
function boot(ramPath: string, harness: string, fd: number, start: number, n: number): Promise<Boot> {
  return new Promise((resolve, reject) => {
    const p = spawn(QEMU_BINARY, qemuArgs(ramPath, harness), { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let timedOut = false;
    p.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 16384) stderr += d.toString();
    });
    let next = start;
    let lastProgress = performance.now();
    // The harness dumps CPUID before its first VMRUN (runInstance zeroes the dump before each
    // boot): from then on a state that makes no progress is a hang after STALL_MS, even the first
    // one of the boot, which would otherwise wait out BOOT_STALL_MS.
    let started = false;
    const probe = new Uint8Array(4);
    const watchdog = setInterval(() => {
      if (!started) {
        readSync(fd, probe, 0, 4, LAYOUT.CPUID_DUMP);
        if (new DataView(probe.buffer).getUint32(0, true) !== 0) {
          started = true;
          lastProgress = performance.now();
        }
      }
      while (next <= n) {
        readSync(fd, probe, 0, 4, LAYOUT.RECORDS + next * RECORD_SIZE);
        if (new DataView(probe.buffer).getUint32(0, true) !== next) break;
        next++;
        lastProgress = performance.now();
      }
      if (performance.now() - lastProgress > (started || next > start ? STALL_MS : BOOT_STALL_MS)) {
        timedOut = true;
        p.kill('SIGKILL');
      }
    }, POLL_MS);
    p.on('error', (e: NodeJS.ErrnoException) => {
      clearInterval(watchdog);
      if (e.code === 'ENOENT') reject(new NestfuzzError('NESTFUZZ_ORACLE', `${QEMU_BINARY} is not installed`, 'apt-get install qemu-system-x86 (see .ci/run)'));
      else reject(e);
    });
    p.on('exit', (status, signal) => {
      clearInterval(watchdog);
      resolve({ status, signal, timedOut, stderr });
    });
  });
}

/** What QEMU said about its death: a "qemu: fatal:" line first, else the last lines. */
function deathNote(b: Boot): string {
  const lines = b.stderr.trim().split('\n').filter((l) => l.trim() !== '');
  const fatal = lines.find((l) => /fatal|abort|error/i.test(l));
  return fatal ?? lines.slice(-1).join('');
}

/** Control area (0x000–0x3ff) and save area (0x400–0x6ff). */
const VMCB_DEFINED_BYTES = 0x700;

function svmExitFields(dv: DataView, off: number): SvmExitFields {
  const q = (o: number): bigint => dv.getBigUint64(off + o, true);
  return {
    exit_code: q(8), exit_info_1: q(16), exit_info_2: q(24),
    exit_int_info: dv.getUint32(off + 32, true), exit_int_info_err: dv.getUint32(off + 36, true),
    rip: q(40), next_rip: q(48), event_inj: q(56),
  };
}

/** State pages per write: one syscall per 4 MiB of the RAM file instead of one per state. */
const PAGES_PER_WRITE = 1024;

/**
 * The state pages, in runs of PAGES_PER_WRITE consecutive pages per write. Only the architectural
 * part of each VMCB is copied (control + save area, APM appendix B): the rest of the page is
 * reserved and stays zero.
 */
function writeStatePages(fd: number, pages: Uint8Array[]): void {
  const run = new Uint8Array(PAGES_PER_WRITE * 4096);
  for (let first = 0; first < pages.length; first += PAGES_PER_WRITE) {
    const count = Math.min(PAGES_PER_WRITE, pages.length - first);
    run.fill(0, 0, count * 4096);
    for (let k = 0; k < count; k++) run.set(pages[first + k].subarray(0, VMCB_DEFINED_BYTES), k * 4096);
    writeSync(fd, run, 0, count * 4096, statePage(first));
  }
}

/** isa-debug-exit with value 0: QEMU's exit status is (0 << 1) | 1. */
const QEMU_CLEAN_EXIT = 1;

/** One QEMU instance running `pages` in as many boots as crashes require. */
async function runInstance(pages: Uint8Array[], tag: string): Promise<BatchRun> {
  const harness = assembleHarness('svm');
  const ramPath = `/dev/shm/nestfuzz-oracle-${process.pid}-${tag}.ram`;
  const fd = openSync(ramPath, 'w+');
  const n = pages.length;
  const outcomes: RawOutcome[] = new Array(n);
  let boots = 0;
  let cpuid: number[][] = [];
  const t0 = performance.now();
  let bootMs = 0;
  try {
    ftruncateSync(fd, RAM_BYTES);
    const image = staticImage();
    writeStatePages(fd, pages);
    let start = 0;
    while (start <= n) {
      // Every boot starts from the pristine image: a state that killed or hung the emulator may
      // have written L2's stack, IDT, GDT or TSS on its way (an INT3 loop does), and the RAM file
      // keeps what it wrote (measured: a busy-TSS abort turned into an exit after such a hang).
      for (const seg of image) writeAt(fd, seg);
      writeAt(fd, { gpa: LAYOUT.CPUID_DUMP, bytes: new Uint8Array(CPUID_LEAVES.length * 16) });
      writeAt(fd, inputHeader(n, start));
      // Unwritten records read as all-ones, so index 0 kind 0 cannot be mistaken for a result.
      writeAt(fd, { gpa: LAYOUT.RECORDS + start * RECORD_SIZE, bytes: new Uint8Array((n - start + 1) * RECORD_SIZE).fill(0xff) });
      boots++;
      const tb = performance.now();
      const b = await boot(ramPath, harness, fd, start, n);
      bootMs += performance.now() - tb;
      const rec = readAt(fd, LAYOUT.RECORDS + start * RECORD_SIZE, (n - start + 1) * RECORD_SIZE);
      const dv = new DataView(rec.buffer);
      if (cpuid.length === 0) {
        const d = new DataView(readAt(fd, LAYOUT.CPUID_DUMP, CPUID_LEAVES.length * 16).buffer);
        cpuid = CPUID_LEAVES.map((_, k) => [0, 4, 8, 12].map((o) => d.getUint32(k * 16 + o, true)));
      }
      let i = start;
      for (; i <= n; i++) {
        const off = (i - start) * RECORD_SIZE;
        if (dv.getUint32(off, true) !== i) break;
        const kind = dv.getUint32(off + 4, true);
        if (i === n) {
          if (kind === LAYOUT.REC_END) break;
          continue;
        }
        if (kind === LAYOUT.REC_EXIT) outcomes[i] = { kind: 'exit', exit: svmExitFields(dv, off) };
        else if (kind === LAYOUT.REC_HOST_EXC) outcomes[i] = { kind: 'host-exception', vector: Number(dv.getBigUint64(off + 8, true)), error_code: dv.getBigUint64(off + 16, true) };
        else break;
      }
      if (i === n && dv.getUint32((n - start) * RECORD_SIZE, true) === n) break;
      if (i >= n) {
        // Every state recorded but no end marker: the harness died after the last state.
        break;
      }
      const why = b.timedOut
        ? `hang (no progress for ${STALL_MS} ms)`
        : b.signal
          ? `qemu killed by ${b.signal}`
          : `qemu exited with status ${b.status}${b.status === QEMU_CLEAN_EXIT ? ' before recording' : b.status === 0 ? ' (shutdown: -no-reboot)' : ''}`;
      const note = deathNote(b);
      outcomes[i] = { kind: 'crash', detail: note ? `${why}: ${note}` : why };
      start = i + 1;
    }
  } finally {
    if (process.env.NESTFUZZ_ORACLE_DEBUG) console.error(`qemu instance ${tag}: ${n} states, ${boots} boots, ${bootMs.toFixed(0)} ms in QEMU of ${(performance.now() - t0).toFixed(0)} ms`);
    closeSync(fd);
    try {
      unlinkSync(ramPath);
    } catch {
      /* already gone */
    }
  }
  return { outcomes, boots, cpuid };
}

/** Instances started by this process: each gets its own RAM file. */
let instanceSerial = 0;

/** Runs every page on QEMU over `jobs` parallel instances (contiguous chunks, order kept). */
export async function runQemuSvm(pages: Uint8Array[], jobs = 1): Promise<BatchRun> {
  const per = Math.min(LAYOUT.MAX_STATES, Math.max(1, Math.ceil(pages.length / Math.max(1, jobs))));
  const chunks: Uint8Array[][] = [];
  for (let i = 0; i < pages.length; i += per) chunks.push(pages.slice(i, i + per));
  // An empty batch still boots once: it is how the adapter reads the CPU model's CPUID.
  if (chunks.length === 0) chunks.push([]);
  const results: BatchRun[] = [];
  // At most `jobs` instances at once; more chunks than jobs run in waves.
  for (let w = 0; w < chunks.length; w += Math.max(1, jobs)) {
    const wave = chunks.slice(w, w + Math.max(1, jobs));
    results.push(...(await Promise.all(wave.map((c) => runInstance(c, `${instanceSerial++}`)))));
  }
  return {
    outcomes: results.flatMap((r) => r.outcomes),
    boots: results.reduce((s, r) => s + r.boots, 0),
    cpuid: results[0]?.cpuid ?? [],
  };
}
