#!/usr/bin/env -S node --openssl-legacy-provider --import tsx
import { main } from '../local/cli';

// The laptop edition runs on Node 20; the deployed Lambdas run Node 22, so the SDK's notice does not apply.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

process.exitCode = await main(process.argv.slice(2));
