/**
 * Key-name conversion between Hugging Face's snake_case (`load_in_4bit`) and our camelCase
 * (`loadIn4bit`). Digits are the tricky part: HF writes `adam_beta1` and `fp16` (digits glued to
 * the word before) but `bnb_4bit_compute_dtype` (digits open a new word when letters follow).
 */

/**
 * Converts a snake_case key to camelCase; keys without underscores are returned unchanged.
 *
 * @example
 * ```ts
 * toCamelCase('bnb_4bit_compute_dtype') // 'bnb4bitComputeDtype'
 * toCamelCase('per_device_train_batch_size') // 'perDeviceTrainBatchSize'
 * ```
 */
export function toCamelCase(key: string): string {
  if (!key.includes('_')) return key;
  const parts = key.split('_').filter((p) => p.length > 0);
  return parts
    .map((p, i) => (i === 0 ? p.toLowerCase() : p.charAt(0).toUpperCase() + p.slice(1).toLowerCase()))
    .join('');
}

/**
 * Converts a camelCase key to the snake_case Hugging Face writes in its JSON files.
 *
 * A run of digits starts a new word only when a lowercase letter follows it (`loadIn4bit` →
 * `load_in_4bit`); otherwise it stays with the word before (`adamBeta1` → `adam_beta1`,
 * `bf16` → `bf16`, `fp16FullEval` → `fp16_full_eval`), which is how transformers and peft name
 * their fields.
 *
 * @example
 * ```ts
 * toSnakeCase('loadIn4bit') // 'load_in_4bit'
 * toSnakeCase('adamBeta2') // 'adam_beta2'
 * ```
 */
export function toSnakeCase(key: string): string {
  let out = '';
  for (let i = 0; i < key.length; i++) {
    const ch = key[i];
    const prev = i > 0 ? key[i - 1] : '';
    if (ch >= 'A' && ch <= 'Z') {
      out += (i > 0 ? '_' : '') + ch.toLowerCase();
    } else if (isDigit(ch) && prev !== '' && !isDigit(prev) && digitRunOpensWord(key, i)) {
      out += '_' + ch;
    } else {
      out += ch;
    }
  }
  return out;
}

function isDigit(ch: string): boolean {
  return ch >= '0' && ch <= '9';
}

/** True when the digit run starting at `start` is followed by a lowercase letter (`4bit`). */
function digitRunOpensWord(key: string, start: number): boolean {
  let j = start;
  while (j < key.length && isDigit(key[j])) j++;
  return j < key.length && key[j] >= 'a' && key[j] <= 'z';
}
