#!/usr/bin/env node
// The `mmscope` command: runs the compiled CLI (npm ci builds it through the prepare script).
'use strict';
const { runCli } = require('../out/debug-adapter/src/cli/main.js');
runCli(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
