// Placeholder until the handler lands; keeps synth working.
export const handler = async (event: unknown): Promise<unknown> => event;
