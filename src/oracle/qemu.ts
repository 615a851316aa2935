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
import { runLanes } from './lanes.ts';
import { StallWatch } from './stallWatch.ts';
import type { StatePages } from './statePages.ts';
import { VMCB_DEFINED_BYTES } from '../arch/svm/layout.ts';

const RAM_BYTES = LAYOUT.RAM_MB * 2 ** 20;

export const QEMU_BINARY = 'qemu-system-x86_64';
/** The CPU model the engine is compared with; its CPUID is read back from the harness. */
export const QEMU_CPU = 'qemu64,+svm,+npt';

/** QEMU's descriptor of the RAM file (spawn's stdio[3]): the file itself is unlinked as soon as it is open. */
const RAM_FD = 3;

function qemuArgs(harness: string): string[] {
  return [
    '-accel', 'tcg', '-cpu', QEMU_CPU, '-m', `${LAYOUT.RAM_MB}`, '-nographic', '-no-reboot',
    '-display', 'none', '-monitor', 'none', '-serial', 'none', '-nodefaults',
    '-object', `memory-backend-file,id=ram0,size=${LAYOUT.RAM_MB}M,mem-path=/proc/self/fd/${RAM_FD},share=on`,
    // microvm with qboot as its firmware (which loads the multiboot image too) and none of the
    // devices the harness never touches (no PIC/PIT/RTC/serial, ACPI, PCIe, option ROMs): 85 ms
    // from exec to an empty batch's exit, against 100 ms for plain microvm and 113 ms for pc with
    // qboot (SeaBIOS: ~60 ms more).
    '-machine', 'microvm,memory-backend=ram0,x-option-roms=off,rtc=off,pit=off,pic=off,isa-serial=off,acpi=off,pcie=off',
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
 * (measured: 25,000 states in 0.5 s), and a hang confirmed at a lane's end costs this long. A
 * false hang under load is a crash no listed divergence explains (only an abort's "invalid tss
 * type" is listed), so the driver re-runs it in a fresh emulator before it counts.
 */
const STALL_MS = 100;
/** Before the first record: QEMU starts, qboot loads the harness, the harness sets up. */
const BOOT_STALL_MS = 3000;
const POLL_MS = 20;

/**
 * Feeds a boot its states while it runs: `feed` writes runs of state pages, reporting after each
 * how many are in place, and yields between runs so the other instances' feeds and watchdogs run;
 * it stops early once QEMU has exited.
 */
type Feed = (ready: (count: number) => void, exited: () => boolean) => Promise<void>;

/**
 * Boots QEMU on the prepared RAM file, feeding it with `feed` (null: every state is in place).
 * The harness writes each record into shared memory as it goes, so a watchdog reading the records
 * can tell a hang (no progress for STALL_MS on a state that is in place) from a long batch, and
 * kills only a stalled emulator.
 */
function boot(harness: string, fd: number, start: number, n: number, fed: number, feed: Feed | null, onProgress: (written: number) => void): Promise<Boot> {
  return new Promise((resolve, reject) => {
    const p = spawn(QEMU_BINARY, qemuArgs(harness), { stdio: ['ignore', 'ignore', 'pipe', fd] });
    let stderr = '';
    let timedOut = false;
    p.stderr?.on('data', (d: Buffer) => {
      if (stderr.length < 16384) stderr += d.toString();
    });
    let next = start;
    const stall = new StallWatch(POLL_MS);
    // States written so far: the harness waits at `ready`, which is no hang of the emulator's.
    let ready = fed;
    let exited = false;
    let feedError: unknown = null;
    // A feed that fails (a state that does not encode) kills the emulator waiting for it.
    const feeding = (feed?.((count) => (ready = count), () => exited) ?? Promise.resolve()).catch((e: unknown) => {
      feedError = e;
      p.kill('SIGKILL');
    });
    // The harness dumps CPUID before its first VMRUN (runInstance zeroes the dump before each
    // boot): from then on a state that makes no progress is a hang after STALL_MS, even the first
    // one of the boot, which would otherwise wait out BOOT_STALL_MS.
    let started = false;
    const probe = new Uint8Array(4);
    const written = (i: number): boolean => recordIs(fd, i);
    const watchdog = setInterval(() => {
      if (!started) {
        readSync(fd, probe, 0, 4, LAYOUT.CPUID_DUMP);
        if (new DataView(probe.buffer).getUint32(0, true) !== 0) {
          started = true;
          stall.progress();
        }
      }
      if (next <= n && written(next)) {
        // Records are written in order, so the last one written is found by galloping and
        // bisecting (a few reads per tick, not one per state).
        let lo = next;
        let step = 1;
        while (lo + step <= n && written(lo + step)) {
          lo += step;
          step *= 2;
        }
        let hi = Math.min(lo + step, n + 1);
        while (hi - lo > 1) {
          const mid = (lo + hi) >> 1;
          if (written(mid)) lo = mid;
          else hi = mid;
        }
        next = lo + 1;
        stall.progress();
        onProgress(next);
      }
      if (next < n && next >= ready) stall.progress();
      if (stall.stalledFor() > (started || next > start ? STALL_MS : BOOT_STALL_MS)) {
        timedOut = true;
        p.kill('SIGKILL');
      }
    }, POLL_MS);
    // The feed's end is awaited, so no write runs after the instance's file is closed.
    const settle = (f: () => void): void => {
      exited = true;
      clearInterval(watchdog);
      void feeding.then(() => (feedError !== null ? reject(feedError) : f()));
    };
    p.on('error', (e: NodeJS.ErrnoException) =>
      settle(() => reject(e.code === 'ENOENT' ? new NestfuzzError('NESTFUZZ_ORACLE', `${QEMU_BINARY} is not installed`, 'apt-get install qemu-system-x86 (see .ci/run)') : e)),
    );
    p.on('exit', (status, signal) => settle(() => resolve({ status, signal, timedOut, stderr })));
  });
}

/** What QEMU said about its death: a "qemu: fatal:" line first, else the last lines. */
function deathNote(b: Boot): string {
  const lines = b.stderr.trim().split('\n').filter((l) => l.trim() !== '');
  const fatal = lines.find((l) => /fatal|abort|error/i.test(l));
  return fatal ?? lines.slice(-1).join('');
}

function svmExitFields(dv: DataView, off: number): SvmExitFields {
  const q = (o: number): bigint => dv.getBigUint64(off + o, true);
  return {
    exit_code: q(8), exit_info_1: q(16), exit_info_2: q(24),
    exit_int_info: dv.getUint32(off + 32, true), exit_int_info_err: dv.getUint32(off + 36, true),
    rip: q(40), next_rip: q(48), event_inj: q(56),
  };
}

/** State pages per write: one syscall per 2 MiB of the RAM file, and the harness starts after the first. */
const PAGES_PER_WRITE = 512;

/**
 * Streams the state pages into the RAM file in runs of PAGES_PER_WRITE, each encoded straight
 * into the run, raising the header's ready count after each (harness/svm.asm waits on it): QEMU
 * boots and runs the first states while the rest are written, and two instances' feeds take turns
 * instead of the second instance waiting for the first one's whole batch (measured 2026-11-26:
 * 100 ms of writing per 25,000 states). Only the architectural part of each VMCB is written
 * (control + save area, APM appendix B): the rest of the page is reserved and stays zero.
 */
function feedStatePages(fd: number, pages: StatePages, from: number): Feed {
  return async (ready, exited) => {
    const run = new Uint8Array(PAGES_PER_WRITE * 4096);
    const header = new Uint8Array(4);
    for (let first = from; first < pages.length && !exited(); first += PAGES_PER_WRITE) {
      const count = Math.min(PAGES_PER_WRITE, pages.length - first);
      run.fill(0, 0, count * 4096);
      for (let k = 0; k < count; k++) pages.writeInto(first + k, run.subarray(k * 4096, k * 4096 + VMCB_DEFINED_BYTES));
      writeSync(fd, run, 0, count * 4096, statePage(first));
      new DataView(header.buffer).setUint32(0, first + count, true);
      writeSync(fd, header, 0, 4, LAYOUT.INPUT_HDR + 12);
      ready(first + count);
      await new Promise((r) => setImmediate(r));
    }
  };
}

/**
 * Parses records [from, to) into `outcomes`; returns the first index not parsed (`to`, or a record
 * not written or of a kind no state ends with: the state QEMU died on).
 */
function parseRecords(fd: number, outcomes: RawOutcome[], from: number, to: number): number {
  if (to <= from) return from;
  const dv = new DataView(readAt(fd, LAYOUT.RECORDS + from * RECORD_SIZE, (to - from) * RECORD_SIZE).buffer);
  for (let i = from; i < to; i++) {
    const off = (i - from) * RECORD_SIZE;
    if (dv.getUint32(off, true) !== i) return i;
    const kind = dv.getUint32(off + 4, true);
    if (kind === LAYOUT.REC_EXIT) outcomes[i] = { kind: 'exit', exit: svmExitFields(dv, off) };
    else if (kind === LAYOUT.REC_HOST_EXC) outcomes[i] = { kind: 'host-exception', vector: Number(dv.getBigUint64(off + 8, true)), error_code: dv.getBigUint64(off + 16, true) };
    else return i;
  }
  return to;
}

/** Record `i` is written (its index is stored last, record.inc), and of `kind` when one is given. */
function recordIs(fd: number, i: number, kind?: number): boolean {
  const dv = new DataView(readAt(fd, LAYOUT.RECORDS + i * RECORD_SIZE, 8).buffer);
  return dv.getUint32(0, true) === i && (kind === undefined || dv.getUint32(4, true) === kind);
}

/** isa-debug-exit with value 0: QEMU's exit status is (0 << 1) | 1. */
const QEMU_CLEAN_EXIT = 1;

/** One QEMU instance running `pages` in as many boots as crashes require. */
async function runInstance(pages: StatePages, tag: string): Promise<BatchRun> {
  const harness = assembleHarness('svm');
  // The RAM file lives only as long as its descriptors: unlinked at once, it cannot outlast this
  // process, however the process ends (a killed campaign once left 256 MiB files in /dev/shm).
  const ramPath = `/dev/shm/nestfuzz-oracle-${process.pid}-${tag}.ram`;
  const fd = openSync(ramPath, 'w+');
  unlinkSync(ramPath);
  const n = pages.length;
  const outcomes: RawOutcome[] = new Array(n);
  let boots = 0;
  let cpuid: number[][] = [];
  const t0 = performance.now();
  let bootMs = 0;
  // States written into the RAM file so far.
  let fed = 0;
  try {
    ftruncateSync(fd, RAM_BYTES);
    const image = staticImage();
    let start = 0;
    while (start <= n) {
      // Every boot starts from the pristine image: a state that killed or hung the emulator may
      // have written L2's stack, IDT, GDT or TSS on its way (an INT3 loop does), and the RAM file
      // keeps what it wrote (measured: a busy-TSS abort turned into an exit after such a hang).
      for (const seg of image) writeAt(fd, seg);
      writeAt(fd, { gpa: LAYOUT.CPUID_DUMP, bytes: new Uint8Array(CPUID_LEAVES.length * 16) });
      // Unwritten records read as all-ones, so index 0 kind 0 cannot be mistaken for a result.
      writeAt(fd, { gpa: LAYOUT.RECORDS + start * RECORD_SIZE, bytes: new Uint8Array((n - start + 1) * RECORD_SIZE).fill(0xff) });
      // The first boot is fed its states as it runs (feedStatePages); a resumed boot finds them in
      // place, and is fed the rest if its predecessor died before they were all written.
      writeAt(fd, inputHeader(n, start, fed));
      boots++;
      const tb = performance.now();
      const feed: Feed | null = fed < n ? (ready, exited) => feedStatePages(fd, pages, fed)((c) => ready((fed = c)), exited) : null;
      // Records are parsed while QEMU runs, each once the next one shows it complete (svm.asm
      // stores an exit's fields after its index), so only the last few wait for the exit.
      let parsed = start;
      const b = await boot(harness, fd, start, n, fed, feed, (next) => (parsed = parseRecords(fd, outcomes, parsed, Math.min(next - 1, n))));
      bootMs += performance.now() - tb;
      if (cpuid.length === 0) {
        const d = new DataView(readAt(fd, LAYOUT.CPUID_DUMP, CPUID_LEAVES.length * 16).buffer);
        cpuid = CPUID_LEAVES.map((_, k) => [0, 4, 8, 12].map((o) => d.getUint32(k * 16 + o, true)));
      }
      const i = (parsed = parseRecords(fd, outcomes, parsed, n));
      if (i === n && recordIs(fd, n, LAYOUT.REC_END)) break;
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
      // A death on the last state leaves only the end marker unwritten: no boot for that.
      if (start === n) break;
    }
  } finally {
    if (process.env.NESTFUZZ_ORACLE_DEBUG) console.error(`qemu instance ${tag}: ${n} states, ${boots} boots, ${bootMs.toFixed(0)} ms in QEMU of ${(performance.now() - t0).toFixed(0)} ms`);
    closeSync(fd);
  }
  return { outcomes, boots, cpuid };
}

/** Instances started by this process: each gets its own RAM file. */
let instanceSerial = 0;

/** Runs every lane on QEMU, each on an instance of its own (lanes.ts), at most `jobs` at once. */
export async function runQemuSvm(lanes: readonly StatePages[], jobs = 1): Promise<BatchRun> {
  const results = await runLanes(lanes, jobs, LAYOUT.MAX_STATES, (p) => runInstance(p, `${instanceSerial++}`));
  return {
    outcomes: results.flatMap((r) => r.outcomes),
    boots: results.reduce((s, r) => s + r.boots, 0),
    cpuid: results[0]?.cpuid ?? [],
  };
}
