// The text form of an oracle session (the JSON form is the report object itself).

import type { AnyOracleSessionReport } from './session.ts';
import { describeSvmVerdict, type SvmVerdict } from './svm/verdict.ts';
import { describeVmxVerdict, type VmxVerdict } from './vmx/verdict.ts';

/** A verdict of a report of architecture `arch` (its unexplained records hold that architecture's verdicts). */
export function describeOracleVerdict(arch: AnyOracleSessionReport['arch'], v: SvmVerdict | VmxVerdict): string {
  return arch === 'vmx' ? describeVmxVerdict(v as VmxVerdict) : describeSvmVerdict(v as SvmVerdict);
}

export function formatOracleReport(r: AnyOracleSessionReport): string {
  const describe = (v: SvmVerdict | VmxVerdict): string => describeOracleVerdict(r.arch, v);
  const pct = (x: number): string => `${(100 * x).toFixed(3)}%`;
  const lines = [
    `nestfuzz oracle: ${r.states} state(s) on ${r.adapter} (${r.model}) against the engine (${r.profile}) in ${(r.total_ms / 1000).toFixed(1)} s, ${r.boots} boot(s)`,
    `  agree ${r.agree}, explained by listed divergences ${r.explained.reduce((n, d) => n + d.count, 0)}, unexplained ${r.unexplained.reduce((n, u) => n + u.count, 0)} in ${r.unexplained.length} bucket(s): agreement after listed divergences ${pct(r.agreement)}`,
  ];
  if (r.crashes || r.leaks) lines.push(`  emulator crashes/hangs ${r.crashes}; batch verdicts corrected by a re-run alone ${r.leaks}`);
  for (const s of r.skipped) lines.push(`  skipped ${s.file}: ${s.why}`);
  if (r.explained.length) {
    lines.push('  listed divergences seen:');
    for (const d of r.explained) lines.push(`    ${String(d.count).padStart(6)}  ${d.id} (${d.departs}): ${d.source}`);
  }
  for (const u of r.unexplained) {
    lines.push(`  UNEXPLAINED #${u.index}${u.count > 1 ? ` (+${u.count - 1} like it)` : ''}${u.source ? ` (${u.source})` : ''}: ${JSON.stringify(u.choice)} ${u.mutations.join(' ') || '(base)'}`);
    lines.push(`    engine:   ${describe(u.engine)}${u.engine_failed_checks.length ? ` [${u.engine_failed_checks.join(', ')}]` : ''}`);
    lines.push(`    emulator: ${describe(u.emulator)}`);
    lines.push(`    differs in: ${u.diff.join(', ')}${u.shrink_steps.length ? `; shrunk in ${u.shrink_steps.length} step(s)` : ''}${u.shrink_cut_short ? ' (shrinking cut short at the deadline)' : ''}${u.file ? `; written to ${u.file}` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}
