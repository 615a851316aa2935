// Coverage figures of several campaign parts (worker threads, shards) as one: counts summed, and a
// check or mutation kind "never hit" only if no part hit it.

export interface CoverageParts {
  checks: Record<string, { passed: number; failed: number }>;
  neverHit: string[];
  coverageSamples: number;
  outcomes: Record<string, number>;
  mutationKinds: Record<string, number>;
  mutationKindsNeverHit: string[];
}

function sumCounts(parts: readonly Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of parts) for (const [k, n] of Object.entries(p ?? {})) out[k] = (out[k] ?? 0) + n;
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

const everywhere = (lists: readonly string[][]): string[] => (lists[0] ?? []).filter((x) => lists.every((l) => (l ?? []).includes(x)));

export function combineCoverage(parts: readonly CoverageParts[]): CoverageParts & { checksHit: string[] } {
  const checks: CoverageParts['checks'] = {};
  for (const p of parts) {
    for (const [id, c] of Object.entries(p.checks ?? {})) {
      const m = checks[id] ?? { passed: 0, failed: 0 };
      checks[id] = { passed: m.passed + c.passed, failed: m.failed + c.failed };
    }
  }
  return {
    checks,
    checksHit: Object.keys(checks).filter((id) => checks[id].failed > 0),
    neverHit: everywhere(parts.map((p) => p.neverHit)),
    coverageSamples: parts.reduce((n, p) => n + (p.coverageSamples ?? 0), 0),
    outcomes: sumCounts(parts.map((p) => p.outcomes)),
    mutationKinds: sumCounts(parts.map((p) => p.mutationKinds)),
    mutationKindsNeverHit: everywhere(parts.map((p) => p.mutationKindsNeverHit)),
  };
}
