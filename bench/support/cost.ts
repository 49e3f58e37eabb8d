/**
 * What a benchmark's work would cost on AWS, from its measured step times and the function sizes in the
 * config, at the list prices lib/cost-estimate.ts uses (the README's cost table reads the same figures):
 * Lambda GB-seconds at the function's architecture, Redshift Serverless RPU-seconds for a load.
 */
import { PRICES } from '../../lib/cost-estimate';

/** The architecture the DuckDB functions deploy on: the DuckDB layer carries the binding installed here. */
export const ENGINE_ARCHITECTURE: 'x86_64' | 'arm64' = process.arch === 'arm64' ? 'arm64' : 'x86_64';

/** One function invocation's billed duration. */
export interface LambdaWork {
  seconds: number;
  memoryMb: number;
  architecture: 'x86_64' | 'arm64';
}

/** Lambda duration cost of the invocations (requests, $0.20 per million, are negligible here). */
export function lambdaUsd(work: readonly LambdaWork[]): number {
  return work.reduce(
    (sum, w) =>
      sum +
      w.seconds *
        (w.memoryMb / 1024) *
        (w.architecture === 'arm64' ? PRICES.lambdaGbSecondArm : PRICES.lambdaGbSecondX86),
    0,
  );
}

/** Redshift Serverless for a load of `seconds` at `rpu` base capacity, billed per second, 60 s minimum. */
export function redshiftUsd(seconds: number, rpu: number): number {
  return ((Math.max(60, seconds) * rpu) / 3600) * PRICES.redshiftRpuHour;
}

/** USD per million units (order lines, events, rows), to six decimals. */
export function usdPerMillion(usd: number, units: number): number {
  return units === 0 ? 0 : Number(((usd / units) * 1e6).toFixed(6));
}

/** The cost line every bench prints: the total and per million units, with what it counted. */
export function costLine(usd: number, units: number, unit: string, what: string): string {
  return (
    `estimated AWS cost: $${usd.toFixed(6)} for ${units.toLocaleString('en-US')} ${unit} = ` +
    `$${usdPerMillion(usd, units).toFixed(4)} per million ${unit} (${what}; us-east-1 list prices, lib/cost-estimate.ts)`
  );
}
