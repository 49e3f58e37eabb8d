import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { withRejected } from '../core/catalog-snapshot';
import type { CheckResult, PipelineState, TableToLoad, ValidationResult } from '../core/contracts';
import { buildOrderFacts, toDimProduct } from '../core/facts';
import { layout } from '../core/layout';
import type { OrderCandidate, OrderItemCandidate, ProductCandidate } from '../core/model';
import {
  evaluateDataset,
  ordersWithAllItemsQuarantined,
  reconcileOrderTotals,
} from '../core/quality/evaluate';
import { decideGate } from '../core/quality/gate';
import { TABLES } from '../core/tables';
import { adapters } from '../adapters/context';
import { readParquet, writeJson } from '../adapters/lake-tables';
import { logger, metrics } from '../adapters/observability';
import { evaluateProducts, pipelineRules, writeCurated, writeQuarantine } from '../adapters/publish';

/**
 * The declarative quality rules over staged/: bad rows to quarantine/ with their reasons, a JSON
 * report to quality/, and — only when the gate passes — the curated tables built from the good rows.
 */
export const handler = async (state: PipelineState): Promise<ValidationResult> => {
  const { run } = state;
  const { businessDate } = run;
  const { lake } = adapters();
  const [products, orders, items] = await Promise.all([
    readParquet<ProductCandidate>(lake, TABLES.products, layout.staged('products', businessDate)),
    readParquet<OrderCandidate>(lake, TABLES.staged_orders, layout.staged('orders', businessDate)),
    readParquet<OrderItemCandidate>(
      lake,
      TABLES.staged_order_items,
      layout.staged('order_items', businessDate),
    ),
  ]);
  const rules = pipelineRules();
  const now = new Date();

  const productResult = evaluateProducts(products, rules, businessDate, now);
  const catalog = new Set(productResult.valid.map((p) => p.product_id!));
  const orderResult = evaluateDataset(orders, rules.orders, { businessDate, catalog, now });
  const validOrderIds = new Set(orderResult.valid.map((o) => o.order_id!));
  const itemResult = evaluateDataset(items, rules.order_items, { businessDate, catalog, validOrderIds, now });

  const rejectedProducts = (state.extract ?? []).flat().find((e) => e.dataset === 'products')?.rejected ?? 0;
  const datasets = [
    withRejected(productResult.quality, rejectedProducts),
    orderResult.quality,
    itemResult.quality,
  ];
  const checks: CheckResult[] = [
    ...productResult.checks,
    ...orderResult.checks,
    ...itemResult.checks,
    reconcileOrderTotals(orderResult.valid, items),
    ordersWithAllItemsQuarantined(orderResult.valid, items, itemResult.valid),
  ];
  const gate = decideGate(datasets, checks);

  await Promise.all([
    writeQuarantine(lake, run, 'products', productResult.quarantined),
    writeQuarantine(lake, run, 'orders', orderResult.quarantined),
    writeQuarantine(lake, run, 'order_items', itemResult.quarantined),
  ]);
  const reportKey = layout.qualityReport(businessDate, run.runId);
  await writeJson(lake, reportKey, { run, gate, datasets, checks });

  let tables: TableToLoad[] = [];
  if (gate.passed) {
    const facts = buildOrderFacts(orderResult.valid, itemResult.valid, businessDate);
    tables = await Promise.all([
      writeCurated(lake, 'dim_product', businessDate, toDimProduct(productResult.valid)),
      writeCurated(lake, 'fact_order', businessDate, facts.factOrder),
      writeCurated(lake, 'fact_order_item', businessDate, facts.factOrderItem),
      writeCurated(lake, 'agg_daily_sales', businessDate, facts.aggDailySales),
    ]);
  }

  for (const dataset of datasets) {
    const metric = metrics.singleMetric();
    metric.addDimension('dataset', dataset.dataset);
    metric.addMetric('QuarantinedRows', MetricUnit.Count, dataset.rowsQuarantined);
  }
  metrics.addMetric('QualityGateFailed', MetricUnit.Count, gate.passed ? 0 : 1);
  metrics.publishStoredMetrics();
  logger.info('validated', { passed: gate.passed, reason: gate.failureReason });
  return { passed: gate.passed, failureReason: gate.failureReason, reportKey, datasets, checks, tables };
};
