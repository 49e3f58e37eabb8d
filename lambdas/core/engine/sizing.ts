/**
 * How the engine is sized in a function, apart from DuckDB itself so that lib/ (config validation, the
 * capacity figures) reads it without loading the native binding.
 */

/**
 * The share of the function's memory DuckDB's memory_limit takes. The rest is what the process holds
 * outside the limit, and Lambda caps the whole process: Node and the binding (about 150 MB), streamed
 * S3 transfers (small), and DuckDB's allocations outside its buffer manager with the allocator's slack,
 * which grow with the day. bench:scale, each step in a child held to the function's memory, measured
 * 190–310 MB outside the limit at 5M order lines and 1,232 MB at 20M (Validate in prod's 4,096 MB
 * function: peak RSS 3,689 MB, 407 MB to spare); lib/engine-capacity.ts turns those figures into the
 * largest day a function takes and lib/config.ts keeps volume.bucketThresholdLines below it.
 */
const ENGINE_MEMORY_SHARE = 0.6;
const MB_PER_VCPU = 1769;

/** DuckDB's memory_limit in a function of `functionMemoryMb`: what the rest of the process needs is left free. */
export const engineMemoryLimitMb = (functionMemoryMb: number): number =>
  Math.max(64, Math.floor(functionMemoryMb * ENGINE_MEMORY_SHARE));

/** The engine's worker threads in a function of `functionMemoryMb`: its vCPUs, 1 to 6. */
export const engineThreads = (functionMemoryMb: number): number =>
  Math.max(1, Math.min(6, Math.floor(functionMemoryMb / MB_PER_VCPU)));
