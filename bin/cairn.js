#!/usr/bin/env node
// The cairn executable: runs the compiled CLI from dist/ (built by `npm ci` through `prepare`).
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
