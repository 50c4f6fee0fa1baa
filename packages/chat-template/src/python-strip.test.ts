import { describe, expect, it } from 'vitest';
import { pythonStrip } from './python-strip';
import { renderChatTemplate } from './apply-chat-template';

describe("Python's strip with characters", () => {
  it('strips only the given characters, as str.lstrip does', () => {
    expect(pythonStrip('\n\n  hi \n', 'lstrip', '\n')).toBe('  hi \n');
    expect(pythonStrip('xxhixx', 'strip', 'x')).toBe('hi');
    expect(pythonStrip('  hi  ', 'rstrip', null)).toBe('  hi');
  });
  it('applies inside templates', () => {
    const t = "{% for m in messages %}[{{ m.content.lstrip('\\n') }}]{% endfor %}";
    expect(renderChatTemplate([{ role: 'user', content: '\n  padded ' }], { chatTemplate: t })).toBe('[  padded ]');
  });
});
