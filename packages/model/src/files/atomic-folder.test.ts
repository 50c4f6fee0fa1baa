// The shared atomic-folder writer and the output_dir lock (issue #10, items 2-4). The states a kill
// can leave are built by hand, one per step of the commit, and recoverFolders must turn each into
// the old folder or the new one, complete, with nothing stale beside or inside it.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QError } from '@q/core';
import { recoverFolders, removeFolderAtomic, writeFolderAtomic } from './atomic-folder';
import { lockDir, LockedError, LOCK_FILE } from './dir-lock';
import { saveModelFolder } from '../modules/save-model';
import { checkpointLayout } from '../modules/random-weights';
import { openCheckpoint } from './checkpoint';
import { parseModelConfig } from '../config';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'q-atomic-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.isDirectory()) for (const [k, v] of Object.entries(await tree(join(dir, e.name)))) out[`${e.name}/${k}`] = v;
    else out[e.name] = await readFile(join(dir, e.name), 'utf8');
  }
  return out;
}

async function folder(dir: string, files: Record<string, string>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [k, v] of Object.entries(files)) {
    await mkdir(join(dir, k, '..'), { recursive: true });
    await writeFile(join(dir, k), v);
  }
}

/** A pid that is certainly dead: a child that has exited. */
const deadPid = (): number => spawnSync(process.execPath, ['-e', '0']).pid!;

describe('writeFolderAtomic', () => {
  it('replaces a folder whole: no stale file of the earlier save survives, no temporary is left', async () => {
    const p = join(root, 'a');
    await writeFolderAtomic(p, async (t) => folder(t, { 'w.bin': 'old', 'stale.idx': 'x' }));
    await writeFolderAtomic(p, async (t) => folder(t, { 'w.bin': 'new' }));
    expect(await tree(p)).toEqual({ 'w.bin': 'new' });
    expect((await readdir(root)).filter((n) => n.startsWith('.a.'))).toEqual([]);
  });

  it('a fill that fails leaves the old folder as it was and no temporary', async () => {
    const p = join(root, 'b');
    await writeFolderAtomic(p, async (t) => folder(t, { 'w.bin': 'good' }));
    await expect(writeFolderAtomic(p, async (t) => {
      await folder(t, { 'w.bin': 'half' });
      throw new Error('killed mid-write');
    })).rejects.toThrow('killed mid-write');
    expect(await tree(p)).toEqual({ 'w.bin': 'good' });
    expect((await readdir(root)).filter((n) => n.startsWith('.b.'))).toEqual([]);
  });

  it('keep: entries that are not the writer\'s move into the new folder (checkpoints beside an adapter)', async () => {
    const p = join(root, 'c');
    const dead = deadPid();
    // A dead writer's temporaries are not carried over.
    await folder(p, { 'adapter.bin': 'old', 'checkpoint-1/x': '1', 'log.jsonl': 'l', [`.qlora-write-test-${dead}`]: 'x', [`.log.jsonl.${dead}.abc.tmp`]: 'half' });
    await writeFolderAtomic(p, async (t) => folder(t, { 'adapter.bin': 'new' }), { keep: (n) => !n.startsWith('adapter') });
    expect(await tree(p)).toEqual({ 'adapter.bin': 'new', 'checkpoint-1/x': '1', 'log.jsonl': 'l' });
  });

  it('refuses a target that is a file, with a typed error', async () => {
    const f = join(root, 'file-target');
    await writeFile(f, 'x');
    await expect(writeFolderAtomic(f, async () => {})).rejects.toThrow(/exists and is not a folder/);
    await expect(writeFolderAtomic(f, async () => {})).rejects.toBeInstanceOf(QError);
  });

  it('saveModelFolder: a sharded save then a single-file save leaves no stale shard or index, and the new weights load', async () => {
    const cfg = parseModelConfig({ model_type: 'llama', vocab_size: 8, hidden_size: 4, intermediate_size: 8, num_hidden_layers: 1, num_attention_heads: 1, num_key_value_heads: 1 }, 't');
    // Every tensor of the architecture (a writer refuses fewer), each filled with v.
    const entries = (v: number) =>
      checkpointLayout(cfg).map(([n, sh]) => [n, sh, async () => new Float32Array(sh.reduce((a, b) => a * b, 1)).fill(v)]) as [string, number[], () => Promise<Float32Array>][];
    const p = join(root, 'model');
    await saveModelFolder(p, cfg, entries(1), { maxShardSize: 160 });
    const sharded = (await readdir(p)).sort();
    expect(sharded).toContain('model.safetensors.index.json');
    expect(sharded.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f)).length).toBeGreaterThan(1);
    await saveModelFolder(p, cfg, entries(2));
    expect((await readdir(p)).sort()).toEqual(['config.json', 'model.safetensors']);
    const ck = await openCheckpoint(p);
    expect([...(await ck.readF32('model.norm.weight'))]).toEqual([2, 2, 2, 2]);
    await ck.close();
  });
});

