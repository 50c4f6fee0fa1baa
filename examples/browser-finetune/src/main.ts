/**
 * Fine-tunes a tiny random Llama-architecture model with LoRA in the page, on navigator.gpu:
 * device → model → LoRA → AdamW loop (forward → backward → clip → step → zero → draw), with a
 * greedy generation before and after. `window.__q` exposes the run to the test.
 * URL parameters override the settings: ?steps=40&lr=0.01&seed=0.
 */
import { backward, getDevice, keep, Rng, tidy } from '@q/core';
import { AutoModelForCausalLM, generate, parseModelConfig, randomWeights } from '@q/model';
import { getPeftModel } from '@q/lora';
import { AdamW, clipGradNorm } from '@q/optim';
import { LossChart } from './chart';
import { makeBatch, PATTERNS, repeatBytes, showBytes } from './task';

/** What the page exposes for tests and the console. */
export interface PageState {
  done: boolean;
  losses: number[];
  adapter: string;
  runtime: string;
  before: string;
  after: string;
  prompt: string;
  error: string | null;
  seconds: number;
  /** New tokens per second of the last greedy generation (shown live while it runs). */
  tokensPerSecond: number;
}

declare global {
  interface Window {
    __q: PageState;
  }
}

const params = new URLSearchParams(location.search);
const num = (k: string, d: number) => (params.has(k) ? Number(params.get(k)) : d);
const SETTINGS = { steps: num('steps', 40), lr: num('lr', 2e-2), seed: num('seed', 0), seqLen: 24, maxGradNorm: 1.0, newTokens: 16 };

// A Llama config.json as transformers writes it, small enough for a software rasterizer.
const CONFIG = {
  model_type: 'llama',
  architectures: ['LlamaForCausalLM'],
  vocab_size: 256, // one token per byte
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 64,
  rms_norm_eps: 1e-5,
  tie_word_embeddings: false,
};

const state: PageState = { done: false, losses: [], adapter: '', runtime: '', before: '', after: '', prompt: '', error: null, seconds: 0, tokensPerSecond: 0 };
window.__q = state;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const log = (id: string, text: string) => ($(id).textContent = text);
/** Lets the page paint between steps. */
const paint = () => new Promise((r) => setTimeout(r, 0));

async function run(): Promise<void> {
  const t0 = performance.now();
  const dev = await getDevice();
  const { vendor, architecture, description } = dev.info;
  state.adapter = [vendor, architecture, description].filter(Boolean).join(' · ') || '(adapter gave no description)';
  state.runtime = dev.info.runtime;
  log('adapter', `${state.adapter} (${state.runtime})`);

  const cfg = parseModelConfig(CONFIG, 'browser-finetune config');
  // Embedding and lm_head at std 0.3 instead of 0.02 stand in for a trained model's: LoRA leaves
  // them frozen, and at 0.02 the logits cannot move far enough in 40 steps (loss 5.5 → 5.0).
  const weights = randomWeights(cfg, SETTINGS.seed, 0.02, { embedStd: 0.3 });
  const model = await AutoModelForCausalLM.fromConfig(cfg, { weights });
  const peft = getPeftModel(model, { r: 8, loraAlpha: 16, loraDropout: 0, targetModules: 'all-linear' }, { seed: SETTINGS.seed });
  const { trainable, all } = peft.countParameters();
  log('params', `${trainable.toLocaleString()} trainable of ${all.toLocaleString()} parameters (LoRA r=8, all linear layers)`);

  // Greedy continuation of the first pattern's first bytes; LoRA's B starts at zero, so this is the base model.
  const prompt = repeatBytes(PATTERNS[0]!, 0, 8);
  const greedy = async () => {
    peft.eval();
    const t = performance.now();
    const [seq] = await generate(peft.base, [prompt], {
      maxNewTokens: SETTINGS.newTokens,
      doSample: false,
      // Live speed: the page repaints between steps, since each one waits for the GPU.
      streamer: ({ step }) => {
        state.tokensPerSecond = (step + 1) / ((performance.now() - t) / 1000);
        $('tps').textContent = `${step + 1} tokens, ${state.tokensPerSecond.toFixed(1)} tokens/s`;
      },
    });
    peft.train();
    return showBytes(seq!.slice(prompt.length));
  };
  state.prompt = showBytes(prompt);
  state.before = await greedy();
  log('before', `${state.prompt}⟶${state.before}`);

  const opt = new AdamW(peft.trainableParameters(), { lr: SETTINGS.lr, weightDecay: 0 });
  const chart = new LossChart($('chart'), SETTINGS.steps);
  const progress = $<HTMLProgressElement>('progress');
  progress.max = SETTINGS.steps;
  const rng = new Rng(SETTINGS.seed + 1);
  for (let step = 0; step < SETTINGS.steps; step++) {
    const ids = makeBatch(rng, SETTINGS.seqLen); // [B, T]
    const loss = keep(
      tidy(() => {
        const out = peft.forward({ inputIds: ids, labels: ids });
        backward(out.loss!);
        return out.loss!;
      }),
    );
    const clip = clipGradNorm(opt.parameters(), SETTINGS.maxGradNorm);
    opt.step({ lr: SETTINGS.lr, gradScale: clip.coef });
    clip.release();
    opt.zeroGrad();
    state.losses.push(await loss.item());
    loss.release();
    chart.draw(state.losses);
    progress.value = step + 1;
    log('step', `step ${step + 1} / ${SETTINGS.steps} · loss ${state.losses.at(-1)!.toFixed(3)}`);
    await paint();
  }

  state.after = await greedy();
  log('after', `${state.prompt}⟶${state.after}`);
  opt.release();
  peft.release();
  dev.dispose();
  state.seconds = (performance.now() - t0) / 1000;
  log('status', `done in ${state.seconds.toFixed(1)} s`);
}

run()
  .catch((e: unknown) => {
    state.error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    log('status', `failed: ${state.error}`);
    console.error(e);
  })
  .finally(() => {
    state.done = true;
  });
