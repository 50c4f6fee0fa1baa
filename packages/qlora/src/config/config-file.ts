/**
 * Reads a `qlora train` config file: JSON (.json) or YAML (.yaml/.yml), chosen by extension.
 * A syntax error is a FormatError naming the file and the line, so it can be fixed without a
 * stack trace.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { FormatError } from '@q/core';
import { parse as parseYaml, YAMLParseError } from 'yaml';

/** Parses config text; `file` picks the format by extension (anything but .yaml/.yml is JSON). */
export function parseConfigText(text: string, file: string): unknown {
  const ext = extname(file).toLowerCase();
  if (ext === '.yaml' || ext === '.yml') {
    try {
      return parseYaml(text);
    } catch (e) {
      if (e instanceof YAMLParseError) {
        const at = e.linePos?.[0];
        throw new FormatError(file, `YAML syntax error${at ? ` at line ${at.line}, column ${at.col}` : ''}: ${e.message.split('\n')[0]}`);
      }
      throw e;
    }
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FormatError(file, `JSON syntax error: ${(e as Error).message} (YAML configs need a .yaml or .yml extension)`);
  }
}

/**
 * @example
 * ```ts
 * const raw = await readConfigFile('train.yaml'); // { model: ..., lora: { r: 16 }, ... }
 * ```
 */
export async function readConfigFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new FormatError(file, `cannot read the config file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseConfigText(text, file);
}
