/** A mistake in how the command was called (unknown option, malformed date, …): printed with the usage, exit code 2. */
export class UsageError extends Error {}
