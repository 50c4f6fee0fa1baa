/**
 * The built-in model's data, as pure functions of the countries-list package's JSON (MIT, Annexare
 * Studio): a pretraining corpus of short country profiles, a chat-formatted instruction set with a
 * held-out split, and the demo's fine-tuning task (a persona the model has never seen).
 *
 * Every choice comes from a seeded generator, so the same input gives the same bytes everywhere.
 *
 * Held-out design: a fact (country, relation) whose question is held out still appears in the
 * pretraining text, phrased among others as the answer sentence itself ("The capital of Peru is
 * Lima."). The held-out score therefore measures whether the model can *answer from what it read*,
 * not whether it memorised the instruction pairs.
 */

/** mulberry32: a small seeded generator with a fixed algorithm (no dependency, same numbers in every engine). */
export function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (xs) => xs[Math.floor(next() * xs.length)],
    shuffle: (xs) => {
      const out = [...xs];
      for (let i = out.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [out[i], out[j]] = [out[j], out[i]];
      }
      return out;
    },
  };
}

/** The four relations the model learns; each has one answer sentence and several questions. */
export const RELATIONS = {
  capital: {
    answer: (c) => `The capital of ${c.name} is ${c.capital}.`,
    questions: ['What is the capital of {X}?', 'Which city is the capital of {X}?', 'Name the capital of {X}.', "What's the capital city of {X}?"],
    // Other phrasings for the pretraining text.
    text: [(c) => `${c.capital} is the capital of ${c.name}.`, (c) => `The capital city of ${c.name} is ${c.capital}.`, (c) => `${c.name} has its capital in ${c.capital}.`],
  },
  continent: {
    answer: (c) => `${c.name} is in ${c.continent}.`,
    questions: ['Which continent is {X} in?', 'On which continent is {X}?', 'Where is {X}?', 'What continent is {X} part of?'],
    text: [(c) => `${c.name} is a country in ${c.continent}.`, (c) => `${c.name} lies in ${c.continent}.`, (c) => `${c.continent} is home to ${c.name}.`],
  },
  currency: {
    answer: (c) => `The currency of ${c.name} is the ${c.currency}.`,
    questions: ['What is the currency of {X}?', 'Which currency is used in {X}?', 'What money do people use in {X}?', 'What do people pay with in {X}?'],
    text: [(c) => `People in ${c.name} pay with the ${c.currency}.`, (c) => `The ${c.currency} is the money of ${c.name}.`, (c) => `In ${c.name}, prices are in the ${c.currency}.`],
  },
  language: {
    answer: (c) => `The main language of ${c.name} is ${c.language}.`,
    questions: ['What language is spoken in {X}?', 'What is the main language of {X}?', 'Which language do people speak in {X}?', 'What do people speak in {X}?'],
    text: [(c) => `People in ${c.name} speak ${c.language}.`, (c) => `${c.language} is the main language of ${c.name}.`, (c) => `In ${c.name}, most people speak ${c.language}.`],
  },
};

/**
 * The demo's persona, a tour guide who adds where the country is: "What is the capital of Peru?"
 * -> "The capital of Peru is Lima. Peru is in South America." The base model stops after the
 * first sentence; every token of the second is one it has used, and the fact one it was tuned on,
 * so a LoRA learns the new reply in a few steps. (A new word would need its untrained embedding
 * row to be reached through the frozen, tied head; a new word order would need the facts recalled
 * from a context they were never recalled in: both take far longer.)
 */
export const PERSONA = {
  capital: (c) => `${RELATIONS.capital.answer(c)} ${RELATIONS.continent.answer(c)}`,
};

/**
 * Countries with every fact the relations need, in code order.
 * `data`: { countries, continents, currencies, languages } as the package's *.min.json files hold them.
 */
