export * from './builtin-defaults';
export * from './builtin-model';
