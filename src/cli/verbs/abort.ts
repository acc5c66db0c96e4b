import { rolloutCommand } from '../rollout-command.js';

export const command = rolloutCommand(
  'abort',
  'Stop the rollout in progress and send all traffic back to the old release.',
);
