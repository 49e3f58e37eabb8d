/** A bad call of the command line (unknown option, malformed date, …): exit code 2 with the message, no stack. */
export class UsageError extends Error {}
