/** The command-line interface: one file per verb in verbs/, errors mapped to exit codes here only. */
export { type Command, type CommandContext, renderHelp } from './command.js';
export { EXIT_CHANGES, EXIT_DENIED, EXIT_ERROR, EXIT_OK } from './errors.js';
export { type Io, loadCommand, main, verbNames } from './main.js';
