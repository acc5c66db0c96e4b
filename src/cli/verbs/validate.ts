import { formatDiagnostic } from '../../lib/index.js';
import { checkSpecFile, findSpecFile } from '../../spec/index.js';
import { type Command, FILE_OPTION, OUTPUT_OPTION } from '../command.js';
import { EXIT_ERROR, EXIT_OK } from '../errors.js';

export const command: Command = {
  name: 'validate',
  summary: 'Check cairn.yaml and report every problem with file:line:column.',
  usage: 'cairn validate [-f FILE] [--output json]',
  description: `Reads the spec, checks its YAML, schema and references (routes to services, after: between
environments, files it names) and prints every problem at once. Exit 0 when valid, 1 when not.`,
  options: { file: FILE_OPTION, output: OUTPUT_OPTION },
  run(ctx) {
    const file = findSpecFile(ctx.options.file as string | undefined, ctx.cwd);
    const checked = checkSpecFile(file);
    const valid = checked.spec !== undefined;
    if (ctx.output === 'json') {
      const diagnostics = checked.diagnostics.map(({ severity, message, file, line, column }) => ({
        severity,
        message,
        file,
        line,
        column,
      }));
      ctx.stdout(`${JSON.stringify({ valid, diagnostics }, null, 2)}\n`);
    } else {
      for (const d of checked.diagnostics) ctx.stderr(`${formatDiagnostic(d)}\n`);
      const errors = checked.diagnostics.filter((d) => d.severity === 'error').length;
      if (valid)
        ctx.stdout(
          `${file}: valid (${Object.keys(checked.spec!.services).length} service(s), ${Object.keys(checked.spec!.environments).length} environment(s))\n`,
        );
      else ctx.stderr(`${file}: ${errors} error(s)\n`);
    }
    return valid ? EXIT_OK : EXIT_ERROR;
  },
};
