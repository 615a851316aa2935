// `nestfuzz export <corpus file> --out <dir>`: a counterexample as a standalone reproducer a
// reviewer can boot under QEMU TCG or real KVM (repro.elf), paste into kvm-unit-tests (repro.c),
// and read about (README.txt).

import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NestfuzzError } from '../../campaign/errors.ts';
import { reproCpu } from './cpu.ts';
import { reproC } from './cSource.ts';
import { reproImage, reproTitleLine } from './image.ts';
import { reproReadme } from './readme.ts';
import { reproSource, type ReproSource } from './source.ts';

export interface ExportResult {
  source: ReproSource;
  files: { elf: string; c: string; readme: string };
  /** The first line the image prints. */
  title: string;
}

export function exportRepro(file: string, outDir: string): ExportResult {
  if (!existsSync(file) || statSync(file).isDirectory()) {
    throw new NestfuzzError('NESTFUZZ_BAD_INPUT', `${file} is not a file`, 'pass one counterexample file, like corpus/<property>/<hash>.json');
  }
  const cpu = reproCpu();
  const src = reproSource(file, cpu);
  const image = reproImage(src, cpu);
  if (existsSync(outDir) && !statSync(outDir).isDirectory()) throw new NestfuzzError('NESTFUZZ_BAD_INPUT', `--out ${outDir} is a file`, 'pass a directory (it is created when missing)');
  mkdirSync(outDir, { recursive: true });
  const files = { elf: join(outDir, 'repro.elf'), c: join(outDir, 'repro.c'), readme: join(outDir, 'README.txt') };
  writeFileSync(files.elf, image);
  writeFileSync(files.c, reproC(src, cpu));
  writeFileSync(files.readme, reproReadme(src, cpu));
  return { source: src, files, title: reproTitleLine(src) };
}
