#!/usr/bin/env node
import { Command } from 'commander';
import { VERSION } from '../core/version.js';

const program = new Command('intercept')
  .description('NFQUEUE interceptor: takes the test server\'s responses, drops them, forwards their headers to tcpcopy')
  .version(VERSION, '-v, --version', 'print the version and exit')
  .helpOption('-h, --help', 'show this help');

program.action(() => {
  process.stderr.write('intercept: the interceptor daemon is not yet available in this build\n');
  process.exitCode = 1;
});

program.parse();
