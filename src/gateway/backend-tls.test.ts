import { describe, expect, it } from 'vitest';
import { checkSpiffeId } from './backend-tls.js';

const ID = 'spiffe://shop.cairn/dev/orders';

describe('the SPIFFE ID check of a TLS backend', () => {
  it('accepts exactly the SVID of the pool’s service', () => {
    expect(checkSpiffeId({ subjectaltname: `URI:${ID}` }, ID)).toBeUndefined();
  });

  it.each([
    ['another service', 'URI:spiffe://shop.cairn/dev/web'],
    ['another environment', 'URI:spiffe://shop.cairn/prod/orders'],
    ['a prefix of the ID', 'URI:spiffe://shop.cairn/dev/orders/x'],
    ['a second name beside it', `URI:${ID}, IP Address:127.0.0.1`],
    ['a DNS name only', 'DNS:orders'],
    ['no names at all', undefined],
  ])('refuses %s', (_what, names) => {
    const refusal = checkSpiffeId({ subjectaltname: names as string }, ID);
    expect(refusal?.message).toMatch(
      /^backend certificate names .*, not spiffe:\/\/shop\.cairn\/dev\/orders$/,
    );
  });
});
