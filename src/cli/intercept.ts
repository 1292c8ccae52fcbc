#!/usr/bin/env node
import { interceptMain } from './intercept-main.js';

await interceptMain(process.argv);
