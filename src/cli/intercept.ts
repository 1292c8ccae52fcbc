#!/usr/bin/env -S node --max-semi-space-size=1
import { interceptMain } from './intercept-main.js';

await interceptMain(process.argv);
