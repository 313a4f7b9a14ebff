// Bytes received as UTF-8 text, as TextDecoder would give them (a leading byte-order mark dropped): request bodies read
// from Node's buffer (src/http/body.ts) and upstream answers read whole (src/providers/http.ts).

/** The text of one buffer or of several received in order, without a leading BOM. */
export function utf8Text(bytes: Buffer | readonly Buffer[]): string {
  const text = Buffer.isBuffer(bytes) ? bytes.toString('utf8') : bytes.length === 1 ? bytes[0].toString('utf8') : Buffer.concat(bytes).toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
