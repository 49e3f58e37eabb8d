import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lambdaUsd, redshiftUsd, usdPerMillion } from '../../../bench/support/cost';
import { PRICES } from '../../../lib/cost-estimate';

describe('bench cost', () => {
  it('prices Lambda GB-seconds at the function architecture', () => {
    // Prepare: 100 s at 4 GB on x86_64 and the same on arm64
    const x86 = { seconds: 100, memoryMb: 4096, architecture: 'x86_64' as const };
    const arm = { ...x86, architecture: 'arm64' as const };
    // Act
    const usd = lambdaUsd([x86, arm]);
    // Assess: 400 GB-s at each price
    assert.equal(usd, 400 * PRICES.lambdaGbSecondX86 + 400 * PRICES.lambdaGbSecondArm);
  });

  it('prices Redshift RPU-seconds with the 60-second minimum', () => {
    assert.equal(redshiftUsd(10, 32), ((60 * 32) / 3600) * PRICES.redshiftRpuHour);
    assert.equal(redshiftUsd(120, 8), ((120 * 8) / 3600) * PRICES.redshiftRpuHour);
  });

  it('gives the cost per million units, 0 for no units', () => {
    assert.equal(usdPerMillion(0.5, 250_000), 2);
    assert.equal(usdPerMillion(1, 0), 0);
  });
});
