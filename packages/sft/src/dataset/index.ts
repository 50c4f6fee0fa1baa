export { Dataset, type Row } from './dataset';
export { loadDataset, type DataFiles } from './load-dataset';
export { rowLabel, setRowOrigin } from './row-origin';
export { parseRows, parseJson, parseJsonl, parseParquet, formatOf, type DatasetFormat } from './parse-rows';
export { seededRandom, permutation, type Random } from './rng';
