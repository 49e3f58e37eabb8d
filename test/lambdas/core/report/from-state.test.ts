import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { failureOf, lineageOf, timelineFromState } from '../../../../lambdas/core/report/from-state';
import { failedGateState } from '../../../support/report-fixture';

describe('report parts from the run state', () => {
  it('draws the lineage as far as a run that failed its gate got', () => {
    // Prepare
    const state = failedGateState();

    // Act
    const lineage = lineageOf(state);

    // Assess
    const reached = (id: string) => lineage.nodes.find((n) => n.id === id)?.reached;
    assert.equal(reached('source:orders'), true);
    assert.equal(reached('file:landing/catalog/products-<b>new</b>.jsonl'), true);
    assert.equal(reached('raw:order_items'), true);
    assert.equal(reached('staged:orders'), true);
    assert.equal(reached('curated:fact_order'), false, 'the gate stopped the run before curated/');
    assert.equal(reached('warehouse:fact_order'), false);
    assert.equal(lineage.nodes.find((n) => n.id === 'staged:orders')?.detail, '240 rows, 40 quarantined');
    assert.equal(lineage.nodes.find((n) => n.id === 'raw:products')?.detail, '201 rows, 1 unparseable');
    const into = (id: string) => lineage.edges.filter((e) => e.to === id).map((e) => e.from);
    assert.deepEqual(into('raw:products'), [
      'file:catalog/products.parquet',
      'file:landing/catalog/products-<b>new</b>.jsonl',
    ]);
    assert.deepEqual(into('staged:order_items'), ['raw:order_items', 'raw:products']);
    assert.deepEqual(into('curated:fact_order'), ['staged:orders', 'staged:order_items']);
    assert.deepEqual(into('warehouse:agg_daily_sales'), ['curated:agg_daily_sales']);
  });

  it('lists the steps the state holds a result of, the failed gate and no times', () => {
    // Act
    const timeline = timelineFromState(failedGateState());

    // Assess
    assert.equal(timeline.source, 'state');
    assert.deepEqual(
      timeline.steps.map((s) => `${s.state}:${s.status}`),
      [
        'ResolveRun:succeeded',
        'ExtractOrders:succeeded',
        'ExtractProducts:succeeded',
        'Transform:succeeded',
        'Validate:succeeded',
        'QualityGate:failed',
        'NotifyFailure:succeeded',
      ],
    );
    assert.ok(timeline.steps.every((s) => s.startedAt === undefined && s.ms === undefined));
  });

  it('tells why a run failed: a Lambda error’s message, else the gate’s reason', () => {
    // Prepare
    const gate = failedGateState();
    const lambda = {
      ...gate,
      error: { Error: 'TransientError', Cause: JSON.stringify({ errorMessage: 'Cannot connect <db>' }) },
    };

    // Act + Assess
    assert.match(failureOf(gate) ?? '', /^quality gate: orders: 16.67% quarantined/);
    assert.equal(failureOf(lambda), 'TransientError: Cannot connect <db>');
    assert.equal(failureOf({ run: gate.run }), undefined);
  });
});
