// Model loading, file-format half: checkpoint files, config.json, tokenizers.
// Browser-safe at import time: Node built-ins are loaded only when a file function is called.
export * from './config';
export * from './files';
export * from './tokenizer';
