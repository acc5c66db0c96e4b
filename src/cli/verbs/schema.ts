import { toJsonSchema } from '../../spec/index.js';
import type { Command } from '../command.js';

export const command: Command = {
  name: 'schema',
  summary: 'Print the JSON Schema of cairn.yaml, for editors.',
  usage: 'cairn schema > cairn.schema.json',
  description: `Point your editor's YAML language server at it, for example with a first line
# yaml-language-server: $schema=./cairn.schema.json`,
  options: {},
  run(ctx) {
    ctx.stdout(`${JSON.stringify(toJsonSchema(), null, 2)}\n`);
    return 0;
  },
};
