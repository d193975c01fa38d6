// Check the shipped BPMN files (and the Camunda 8 test fixture) with
// bpmn.io's own reader and linter: bpmn-moddle must read them without a
// warning and bpmnlint:recommended must report nothing. On success the
// SHA-256 of each file is recorded in
// crates/pathways/tests/fixtures/bpmnlint-validated.json; a Rust test fails
// when a file changed since it was last checked here.
//
//   cd tools/reference/pathways_bpmnlint && npm install && node check.mjs
import { BpmnModdle } from 'bpmn-moddle';
import bpmnlint from 'bpmnlint';
import NodeResolver from 'bpmnlint/lib/resolver/node-resolver.js';
import { createHash } from 'crypto';
import fs from 'fs';
import path from 'path';
import { createRequire } from 'module';
import { fileURLToPath } from 'url';

const require = createRequire(import.meta.url);
const camunda = require('camunda-bpmn-moddle/resources/camunda.json');
const zeebe = require('zeebe-bpmn-moddle/resources/zeebe.json');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const files = [
  'pathways/sepsis-escalation.bpmn',
  'pathways/radiology-review.bpmn',
  'pathways/deterioration-escalation.bpmn',
  'pathways/ood-review.bpmn',
  'crates/pathways/tests/fixtures/zeebe-parallel.bpmn',
];
const record = {};
let failed = false;
for (const rel of files) {
  // One linter per file: a linter keeps its rule instances, and some rules
  // (no-duplicate-sequence-flows) remember what they saw, so one linter for
  // several files reports a flow of one file as a duplicate of another's
  // with the same element ids.
  const linter = new bpmnlint.Linter({
    config: { extends: 'bpmnlint:recommended' },
    resolver: new NodeResolver(),
  });
  const xml = fs.readFileSync(path.join(root, rel), 'utf8');
  // camunda and zeebe descriptors conflict: load the one the file uses
  const ext = xml.includes('camunda.org/schema/zeebe') ? { zeebe } : { camunda };
  const { rootElement, warnings } = await new BpmnModdle(ext).fromXML(xml);
  const reports = Object.entries(await linter.lint(rootElement)).flatMap(([rule, rs]) =>
    rs.map((r) => `${rule}: ${r.id}: ${r.message}`),
  );
  for (const w of warnings) console.log(`${rel}: moddle: ${w.message}`);
  for (const r of reports) console.log(`${rel}: bpmnlint ${r}`);
  if (warnings.length || reports.length) {
    failed = true;
    continue;
  }
  record[path.basename(rel)] = createHash('sha256').update(xml).digest('hex');
  console.log(`ok ${rel}`);
}
if (failed) process.exit(1);
fs.writeFileSync(
  path.join(root, 'crates/pathways/tests/fixtures/bpmnlint-validated.json'),
  JSON.stringify(record, null, 2) + '\n',
);
