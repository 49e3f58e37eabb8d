/**
 * The local runtime's adapters without the state machines: s3rver for the lake, PGlite for the source
 * and the warehouse, bound for the handlers by local/runtime.ts's startLocalServices. The benchmark calls
 * the handlers itself, so it does not need startLocalRuntime's CDK synthesis of the definitions (which
 * also keeps it runnable while lib/ is being edited).
 */
import { startLocalServices, type LocalServices } from '../../local/runtime';

export type BenchRuntime = LocalServices;

export const startBenchRuntime = (dataDir: string): Promise<BenchRuntime> => startLocalServices({ dataDir });
