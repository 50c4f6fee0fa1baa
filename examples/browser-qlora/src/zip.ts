/** A folder of @q's file system as one .zip (fflate), for a download. */
import { zipSync } from 'fflate';
import { nodeModules } from '@q/model';

export async function zipFolder(dir: string, top: string): Promise<Uint8Array> {
  const { fs } = await nodeModules();
  const files: Record<string, Uint8Array> = {};
  for (const name of await fs.readdir(dir)) {
    const st = await fs.stat(`${dir}/${name}`);
    if (st.isFile()) files[`${top}/${name}`] = (await fs.readFile(`${dir}/${name}`)) as unknown as Uint8Array;
  }
  // safetensors barely compress; level 1 keeps a big merged model quick to pack.
  return zipSync(files, { level: 1 });
}
