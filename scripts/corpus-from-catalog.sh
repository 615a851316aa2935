#!/usr/bin/env bash
# Regenerate the regression corpus from the bug catalog: fuzz every bug profile against the
# invariants expected to catch it (`list --json` → caughtBy), and compare unified with unified-v4.
# Covers nested SVM and nested VMX bug profiles alike: a pair is fuzzed when the catching property is
# registered and its area matches the profile's arch.
# Each run exits 1 and writes corpus/<property>/<hash>.json plus shrink-logs/<property>/<hash>.log.
set -uo pipefail
cd "$(dirname "$0")/.."
time_per=${1:-10s}
node --import tsx src/cli.ts list --json | node -e '
  const l = JSON.parse(require("fs").readFileSync(0, "utf8"));
  for (const p of l.profiles) if (p.bug && p.name !== "unified-v4") for (const c of p.caughtBy ?? []) if (l.properties.some((q) => q.id === c && (p.arch === "any" || q.area === p.arch))) console.log(p.name + " " + c + " " + p.arch);
' | while read -r profile property arch; do
  echo "== $profile ($arch) / $property"
  node --import tsx src/cli.ts fuzz --profile "$profile" --property "$property" --time "$time_per" 2>/dev/null | grep -E '^(FAIL|result|  corpus|  Shrunk)'
done
echo "== compare unified,unified-v4"
node --import tsx src/cli.ts fuzz --compare unified,unified-v4 --time "$time_per" 2>/dev/null | grep -E '^(FAIL|result|  corpus|  Shrunk)'
