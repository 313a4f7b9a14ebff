// Ids in OpenAI's Responses format (`resp_…`, `msg_…`, `fc_…`, `rs_…`): prefix plus 48 random hex digits.
import { randomBytes } from 'node:crypto';

export type ItemIdPrefix = 'resp' | 'msg' | 'fc' | 'rs';

export function newId(prefix: ItemIdPrefix): string {
  return `${prefix}_${randomBytes(24).toString('hex')}`;
}

export function newResponseId(): string {
  return newId('resp');
}

/** A well-formed response id (what GET/DELETE /v1/responses/:id and previous_response_id may carry). */
export function isResponseId(s: string): boolean {
  return /^resp_[A-Za-z0-9]{1,128}$/.test(s);
}
