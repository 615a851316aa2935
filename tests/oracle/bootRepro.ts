// Booting exported reproducers on QEMU TCG, as README.txt says (plus qboot and -no-reboot); COM1
// is QEMU's stdout. Shared by the export tests.

import { spawn } from 'node:child_process';
import { expect } from 'vitest';
import { QEMU_CPU } from '../../src/oracle/qemu.ts';

export interface Boot {
  status: number | null;
  lines: string[];
}

export function bootRepro(elf: string, machine = { cpu: QEMU_CPU, mb: 256 }): Promise<Boot> {
  return new Promise((resolve, reject) => {
    const args = ['-accel', 'tcg', '-cpu', machine.cpu, '-m', `${machine.mb}`, '-nographic', '-no-reboot', '-bios', 'qboot.rom', '-kernel', elf, '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04'];
    const p = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    // Decoded as a stream: a multi-byte character (the header may quote "§") can straddle two chunks.
    p.stdout.setEncoding('utf8');
    p.stdout.on('data', (d: string) => (out += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), 20_000);
    p.on('error', reject);
    p.on('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, lines: out.split(/\r?\n/) });
    });
  });
}

/** Two QEMU instances at a time (oracle.md §8: the machine has two cores). */
export async function bootAll(elfs: readonly string[]): Promise<Boot[]> {
  const results: Boot[] = new Array(elfs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < elfs.length) {
      const i = next++;
      results[i] = await bootRepro(elfs[i]);
    }
  };
  await Promise.all([worker(), worker()]);
  return results;
}

/**
 * Boots each export two at a time and checks what every reproducer does: QEMU exits with status 1
 * (isa-debug-exit) and the image printed its title; `check` gets the lines from the title on.
 */
export async function bootExports<T extends { title: string; files: { elf: string }; source: { file: string } }>(rs: readonly T[], check: (r: T, lines: string[], where: string) => void): Promise<void> {
  const boots = await bootAll(rs.map((r) => r.files.elf));
  rs.forEach((r, i) => {
    const { status, lines } = boots[i];
    const where = `${r.source.file}:\n${lines.join('\n')}`;
    expect(status, where).toBe(1);
    const at = lines.indexOf(r.title);
    expect(at, where).toBeGreaterThanOrEqual(0);
    check(r, lines.slice(at), where);
  });
}
