// utf8Text: bytes received in order as text, a leading byte-order mark dropped as TextDecoder drops it.
import { describe, expect, it } from 'vitest';
import { utf8Text } from '../../src/utf8.js';

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

describe('utf8Text', () => {
  it('decodes one buffer or several, a character split between them included', () => {
    const bytes = Buffer.from('{"a":"é✓"}', 'utf8');
    const cut = bytes.indexOf(0xc3) + 1; // inside é
    expect(utf8Text(bytes)).toBe('{"a":"é✓"}');
    expect(utf8Text([bytes])).toBe('{"a":"é✓"}');
    expect(utf8Text([bytes.subarray(0, cut), bytes.subarray(cut)])).toBe('{"a":"é✓"}');
    expect(utf8Text([])).toBe('');
  });

  it('drops a leading BOM only, as TextDecoder does', () => {
    const text = Buffer.from('{"a":1}', 'utf8');
    for (const chunks of [[Buffer.concat([BOM, text])], [BOM, text], [BOM.subarray(0, 1), BOM.subarray(1), text]]) {
      expect(utf8Text(chunks)).toBe(new TextDecoder().decode(Buffer.concat(chunks)));
      expect(utf8Text(chunks)).toBe('{"a":1}');
    }
    const inside = Buffer.concat([text, BOM]);
    expect(utf8Text(inside)).toBe(new TextDecoder().decode(inside));
    expect(utf8Text(inside).endsWith('\ufeff')).toBe(true);
  });
});
