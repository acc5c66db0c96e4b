import { rolloutCommand } from '../rollout-command.js';

export const command = rolloutCommand(
  'resume',
  'Continue a paused rollout (and pass an indefinite pause step).',
);