describe('recoverFolders: every state a kill can leave', () => {
  const pid = () => deadPid();
  it('killed while filling: the temporary is removed, the old folder stays', async () => {
    const d = join(root, 'r1');
    await folder(join(d, 'ck'), { f: 'old' });
    await folder(join(d, `.ck.q-tmp-${pid()}-abc`), { f: 'partial' });
    await recoverFolders(d);
    expect(await tree(d)).toEqual({ 'ck/f': 'old' });
  });

  it('killed after the commit point, before the old one was renamed aside: the new one is put in', async () => {
    const d = join(root, 'r2');
    await folder(join(d, 'ck'), { f: 'old', 'checkpoint-3/x': 'kept' });
    await folder(join(d, `.ck.q-ready-${pid()}-abc`), { f: 'new', '.q-commit.json': JSON.stringify({ keep: ['^checkpoint-3$'] }) });
    const notes = await recoverFolders(d);
    expect(notes.join('\n')).toMatch(/finished the interrupted save/);
    expect(await tree(d)).toEqual({ 'ck/f': 'new', 'ck/checkpoint-3/x': 'kept' });
  });

  it('killed between "rename old aside" and "rename new in" (the old bug: an empty checkpoint-N): the new one is put in', async () => {
    const d = join(root, 'r3');
    await folder(join(d, `.ck.q-old-${pid()}-abc`), { f: 'old' });
    await folder(join(d, `.ck.q-ready-${pid()}-def`), { f: 'new', '.q-commit.json': '{"keep":[]}' });
    await recoverFolders(d);
    expect(await tree(d)).toEqual({ 'ck/f': 'new' });
  });

  it('killed while deleting the old folder: what is left of it goes', async () => {
    const d = join(root, 'r4');
    await folder(join(d, 'ck'), { f: 'new' });
    await folder(join(d, `.ck.q-old-${pid()}-abc`), { g: 'half-deleted' });
    await recoverFolders(d);
    expect(await tree(d)).toEqual({ 'ck/f': 'new' });
  });

  it("leaves a live process's folders alone", async () => {
    const d = join(root, 'r5');
    await folder(join(d, `.ck.q-tmp-${process.ppid}-abc`), { f: 'in progress' });
    await recoverFolders(d);
    expect(Object.keys(await tree(d))).toEqual([`.ck.q-tmp-${process.ppid}-abc/f`]);
  });

  it('removeFolderAtomic renames aside before deleting', async () => {
    const d = join(root, 'r6');
    await folder(join(d, 'checkpoint-1'), { f: '1' });
    await removeFolderAtomic(join(d, 'checkpoint-1'));
    expect(await readdir(d)).toEqual([]);
  });
});

describe('lockDir', () => {
  it('a second run refuses, naming the first; release frees the folder', async () => {
    const d = join(root, 'l1');
    await mkdir(d);
    // Another live process on this host holds it.
    await writeFile(join(d, LOCK_FILE), JSON.stringify({ pid: process.ppid, host: hostname(), started: '2026-01-01T00:00:00.000Z', command: 'qlora train a.yaml' }));
    const err = await lockDir(d, 'qlora train b.yaml').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockedError);
    expect((err as Error).message).toBe(
      `${d} is in use by another run (pid ${process.ppid} on ${hostname()}, "qlora train a.yaml", since 2026-01-01T00:00:00.000Z); wait for it, or choose another output_dir. If that run is gone, delete .qlora.lock in the folder.`,
    );
    await rm(join(d, LOCK_FILE));
    const lock = await lockDir(d, 'qlora train b.yaml');
    expect(JSON.parse(await readFile(join(d, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid, host: hostname(), command: 'qlora train b.yaml' });
    await lock.release();
    expect(await readdir(d)).toEqual([]);
  });

  it('a lock whose pid is dead is stale: taken over, with a note', async () => {
    const d = join(root, 'l2');
    await mkdir(d);
    const dead = deadPid();
    await writeFile(join(d, LOCK_FILE), JSON.stringify({ pid: dead, host: hostname(), started: 'then', command: 'qlora train' }));
    const lock = await lockDir(d, 'qlora train');
    expect(lock.notes).toEqual([`removed a stale lock of pid ${dead} (started then), which is no longer running`]);
    await lock.release();
  });

  it('a lock from another host is never taken over (its pid cannot be checked from here)', async () => {
    const d = join(root, 'l3');
    await mkdir(d);
    await writeFile(join(d, LOCK_FILE), JSON.stringify({ pid: deadPid(), host: 'elsewhere', started: 'then', command: 'qlora train' }));
    await expect(lockDir(d, 'qlora train')).rejects.toThrow(/in use by another run \(pid \d+ on elsewhere/);
  });
});
