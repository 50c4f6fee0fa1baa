import { pathExists, readJsonFile } from '../files/read-json-file';
import { nodeModules } from '../files/node-modules';

/** Reads the tokenizer files of a model folder (Node only). */
export async function loadTokenizerFiles(dir: string): Promise<{ tokenizerJson: unknown; tokenizerConfig: Record<string, unknown>; source: string }> {
  const { path, fs } = await nodeModules();
  const source = path.join(dir, 'tokenizer.json');
  const tokenizerJson = await readJsonFile(source);
  const cfgPath = path.join(dir, 'tokenizer_config.json');
  const tokenizerConfig = (await pathExists(cfgPath)) ? ((await readJsonFile(cfgPath)) as Record<string, unknown>) : {};
  // transformers >= 4.47 may save the template beside the config instead of inside it.
  const jinja = path.join(dir, 'chat_template.jinja');
  if (tokenizerConfig && typeof tokenizerConfig === 'object' && tokenizerConfig.chat_template == null && (await pathExists(jinja))) {
    tokenizerConfig.chat_template = await fs.readFile(jinja, 'utf8');
  }
  return { tokenizerJson, tokenizerConfig, source };
}
