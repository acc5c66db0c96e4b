import { describe, expect, it } from 'vitest';
import { loadCommand, verbNames } from './main.js';
import { VERB_SUMMARIES } from './verb-list.js';

describe('the verb list of cairn --help', () => {
  it('names every verb in verbs/ with the summary its module gives', async () => {
    const listed = VERB_SUMMARIES.map(([verb]) => verb);
    expect(listed).toEqual(verbNames());
    for (const [verb, summary] of VERB_SUMMARIES) {
      const command = await loadCommand(verb);
      expect(command?.summary, `summary of ${verb}`).toBe(summary);
    }
  });
});
