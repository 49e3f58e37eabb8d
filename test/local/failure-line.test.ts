import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { failedStateOf, failureLines, nextAfterBatch, nextAfterRefresh } from '../../local/failure-line';
import { stepError } from '../../lambdas/steps';

describe('stepError', () => {
  it("takes a Lambda step's error from the runtime's JSON cause, as Step Functions records it", () => {
    // Prepare
    const cause = JSON.stringify({
      errorType: 'CopyMismatchError',
      errorMessage: 'fact_order: the file has 12 columns, the table 13',
      trace: ['CopyMismatchError: …', '    at load (/var/task/index.mjs:1:2)'],
    });

    // Act
    const error = stepError('CopyMismatchError', cause);

    // Assess
    assert.deepEqual(error, {
      name: 'CopyMismatchError',
      message: 'fact_order: the file has 12 columns, the table 13',
    });
  });

  it('keeps a cause that is not the JSON (a Fail state, the local runner) as the message', () => {
    // Act / Assess
    assert.deepEqual(stepError('QualityGateError', 'orders: 6 of 10 rows quarantined'), {
      name: 'QualityGateError',
      message: 'orders: 6 of 10 rows quarantined',
    });
    assert.deepEqual(stepError('States.Timeout', null), { name: 'States.Timeout', message: '' });
  });
});

describe('the failure lines', () => {
  it('name the step that failed first, a caught one too, else where the execution stopped', () => {
    // Act / Assess
    assert.equal(
      failedStateOf({
        steps: [
          { state: 'PrepareWarehouse', status: 'ok' },
          { state: 'RefreshCatalog', status: 'caught' },
          { state: 'CleanupCatalog', status: 'ok' },
        ],
        stop: { state: 'CatalogRefreshFailed' },
      }),
      'RefreshCatalog',
    );
    assert.equal(failedStateOf({ steps: [], stop: { state: 'QualityGateFailed' } }), 'QualityGateFailed');
  });

  it("give the step's error, then the next command: a new run after a gate, else a retry", () => {
    // Prepare
    const gate = { name: 'QualityGateError', message: 'orders: 6 of 10 rows quarantined' };
    const crash = { name: 'WarehouseError', message: 'connection refused' };

    // Act
    const afterGate = failureLines(gate, 'QualityGateFailed', nextAfterBatch(gate, '2026-03-01', 'r-1'));
    const afterCrash = failureLines(
      crash,
      'LoadTable',
      nextAfterBatch(crash, '2026-03-01', 'r-2'),
      'TIMED_OUT',
    );

    // Assess
    assert.equal(
      afterGate,
      'FAILED at QualityGateFailed: QualityGateError: orders: 6 of 10 rows quarantined\n' +
        'next: correct the source data of 2026-03-01 (cartflow report r-1 shows the failed checks and their rows), then: cartflow run --date 2026-03-01\n',
    );
    assert.equal(
      afterCrash,
      'TIMED_OUT at LoadTable: WarehouseError: connection refused\nnext: cartflow retry r-2\n',
    );
  });

  it('send a refused catalog file back through drop once corrected', () => {
    // Act / Assess
    assert.equal(
      nextAfterRefresh({ name: 'QualityGateError', message: '…' }, ['landing/catalog/x.json']),
      'correct x.json (set aside under rejected/catalog/ with its quality report), then: cartflow drop <corrected file>',
    );
    assert.match(
      nextAfterRefresh({ name: 'WarehouseError', message: '…' }, ['a.json']),
      /cartflow drop <file>/,
    );
  });
});
