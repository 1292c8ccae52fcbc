#!/usr/bin/env node
import { Command } from 'commander';
import { VERSION } from '../core/version.js';

const program = new Command('tcpcopy')
  .description('TCP traffic copier: replays live or captured client traffic onto a test server')
  .version(VERSION, '-v, --version', 'print the version and exit')
  .helpOption('-h, --help', 'show this help');

program.action(() => {
  process.stderr.write('tcpcopy: replay is not yet available in this build\n');
  process.exitCode = 1;
});

program.parse();
