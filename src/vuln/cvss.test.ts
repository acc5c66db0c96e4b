import { describe, expect, it } from 'vitest';
import { cvss3Score, ratingOf } from './cvss.js';

describe('cvss3Score', () => {
  it.each([
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 9.8, 'critical'],
    ['CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H', 7.2, 'high'],
    ['CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N', 1.8, 'low'],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H', 10, 'critical'],
    ['CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N', 6.4, 'medium'],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N', 0, 'none'],
  ])('%s scores %s (%s)', (vector, score, rating) => {
    expect(cvss3Score(vector)).toBe(score);
    expect(ratingOf(score as number)).toBe(rating);
  });

  it('refuses what is not a complete v3 vector', () => {
    expect(cvss3Score('CVSS:2.0/AV:N')).toBeUndefined();
    expect(cvss3Score('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H')).toBeUndefined();
    expect(cvss3Score('AV:N/AC:L/Au:N/C:P/I:P/A:P')).toBeUndefined();
  });
});
