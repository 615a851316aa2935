// `nestfuzz export <corpus file> --out <dir>`: a counterexample as a standalone reproducer a
// reviewer can boot under QEMU TCG or real KVM (repro.elf), paste into kvm-unit-tests (repro.c),
// and read about (README.txt).

import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NestfuzzError } from '../../campaign/errors.ts';
import { reproCpu } from './cpu.ts';
import { reproC } from './cSource.ts';
import { reproImage, reproTitleLine } from './image.ts';
import type { ExplainSource } from './explain.ts';
import { mmuExport } from './mmu/dispatch.ts';
import { reproReadme } from './readme.ts';
import { reproSource, type ReproSource } from './source.ts';
import { reproVmxC } from './vmxCSource.ts';
import { reproVmxCpu } from './vmxCpu.ts';
import { reproVmxImage } from './vmxImage.ts';
import { reproVmxReadme } from './vmxReadme.ts';
import { vmxEptExport } from './vmxEpt.ts';
import { vmxCorpusEntry, vmxOracleEntry, vmxOracleReproSource, vmxReproSource, type VmxReproSource } from './vmxSource.ts';

export interface ExportResult {
  /** ExplainSource: an explain-only image (explain.ts); a nested-walk image's source is a ReproSource (mmu/source.ts). */
  source: ReproSource | VmxReproSource | ExplainSource;
  files: { elf: string; c: string; readme: string };
  /** The first line the image prints. */
  title: string;
}

export function exportRepro(file: string, outDir: string): ExportResult {
  if (!existsSync(file) || statSync(file).isDirectory()) {
    throw new NestfuzzError('NESTFUZZ_BAD_INPUT', `${file} is not a file`, 'pass one counterexample file, like corpus/<property>/<hash>.json');
  }
  const vmxOracle = vmxOracleEntry(file);
  if (vmxOracle) {
    const cpu = reproVmxCpu();
    const src = vmxOracleReproSource(file, vmxOracle, cpu);
    return write(outDir, src, { elf: reproVmxImage(src, cpu), c: reproVmxC(src, cpu), readme: reproVmxReadme(src, cpu) });
  }
  const vmx = vmxCorpusEntry(file);
  if (vmx) {
    const cpu = reproVmxCpu();
    const src = vmxReproSource(file, vmx, cpu);
    return write(outDir, src, { elf: reproVmxImage(src, cpu), c: reproVmxC(src, cpu), readme: reproVmxReadme(src, cpu) });
  }
  const ept = vmxEptExport(file);
  if (ept) return write(outDir, ept.src, ept.content);
  const cpu = reproCpu();
  const mmu = mmuExport(file, cpu);
  if (mmu) return write(outDir, mmu.src, mmu.content);
  const src = reproSource(file, cpu);
  return write(outDir, src, { elf: reproImage(src, cpu), c: reproC(src, cpu), readme: reproReadme(src, cpu) });
}

function write(outDir: string, src: ExportResult['source'], content: { elf: Uint8Array; c: string; readme: string }): ExportResult {
  if (existsSync(outDir) && !statSync(outDir).isDirectory()) throw new NestfuzzError('NESTFUZZ_BAD_INPUT', `--out ${outDir} is a file`, 'pass a directory (it is created when missing)');
  mkdirSync(outDir, { recursive: true });
  const files = { elf: join(outDir, 'repro.elf'), c: join(outDir, 'repro.c'), readme: join(outDir, 'README.txt') };
  writeFileSync(files.elf, content.elf);
  writeFileSync(files.c, content.c);
  writeFileSync(files.readme, content.readme);
  return { source: src, files, title: reproTitleLine(src) };
}
