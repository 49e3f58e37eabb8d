#!/usr/bin/env -S node --openssl-legacy-provider --import tsx
import { main } from '../cli/cli';

process.exitCode = await main(process.argv.slice(2));
