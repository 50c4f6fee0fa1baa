#!/usr/bin/env node
/**
 * Mutation check: applies each deliberate bug of tools/mutate/mutations.mjs, one at a time, to a
 * scratch copy of the repository (a detached git worktree of HEAD, with this checkout's node_modules
 * linked in; the checkout itself is never touched), runs the test files that should catch it, and
 * reports which were caught. Before any mutation the same test files run unmutated and must pass.
 *
 *   node tools/mutate/run.mjs [--only id,id] [--json out.json] [--keep]
 *
 * Commit first: the copy is HEAD. Exit status 0 when every mutation was caught. The report (also
 * printed) is JSON: { head, baseline, results: [{ id, what, caught, failed, seconds, error? }] }.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mutations } from './mutations.mjs';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const argv = process.argv.slice(2);
const opt = (name) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const only = opt('--only')?.split(',');
const jsonOut = opt('--json');
const selected = only ? mutations.filter((m) => only.includes(m.id)) : mutations;
if (only && selected.length !== only.length) throw new Error(`unknown mutation in --only: ${only.filter((id) => !mutations.some((m) => m.id === id))}`);

const git = (...a) => execFileSync('git', ['-C', root, ...a], { encoding: 'utf8' }).trim();
const head = git('rev-parse', 'HEAD');
const dir = mkdtempSync(join(tmpdir(), 'q-mutate-'));
git('worktree', 'add', '--detach', dir, head);
// node_modules: the root's and each package's, linked (workspace packages resolve through them).
for (const rel of ['node_modules', ...readdirSync(join(root, 'packages')).map((p) => `packages/${p}/node_modules`)]) {
  if (existsSync(join(root, rel)) && !existsSync(join(dir, rel))) symlinkSync(join(root, rel), join(dir, rel));
}
// Golden fixtures that are installed but not committed come along too.
for (const p of readdirSync(join(root, 'packages'))) {
  const f = join(root, 'packages', p, 'fixtures');
  if (existsSync(f) && !existsSync(join(dir, 'packages', p, 'fixtures'))) symlinkSync(f, join(dir, 'packages', p, 'fixtures'));
}

/** Runs vitest on the given files per package; returns the number of failed test files/tests. */
function runTests(tests) {
  let failed = 0;
  const log = [];
  for (const [pkg, files] of Object.entries(tests)) {
    const r = spawnSync('npx', ['vitest', 'run', '--reporter=json', ...files], {
      cwd: join(dir, 'packages', pkg), encoding: 'utf8', timeout: 900_000, env: { ...process.env, CI: 'true' }, maxBuffer: 1 << 28,
    });
    let report;
    try {
      report = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
    } catch {
      report = null;
    }
    const nFailed = report ? report.numFailedTests + (report.testResults ?? []).filter((t) => t.status === 'failed' && !t.assertionResults?.length).length : 1;
    const nTotal = report ? report.numTotalTests : 0;
    if (r.status !== 0 && nFailed === 0) failed += 1; // a crash or a collection error counts as caught
    failed += nFailed;
    log.push(`${pkg}: ${nFailed} failed of ${nTotal} (exit ${r.status})`);
  }
  return { failed, log };
}

function apply(m) {
  const originals = new Map();
  for (const e of m.edits) {
    const path = join(dir, e.file);
    const src = originals.get(path) ?? readFileSync(path, 'utf8');
    if (!originals.has(path)) originals.set(path, src);
    const cur = readFileSync(path, 'utf8');
    const n = cur.split(e.find).length - 1;
    if (n === 0 || (n > 1 && !e.all)) throw new Error(`${e.file}: expected ${e.all ? 'at least one' : 'exactly one'} occurrence of ${JSON.stringify(e.find)}, found ${n}`);
    writeFileSync(path, cur.split(e.find).join(e.replace));
  }
  return () => originals.forEach((src, path) => writeFileSync(path, src));
}

const report = { head, baseline: null, results: [] };
try {
  const union = {};
  for (const m of selected) for (const [pkg, files] of Object.entries(m.tests)) union[pkg] = [...new Set([...(union[pkg] ?? []), ...files])];
  const t0 = Date.now();
  const base = runTests(union);
  report.baseline = { failed: base.failed, log: base.log, seconds: (Date.now() - t0) / 1000 };
  console.error(`baseline: ${base.log.join('; ')}`);
  if (base.failed) throw new Error('the unmutated tests fail: fix them first');
  for (const m of selected) {
    const t = Date.now();
    let restore = () => {};
    const rec = { id: m.id, what: m.what };
    try {
      restore = apply(m);
      const r = runTests(m.tests);
      Object.assign(rec, { caught: r.failed > 0, failed: r.failed, log: r.log });
    } catch (e) {
      Object.assign(rec, { caught: false, error: String(e.message ?? e) });
    } finally {
      restore();
    }
    rec.seconds = (Date.now() - t) / 1000;
    report.results.push(rec);
    console.error(`${rec.caught ? 'CAUGHT' : 'MISSED'} ${m.id}: ${rec.error ?? rec.log.join('; ')} (${rec.seconds.toFixed(0)} s)`);
  }
} finally {
  if (!argv.includes('--keep')) {
    git('worktree', 'remove', '--force', dir);
    rmSync(dir, { recursive: true, force: true });
  }
}
report.caught = report.results.filter((r) => r.caught).length;
report.total = report.results.length;
const text = JSON.stringify(report, null, 1);
if (jsonOut) writeFileSync(jsonOut, `${text}\n`);
console.log(text);
process.exit(report.caught === report.total ? 0 : 1);