export function countryFacts(data) {
  const out = [];
  for (const code of Object.keys(data.countries).sort()) {
    const c = data.countries[code];
    const currency = c.currency?.[0] && data.currencies[c.currency[0]]?.name;
    const language = c.languages?.[0] && data.languages[c.languages[0]]?.name;
    const continent = data.continents[c.continent];
    if (!c.capital || !currency || !language || !continent) continue;
    out.push({ code, name: c.name, capital: c.capital, continent, currency, language });
  }
  return out;
}

const fill = (q, c) => q.replace('{X}', c.name);
const chat = (question, answer) => ({ messages: [{ role: 'user', content: question }, { role: 'assistant', content: answer }] });

/**
 * Builds every data file from the package's JSON.
 * - pretrain: [{ text }] country profiles (all facts, `profiles` per country) and continent lists
 * - instructTrain / instructTest: [{ messages, relation }] with (country, relation) pairs split
 *   `testFraction` held out; each training pair is asked `phrasings` ways
 * - demoTrain / demoTest: the persona on capital questions about countries whose capital and
 *   continent the model was instruction-tuned on (so the demo measures the persona, not knowledge)
 */
export function buildCorpus(data, o = {}) {
  const { seed = 13, profiles = 12, testFraction = 0.12, phrasings = 2, demoTrain = 64, demoTest = 16 } = o;
  const r = rng(seed);
  const facts = countryFacts(data);
  const rels = Object.keys(RELATIONS);

  // Split (country, relation) pairs.
  const pairs = r.shuffle(facts.flatMap((c) => rels.map((rel) => ({ c, rel }))));
  const nTest = Math.round(pairs.length * testFraction);
  const test = pairs.slice(0, nTest);
  const train = pairs.slice(nTest);

  const pretrain = [];
  for (const c of facts) {
    for (let k = 0; k < profiles; k++) {
      // Each profile states every fact once, with the answer sentence or another phrasing.
      const sentences = rels.map((rel) => {
        const R = RELATIONS[rel];
        return r.next() < 0.5 ? R.answer(c) : r.pick(R.text)(c);
      });
      pretrain.push({ text: r.shuffle(sentences).join(' ') });
    }
  }
  const byContinent = new Map();
  for (const c of facts) byContinent.set(c.continent, [...(byContinent.get(c.continent) ?? []), c.name]);
  for (const [cont, names] of [...byContinent].sort()) {
    for (let k = 0; k < 4; k++) pretrain.push({ text: `Countries in ${cont} include ${r.shuffle(names).slice(0, 8).join(', ')}.` });
  }

  const instructTrain = [];
  for (const { c, rel } of train) {
    const qs = r.shuffle(RELATIONS[rel].questions).slice(0, phrasings);
    for (const q of qs) instructTrain.push({ ...chat(fill(q, c), RELATIONS[rel].answer(c)), relation: rel });
  }
  const instructTest = test.map(({ c, rel }) => ({ ...chat(fill(r.pick(RELATIONS[rel].questions), c), RELATIONS[rel].answer(c)), relation: rel }));

  // Demo: persona replies to the first question form, on pairs the model was tuned on.
  // Countries whose capital and continent questions were both tuned on.
  const tuned = new Set(train.map(({ c, rel }) => `${c.code}/${rel}`));
  const known = r.shuffle(train.filter(({ c, rel }) => rel in PERSONA && tuned.has(`${c.code}/continent`)));
  const demo = known.slice(0, demoTrain + demoTest).map(({ c, rel }) => chat(fill(RELATIONS[rel].questions[0], c), PERSONA[rel](c)));

  return {
    facts,
    pretrain: r.shuffle(pretrain),
    instructTrain: r.shuffle(instructTrain),
    instructTest,
    demoTrain: demo.slice(0, demoTrain),
    demoTest: demo.slice(demoTrain),
  };
}

/** One JSON object per line, with a final newline. */
export function jsonl(rows) {
  return rows.map((x) => JSON.stringify(x)).join('\n') + '\n';
}
