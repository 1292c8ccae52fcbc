#!/usr/bin/env -S node --max-semi-space-size=4
import { interceptMain } from './intercept-main.js';

await interceptMain(process.argv);
