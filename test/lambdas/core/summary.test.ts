import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EXAMPLE_MAX_CHARS, formatRunSummary, trimExample } from '../../../lambdas/core/summary';

describe('formatRunSummary', () => {
  it('renders the run line, the loaded tables and the quality per dataset as aligned columns', () => {
    // Prepare
    const input = {
      runId: 'run-1',
      businessDate: '2024-01-15',
      status: 'SUCCEEDED' as const,
      tables: [
        { table: 'dim_product', rows: 200 },
        { table: 'fact_order_item', rows: 1_234_567 },
      ],
      datasets: [
        {
          dataset: 'orders' as const,
          rowsIn: 1000,
          rowsValid: 990,
          rowsQuarantined: 10,
          quarantineShare: 0.01,
          threshold: 0.05,
          passed: true,
        },
      ],
      wallMs: 2345,
    };

    // Act
    const text = formatRunSummary(input);

    // Assess
    assert.equal(
      text,
      [
        'cartflow run run-1 for 2024-01-15: SUCCEEDED in 2.3 s',
        '',
        'table                 rows',
        'dim_product            200',
        'fact_order_item  1,234,567',
        '',
        'dataset  rows in  valid  quarantined  share  threshold  gate',
        'orders     1,000    990           10  1.00%      5.00%    ok',
      ].join('\n'),
    );
  });

  it('shows the failure reason and a failing dataset', () => {
    // Prepare
    const input = {
      runId: 'run-2',
      businessDate: '2024-01-15',
      status: 'FAILED' as const,
      tables: [],
      datasets: [
        {
          dataset: 'order_items' as const,
          rowsIn: 10,
          rowsValid: 8,
          rowsQuarantined: 2,
          quarantineShare: 0.2,
          threshold: 0.05,
          passed: false,
        },
      ],
      wallMs: 900,
      failureReason: 'order_items: 2 of 10 rows quarantined',
    };

    // Act
    const lines = formatRunSummary(input).split('\n');

    // Assess
    assert.equal(lines[0], 'cartflow run run-2 for 2024-01-15: FAILED in 0.9 s');
    assert.equal(lines[1], 'reason: order_items: 2 of 10 rows quarantined');
    assert.ok(!lines.includes('table  rows'));
    assert.match(String(lines.at(-1)), /^order_items\s+10\s+8\s+2\s+20\.00%\s+5\.00%\s+FAIL$/);
  });
});

describe('failed checks in the summary', () => {
  it('lists checks with failing rows, quarantining ones first, each with a one-line trimmed example', () => {
    // Prepare
    const check = { column: 'currency', passed: false, failedRows: 3 };
    const input = {
      runId: 'run-3',
      businessDate: '2024-01-15',
      status: 'SUCCEEDED' as const,
      tables: [],
      datasets: [],
      wallMs: 1000,
      checks: [
        { ...check, dataset: 'orders' as const, check: 'total sane', severity: 'report' as const },
        {
          ...check,
          dataset: 'orders' as const,
          check: 'passing',
          failedRows: 0,
          severity: 'quarantine' as const,
        },
        {
          ...check,
          dataset: 'orders' as const,
          check: 'currency accepted',
          severity: 'quarantine' as const,
          example: `{"note":"line one\nline two","pad":"${'x'.repeat(EXAMPLE_MAX_CHARS)}"}`,
        },
      ],
    };

    // Act
    const lines = formatRunSummary(input).split('\n');

    // Assess
    const at = lines.indexOf('failed checks (2):');
    assert.ok(at > 0, lines.join('\n'));
    assert.equal(lines[at + 1], '  orders: currency accepted (currency): 3 rows [quarantine]');
    assert.match(
      lines[at + 2],
      /^ {4}e\.g\. \{"note":"line one line two","pad":"x+… \(\d+ more characters\)$/,
    );
    assert.equal(lines[at + 3], '  orders: total sane (currency): 3 rows [report]');
    assert.ok(!lines.some((l) => l.includes('passing')));
  });

  it('trimExample keeps a short example whole', () => {
    // Act + Assess
    assert.equal(trimExample('{"a":1}'), '{"a":1}');
    assert.equal(trimExample('abcdef', 3), 'abc… (3 more characters)');
  });
});
