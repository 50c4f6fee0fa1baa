/**
 * Rows to training examples, as trl's `SFTTrainer._prepare_dataset` orders the steps: tokenize
 * (labels from the masks), then either truncate to maxLength and drop rows with no label, or, when
 * packing, pack without truncating first: 'bfd' truncates each example to a block (the overflow is
 * lost), 'wrapped' cuts the concatenation and loses nothing; rows with no label are kept in packs.
 */
import type { AutoTokenizer } from '@q/model';
import { packExamples } from './collate';
import { packBfd } from './pack-bfd';
import { tokenizeRows, type Example, type TokenizeOptions, type TokenizeReport } from './tokenize-rows';

export interface PrepareExamplesOptions extends TokenizeOptions {
  /** Pack examples into blocks of maxLength (needs maxLength). Default false. */
  packing?: boolean;
  /** 'bfd' (trl's default) or 'wrapped'. Default 'bfd'. */
  packingStrategy?: 'bfd' | 'wrapped';
}

export function prepareExamples(rows: Iterable<Record<string, unknown>>, tok: AutoTokenizer, o: PrepareExamplesOptions): { examples: Example[]; report: TokenizeReport } {
  const maxLength = o.maxLength;
  if (!o.packing || maxLength === null) return tokenizeRows(rows, tok, o);
  const { examples, report } = tokenizeRows(rows, tok, { ...o, maxLength: null }, { keepUnlabelled: true });
  if ((o.packingStrategy ?? 'bfd') === 'wrapped') return { examples: packExamples(examples, maxLength), report: { ...report, truncated: 0 } };
  const truncated = examples.filter((e) => e.inputIds.length > maxLength).length;
  return { examples: packBfd(examples, maxLength), report: { ...report, truncated } };
}
