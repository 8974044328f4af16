#!/usr/bin/env node
// `npm start`: bundles the platform from its sources (scripts/bundle.mjs,
// about a second) and runs the bundle in this process. The bundle has a
// source map beside it; it is not loaded by default (~10 MiB resident):
// `NODE_OPTIONS=--enable-source-maps npm start` makes stack traces name the
// TypeScript files.
import { pathToFileURL } from 'node:url';
import { bundlePlatform } from './bundle.mjs';

await import(pathToFileURL(await bundlePlatform()).href);
