import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lagOf } from '../../../local/kafka/lag';

describe('the local consumer lag', () => {
  it("per partition: the high watermark less the group's committed offset", () => {
    // Prepare: kafkajs fetchTopicOffsets and fetchOffsets as they answer (offsets are strings)
    const topic = [
      { partition: 1, high: '120', low: '0', offset: '120' },
      { partition: 0, high: '100', low: '0', offset: '100' },
      { partition: 2, high: '50', low: '10', offset: '50' },
    ];
    const group = [
      { partition: 0, offset: '100' },
      { partition: 1, offset: '95' },
      { partition: 2, offset: '-1' },
    ];

    // Act
    const lag = lagOf(topic, group);

    // Assess: caught up, 25 behind, never committed (counted from the oldest record kept)
    assert.deepEqual(lag, [
      { partition: 0, committed: '100', end: '100', lag: 0 },
      { partition: 1, committed: '95', end: '120', lag: 25 },
      { partition: 2, committed: null, end: '50', lag: 40 },
    ]);
  });
});
