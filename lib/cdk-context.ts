import { readFileSync } from 'node:fs';

/**
 * The `context` block of cdk.json (feature flags). The CLI passes it to `bin/cdk-app.ts`;
 * tests and the local synth pass it themselves, so every synthesis sees the same flags.
 */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(new URL('../cdk.json', import.meta.url), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  return cdkJson.context ?? {};
}
