import { rolloutCommand } from '../rollout-command.js';

export const command = rolloutCommand(
  'pause',
  'Hold the rollout in progress where it is (weights and instances stay).',
);
