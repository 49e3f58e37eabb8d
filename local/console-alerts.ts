import { appendFile } from 'node:fs/promises';
import type { Alerts } from '../lambdas/adapters/ports';

/** The local stand-in for the SNS topic: every alert is kept in memory and appended to a log file. */
export class FileAlerts implements Alerts {
  readonly published: { subject: string; message: string; at: string }[] = [];

  constructor(private readonly file: string) {}

  async publish(subject: string, message: string): Promise<void> {
    const alert = { subject, message, at: new Date().toISOString() };
    this.published.push(alert);
    await appendFile(this.file, `${JSON.stringify(alert)}\n`);
  }
}
