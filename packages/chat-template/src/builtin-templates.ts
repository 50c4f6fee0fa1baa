import type { SpecialTokens } from './types';

/**
 * Chat templates shipped with @q, copied from the `chat_template` field of each model's published
 * tokenizer_config.json, with the special tokens those files declare. They are byte-for-byte the
 * published strings (String.raw keeps `\n` inside Jinja string literals as the two characters the
 * JSON holds; real line breaks are the JSON's own `\n`), so a model fine-tuned with them sees the
 * same prompt format at inference in transformers, vLLM or llama.cpp.
 */

/** Names accepted by `templateName` without a tokenizer config. */
export type BuiltinTemplateName = 'chatml' | 'qwen2.5' | 'zephyr' | 'llama3';

/** A built-in template: the Jinja source, where it comes from, and its model's special tokens. */
export interface BuiltinTemplate {
  name: BuiltinTemplateName;
  /** The tokenizer_config.json the template string was taken from. */
  source: string;
  template: string;
  specialTokens: SpecialTokens;
}

// The plain ChatML template most ChatML fine-tunes use (no default system prompt).
const CHATML =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}" +
  "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

// Qwen/Qwen2.5-*-Instruct tokenizer_config.json: ChatML plus a default system prompt and tools.
const QWEN25 = String.raw`{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
    {%- else %}
        {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\n<tool_call>\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
`;

// TinyLlama/TinyLlama-1.1B-Chat-v1.0 (the Zephyr format). The line breaks inside the string
// literals are real newlines in the published JSON, as is the one after each `}}`.
const ZEPHYR = [
  "{% for message in messages %}",
  "{% if message['role'] == 'user' %}",
  "{{ '<|user|>",
  "' + message['content'] + eos_token }}",
  "{% elif message['role'] == 'system' %}",
  "{{ '<|system|>",
  "' + message['content'] + eos_token }}",
  "{% elif message['role'] == 'assistant' %}",
  "{{ '<|assistant|>",
  "'  + message['content'] + eos_token }}",
  "{% endif %}",
  "{% if loop.last and add_generation_prompt %}",
  "{{ '<|assistant|>' }}",
  "{% endif %}",
  "{% endfor %}",
].join('\n');

// meta-llama/Meta-Llama-3-8B-Instruct. `| trim` binds to message['content'] only.
const LLAMA3 =
  "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}" +
  "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";

/** Every built-in template by name. */
export const BUILTIN_TEMPLATES: Readonly<Record<BuiltinTemplateName, BuiltinTemplate>> = Object.freeze({
  chatml: {
    name: 'chatml',
    source: 'the common ChatML template (as set by trl setup_chat_format)',
    template: CHATML,
    specialTokens: { eos_token: '<|im_end|>', pad_token: '<|im_end|>' },
  },
  'qwen2.5': {
    name: 'qwen2.5',
    source: 'Qwen/Qwen2.5-0.5B-Instruct tokenizer_config.json',
    template: QWEN25,
    specialTokens: { eos_token: '<|im_end|>', pad_token: '<|endoftext|>' },
  },
  zephyr: {
    name: 'zephyr',
    source: 'TinyLlama/TinyLlama-1.1B-Chat-v1.0 tokenizer_config.json',
    template: ZEPHYR,
    specialTokens: { bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', pad_token: '</s>' },
  },
  llama3: {
    name: 'llama3',
    source: 'meta-llama/Meta-Llama-3-8B-Instruct tokenizer_config.json',
    template: LLAMA3,
    specialTokens: { bos_token: '<|begin_of_text|>', eos_token: '<|eot_id|>' },
  },
});

/** The names of the built-in templates, for error messages and UIs. */
export const BUILTIN_TEMPLATE_NAMES = Object.keys(BUILTIN_TEMPLATES) as BuiltinTemplateName[];

/** True when `name` is a built-in template name. */
export function isBuiltinTemplateName(name: unknown): name is BuiltinTemplateName {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(BUILTIN_TEMPLATES, name);
}
