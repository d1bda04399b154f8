// Runs Khronos glTF-Validator on every .glb given (or in a directory) and prints one JSON
// line: {"files": N, "errors": E, "warnings": W, "first": [...first messages...]}.
// Needs the npm package gltf-validator (scripts/setup-debian.sh installs it under
// /var/cache/kizashi/node; NODE_PATH points there).
const fs = require('fs');
const path = require('path');
const validator = require('gltf-validator');

function collect(p, out) {
  if (fs.statSync(p).isDirectory()) {
    for (const f of fs.readdirSync(p)) collect(path.join(p, f), out);
  } else if (p.endsWith('.glb')) {
    out.push(p);
  }
  return out;
}

(async () => {
  const files = process.argv.slice(2).flatMap((p) => collect(p, []));
  let errors = 0, warnings = 0;
  const first = [];
  for (const f of files) {
    const report = await validator.validateBytes(new Uint8Array(fs.readFileSync(f)), { uri: f, maxIssues: 50 });
    errors += report.issues.numErrors;
    warnings += report.issues.numWarnings;
    for (const m of report.issues.messages) {
      if (m.severity <= 1 && first.length < 10) first.push(`${path.basename(f)}: ${m.code} ${m.message} ${m.pointer || ''}`);
    }
  }
  console.log(JSON.stringify({ files: files.length, errors, warnings, first }));
  process.exit(errors > 0 ? 1 : 0);
})().catch((e) => { console.error(String(e)); process.exit(2); });
