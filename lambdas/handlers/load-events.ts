// Placeholder until the events load lands; keeps synth working.
export const handler = async (event: unknown): Promise<unknown> => event;
