/**
 * Turns dataset rows into training examples, as trl's SFTTrainer prepares them: rows with
 * `messages` get the tokenizer's chat template; rows with `prompt`/`completion` are joined; other
 * rows use `datasetTextField`. Labels are the ids, or −100 outside the completion/assistant turns
 * when completion-only or assistant-only loss is on. Assistant spans come from the rendered
 * template itself (@q/chat-template), so they work for Qwen's template, which has no
 * `{% generation %}` tags (users.md #3).
 */
import { applyChatTemplate, type ChatMessage } from '@q/chat-template';
import { ConfigError, QError, ValueError } from '@q/core';
import type { AutoTokenizer } from '@q/model';
import { rowLabel } from '../dataset/row-origin';

export interface Example {
  inputIds: number[];
  /** −100 where no loss is taken. */
  labels: number[];
  /** Packed ('bfd'): positions restarting at 0 at each sample, so samples do not see each other. */
  positionIds?: number[];
}

export interface TokenizeOptions {
  datasetTextField: string;
  maxLength: number | null;
  /** Loss on the completion only (prompt-completion rows). Default: on for such rows, as trl. */
  completionOnlyLoss: boolean | null;
  /** Loss on assistant turns only (messages rows). */
  assistantOnlyLoss: boolean;
  /** Append eos to plain text when missing, as trl does, so the model learns to stop. */
  appendEos: boolean;
}

export interface TokenizeReport {
  truncated: number;
  /** Set when pad == eos: the eos labels are still kept (only padding is masked), so say so. */
  padIsEos: boolean;
  /** Rows dropped because every label was masked (they teach nothing). */
  noLabel: number;
  /** Rows read. */
  rows: number;
}

function specialTokens(tok: AutoTokenizer): Record<string, string> {
  const s = tok.settings;
  const out: Record<string, string> = {};
  if (s.bosToken) out.bos_token = s.bosToken;
  if (s.eosToken) out.eos_token = s.eosToken;
  if (s.padToken) out.pad_token = s.padToken;
  if (s.unkToken) out.unk_token = s.unkToken;
  return out;
}

export function tokenizeRow(row: Record<string, unknown>, i: number, tok: AutoTokenizer, o: TokenizeOptions): Example {
  let ids: number[];
  let mask: number[] | null = null;
  if (row.messages !== undefined && row.messages !== null && !Array.isArray(row.messages)) {
    // Not datasetTextField's fault: the row has a conversation column of the wrong type.
    throw new ValueError(`${rowLabel(row, i)}: "messages" must be an array of {role, content} objects, got ${typeof row.messages === 'string' ? `a string (${JSON.stringify(row.messages.slice(0, 40))}${row.messages.length > 40 ? '...' : ''})` : typeof row.messages}`);
  }
  if (Array.isArray(row.messages)) {
    if (!tok.settings.chatTemplate) throw new ValueError(`${rowLabel(row, i)} has "messages" but the tokenizer has no chat_template: give one in tokenizer_config.json`);
    let r: ReturnType<typeof applyChatTemplate>;
    try {
      r = applyChatTemplate(row.messages as ChatMessage[], {
        chatTemplate: tok.settings.chatTemplate,
        tokenizer: tok,
        tokenize: true,
        specialTokens: specialTokens(tok),
        returnAssistantTokensMask: o.assistantOnlyLoss,
      });
    } catch (e) {
      // Name the row by its line in the file: "messages[2].content: ..." alone does not say which.
      if (e instanceof QError) throw new ValueError(`${rowLabel(row, i)}: ${e.message}`);
      throw e;
    }
    ids = r.inputIds!;
    if (o.assistantOnlyLoss) mask = r.assistantMasks!;
  } else if (typeof row.prompt === 'string' && typeof row.completion === 'string') {
    const p = tok.encode(row.prompt, { addSpecialTokens: true });
    let c = tok.encode(row.completion, { addSpecialTokens: false });
    if (o.appendEos && tok.eosTokenId !== null && c[c.length - 1] !== tok.eosTokenId) c = [...c, tok.eosTokenId];
    ids = [...p, ...c];
    if (o.completionOnlyLoss ?? true) mask = [...p.map(() => 0), ...c.map(() => 1)];
  } else {
    const text = row[o.datasetTextField];
    if (typeof text !== 'string') {
      throw new ConfigError('datasetTextField', `a string column in every row (${rowLabel(row, i)} has columns ${Object.keys(row).join(', ')})`, o.datasetTextField, 'SFTConfig');
    }
    ids = tok.encode(text, { addSpecialTokens: true });
    if (o.appendEos && tok.eosTokenId !== null && ids[ids.length - 1] !== tok.eosTokenId) ids = [...ids, tok.eosTokenId];
  }
  const labels = mask ? ids.map((id, k) => (mask![k] ? id : -100)) : [...ids];
  if (o.maxLength !== null && ids.length > o.maxLength) {
    ids = ids.slice(0, o.maxLength);
    return { inputIds: ids, labels: labels.slice(0, o.maxLength) };
  }
  return { inputIds: ids, labels };
}

/**
 * Tokenizes every row; rows that end up with no label are counted and dropped (they teach nothing),
 * unless `keepUnlabelled` (trl keeps them when packing: they still take their place in a block).
 */
export function tokenizeRows(
  rows: Iterable<Record<string, unknown>>,
  tok: AutoTokenizer,
  o: TokenizeOptions,
  { keepUnlabelled = false }: { keepUnlabelled?: boolean } = {},
): { examples: Example[]; report: TokenizeReport } {
  const examples: Example[] = [];
  let truncated = 0;
  let noLabel = 0;
  let i = 0;
  for (const row of rows) {
    const ex = tokenizeRow(row, i++, tok, o);
    if (o.maxLength !== null && ex.inputIds.length === o.maxLength) truncated++;
    const labelled = ex.labels.some((l) => l !== -100);
    if (!labelled) noLabel++;
    if (labelled || keepUnlabelled) examples.push(ex);
  }
  const padIsEos = tok.padTokenId !== null && tok.padTokenId === tok.eosTokenId;
  return { examples, report: { truncated, padIsEos, noLabel, rows: i } };
}
