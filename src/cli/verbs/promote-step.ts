import { rolloutCommand } from '../rollout-command.js';

export const command = rolloutCommand(
  'promote-step',
  'Finish the current canary step now (skip its pause or analysis).',
);
