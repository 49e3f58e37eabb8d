"""The PySpark reference for bench/batch.ts: the batch steps' work done by Spark in local mode on the same
raw Parquet files, mirroring bench/support/duckdb-reference.ts query for query -- conform + catalog join in
input order (transform), the default quality rules with every reason per row, the quarantine as JSON lines
and the curated tables as Parquet (validate).

    python3 bench/support/pyspark_reference.py --orders DIR --order-items DIR --products DIR --out DIR \
        --date 2026-03-01 --currencies USD,EUR --statuses placed,paid [--threads 2] [--driver-memory 2g]

Prints one JSON object on stdout: the session start and the timed stages in seconds, the quarantine count
per dataset, the report-only checks and the curated totals (as totalsSql in duckdb-reference.ts computes
them).
"""

import argparse
import json
import os
import time
from datetime import date, timedelta
from decimal import Decimal

from pyspark.sql import DataFrame, SparkSession

DATASETS = ("products", "orders", "order_items")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", required=True, help="directory of the raw orders Parquet parts")
    parser.add_argument("--order-items", required=True, help="directory of the raw order_items parts")
    parser.add_argument("--products", required=True, help="directory of the raw products parts")
    parser.add_argument("--out", required=True, help="where staged/, curated/ and quarantine/ are written")
    parser.add_argument("--date", required=True, help="business date, YYYY-MM-DD")
    parser.add_argument("--currencies", required=True, help="accepted currencies, comma-separated")
    parser.add_argument("--statuses", required=True, help="accepted order statuses, comma-separated")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--driver-memory", default="2g")
    return parser.parse_args()


def start_session(threads: int, driver_memory: str, local_dir: str) -> SparkSession:
    """A local session on the loopback only, no UI, shuffles sized for a few cores, times in UTC."""
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    os.environ["SPARK_LOCAL_DIRS"] = local_dir
    spark = (
        SparkSession.builder.master(f"local[{threads}]")
        .appName("cartflow-bench-reference")
        .config("spark.driver.memory", driver_memory)
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", str(threads * 2))
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def with_position(frame: DataFrame) -> DataFrame:
    """Adds each row's place in its input files: (file_name, row_index) orders rows as they were read."""
    return frame.select("*", "_metadata.file_name", "_metadata.row_index")


def sql_list(values: list[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def reasons(cases: list[str]) -> str:
    """The reasons of the rules that fail, like evaluateDataset's per-row reasons."""
    whens = ",\n      ".join(f"CASE WHEN {c}" for c in cases)
    return f"filter(array({whens}), x -> x IS NOT NULL)"


def too_long(limits: dict[str, int]) -> list[str]:
    """VARCHAR(n) counts bytes: one reason per column whose value is longer."""
    return [
        f"octet_length({column}) > {size} THEN '{column} longer than {size} bytes' END"
        for column, size in limits.items()
    ]


def transform(spark: SparkSession, args: argparse.Namespace) -> None:
    """raw -> staged: trimmed/cased orders, items enriched with their product's category.

    Spark keeps no row order of its own: each staged file is written sorted by input position (one range
    partition per file, named in order), which DuckDB's insertion order gives for free, so that validate
    keeps the same first copy of a duplicate."""
    orders = with_position(spark.read.parquet(args.orders))
    items = with_position(spark.read.parquet(args.order_items))
    products = with_position(spark.read.parquet(args.products))
    staged = os.path.join(args.out, "staged")
    spark.sql(
        """SELECT NULLIF(trim(order_id), '') AS order_id, NULLIF(trim(customer_id), '') AS customer_id,
                  order_ts, lower(NULLIF(trim(status), '')) AS status,
                  upper(NULLIF(trim(currency), '')) AS currency, total_amount, updated_at
           FROM {orders} ORDER BY file_name, row_index""",
        orders=orders,
    ).write.parquet(os.path.join(staged, "orders"))
    spark.sql(
        """WITH catalog AS (
             SELECT product_id, any_value(category) AS category FROM {products}
             WHERE product_id IS NOT NULL AND category IS NOT NULL GROUP BY product_id
           ), trimmed AS (
             SELECT NULLIF(trim(order_id), '') AS order_id, line_no,
                    NULLIF(trim(product_id), '') AS product_id, quantity, unit_price, file_name, row_index
             FROM {items}
           )
           SELECT t.order_id, t.line_no, t.product_id, t.quantity, t.unit_price, catalog.category
           FROM trimmed t LEFT JOIN catalog ON t.product_id = catalog.product_id
           ORDER BY t.file_name, t.row_index""",
        products=products,
        items=items,
    ).write.parquet(os.path.join(staged, "order_items"))
    spark.sql(
        """SELECT product_id, name, category, price, currency, updated_at
           FROM {products} ORDER BY file_name, row_index""",
        products=products,
    ).write.parquet(os.path.join(staged, "products"))


def validate(spark: SparkSession, args: argparse.Namespace) -> dict:
    """staged -> the main quality rules (rules.ts defaults) -> quarantine (JSON with reasons) and the curated
    tables as Parquet: dim_product, fact_order (item_count), fact_order_item (line_amount), agg_daily_sales.
    Returns the quarantine count per dataset and the report-only checks."""
    day = date.fromisoformat(args.date)
    start, end = (f"TIMESTAMP_NTZ '{d.isoformat()} 00:00:00'" for d in (day, day + timedelta(days=1)))
    currencies = sql_list(args.currencies.split(","))
    statuses = sql_list(args.statuses.split(","))

    def staged(dataset: str) -> DataFrame:
        return with_position(spark.read.parquet(os.path.join(args.out, "staged", dataset)))

    product_reasons = reasons(
        [
            "product_id IS NULL THEN 'product_id is null' END",
            "product_id IS NOT NULL AND copy > 1 THEN 'duplicate product_id' END",
            "price IS NULL OR price < 0 THEN 'price' END",
            "name IS NULL THEN 'name is null' END",
            "category IS NULL THEN 'category is null' END",
            "currency IS NULL THEN 'currency is null' END",
            "updated_at IS NULL THEN 'updated_at is null' END",
            *too_long({"product_id": 128, "name": 1024, "category": 256, "currency": 3}),
        ]
    )
    order_reasons = reasons(
        [
            "order_id IS NULL THEN 'order_id is null' END",
            "order_id IS NOT NULL AND copy > 1 THEN 'duplicate order_id ' || order_id END",
            "customer_id IS NULL THEN 'customer_id is null' END",
            "total_amount IS NULL OR total_amount < 0 OR total_amount > 1000000"
            " THEN 'total_amount out of range' END",
            f"currency IS NULL OR currency NOT IN ({currencies}) THEN 'currency not accepted' END",
            f"status IS NULL OR status NOT IN ({statuses}) THEN 'status not accepted' END",
            f"order_ts IS NULL OR order_ts < {start} OR order_ts >= {end}"
            " THEN 'order_ts outside the date' END",
            *too_long({"order_id": 128, "customer_id": 128, "status": 32, "currency": 3}),
        ]
    )
    item_reasons = reasons(
        [
            "quantity IS NULL OR quantity < 1 THEN 'quantity not positive' END",
            "unit_price IS NULL OR unit_price < 0 THEN 'unit_price negative' END",
            "NOT known_product THEN 'product_id not in catalog' END",
            "NOT valid_parent THEN 'parent order not valid' END",
            "line_no IS NULL THEN 'line_no is null' END",
            "order_id IS NOT NULL AND line_no IS NOT NULL AND copy > 1 THEN 'duplicate order line' END",
            *too_long({"order_id": 128, "product_id": 128, "category": 256}),
        ]
    )

    def checked(dataset: str, columns: str, key: str, row_reasons: str) -> DataFrame:
        """The staged rows of `dataset` with their reasons, `copy` 1 on the latest of each `key` (latest
        updated_at, then file and row order). A Spark temp table, cached: read several times below."""
        return spark.sql(
            f"""SELECT {columns}, {row_reasons} AS reasons
                FROM (SELECT *, row_number() OVER (
                               PARTITION BY {key} ORDER BY updated_at DESC NULLS LAST, file_name, row_index
                             ) AS copy
                      FROM {{rows}})""",
            rows=staged(dataset),
        ).cache()

    p = checked(
        "products",
        "product_id, name, category, price, currency, updated_at",
        "product_id",
        product_reasons,
    )
    o = checked(
        "orders",
        "order_id, customer_id, order_ts, status, currency, total_amount, updated_at",
        "order_id",
        order_reasons,
    )
    # NOT IN (subquery) is not allowed in a SELECT list: left joins on the valid keys instead (unique,
    # since duplicates fail a rule; a NULL key matches nothing, as NOT IN's IS NULL guard does).
    i = spark.sql(
        f"""SELECT order_id, line_no, product_id, quantity, unit_price, category, {item_reasons} AS reasons
            FROM (SELECT s.*, valid_p.product_id IS NOT NULL AS known_product,
                         valid_o.order_id IS NOT NULL AS valid_parent
                  FROM (SELECT *, row_number() OVER (PARTITION BY order_id, line_no
                                                     ORDER BY file_name, row_index) AS copy
                        FROM {{items}}) s
                  LEFT JOIN (SELECT product_id FROM {{p}} WHERE size(reasons) = 0) valid_p
                    ON s.product_id = valid_p.product_id
                  LEFT JOIN (SELECT order_id FROM {{o}} WHERE size(reasons) = 0) valid_o
                    ON s.order_id = valid_o.order_id)""",
        items=staged("order_items"),
        p=p,
        o=o,
    ).cache()
    counts = spark.sql(
        """SELECT
             (SELECT count(*) FROM {p} WHERE size(reasons) > 0) AS products,
             (SELECT count(*) FROM {o} WHERE size(reasons) > 0) AS orders,
             (SELECT count(*) FROM {i} WHERE size(reasons) > 0) AS order_items,
             -- report-only checks, as validate computes them
             (SELECT count(*) FROM {o} o
                LEFT JOIN (SELECT order_id, sum(quantity * unit_price) AS s FROM {i} GROUP BY order_id) t
                  ON o.order_id = t.order_id
              WHERE size(o.reasons) = 0 AND abs(o.total_amount - coalesce(t.s, 0)) > 0.01) AS mismatched,
             -- NOT EXISTS, not NOT IN: Spark's null-aware anti join falls back to a nested loop when large
             (SELECT count(DISTINCT order_id) FROM {i} l
              WHERE order_id IN (SELECT order_id FROM {o} WHERE size(reasons) = 0)
                AND NOT EXISTS (SELECT 1 FROM {i} v WHERE size(v.reasons) = 0 AND v.order_id = l.order_id)
             ) AS all_lines_quarantined""",
        p=p,
        o=o,
        i=i,
    ).first()

    for name, table in (("products", p), ("orders", o), ("order_items", i)):
        row = ", ".join(f"`{c}`" for c in table.columns if c != "reasons")
        spark.sql(
            f"""SELECT 'bench' AS runId, '{name}' AS dataset, reasons, struct({row}) AS row
                FROM {{table}} WHERE size(reasons) > 0""",
            table=table,
        ).write.option("ignoreNullFields", "false").json(os.path.join(args.out, "quarantine", name))

    curated = os.path.join(args.out, "curated")
    order_date = f"DATE '{args.date}'"
    spark.sql(
        """SELECT product_id, name, category, CAST(price AS DECIMAL(12,2)) AS price, currency, updated_at
           FROM {p} WHERE size(reasons) = 0 ORDER BY product_id""",
        p=p,
    ).write.parquet(os.path.join(curated, "dim_product"))
    foi = spark.sql(
        f"""SELECT order_id, line_no, product_id, category, quantity,
                   CAST(unit_price AS DECIMAL(12,2)) AS unit_price,
                   CAST(quantity * unit_price AS DECIMAL(12,2)) AS line_amount, {order_date} AS order_date
            FROM {{i}} WHERE size(reasons) = 0""",
        i=i,
    ).cache()
    spark.sql(
        f"""SELECT o.order_id, customer_id, order_ts, {order_date} AS order_date, status, currency,
                   CAST(total_amount AS DECIMAL(12,2)) AS total_amount,
                   CAST(coalesce(n, 0) AS INT) AS item_count
            FROM {{o}} o LEFT JOIN (SELECT order_id, count(*) AS n FROM {{foi}} GROUP BY order_id) c
              ON o.order_id = c.order_id
            WHERE size(o.reasons) = 0""",
        o=o,
        foi=foi,
    ).write.parquet(os.path.join(curated, "fact_order"))
    foi.write.parquet(os.path.join(curated, "fact_order_item"))
    spark.sql(
        """SELECT order_date, category, CAST(count(DISTINCT order_id) AS INT) AS orders,
                  CAST(sum(quantity) AS INT) AS units, CAST(sum(line_amount) AS DECIMAL(12,2)) AS revenue
           FROM {foi} GROUP BY order_date, category ORDER BY category""",
        foi=foi,
    ).write.parquet(os.path.join(curated, "agg_daily_sales"))
    for table in (p, o, i, foi):
        table.unpersist()
    return {
        "quarantined": {name: counts[name] for name in DATASETS},
        "mismatched_orders": counts["mismatched"],
        "orders_all_lines_quarantined": counts["all_lines_quarantined"],
    }


def curated_totals(spark: SparkSession, out: str) -> dict:
    """fact_order count + revenue, fact_order_item count, agg revenue of the written files (not timed)."""

    def curated(table: str) -> DataFrame:
        return spark.read.parquet(os.path.join(out, "curated", table))

    def text(value: Decimal | None) -> str | None:
        return None if value is None else str(value)

    order_totals = curated("fact_order").selectExpr("count(*) AS n", "sum(total_amount) AS revenue").first()
    return {
        "orders": order_totals["n"],
        "order_revenue": text(order_totals["revenue"]),
        "lines": curated("fact_order_item").count(),
        "agg_revenue": text(curated("agg_daily_sales").selectExpr("sum(revenue)").first()[0]),
    }


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    spark = start_session(args.threads, args.driver_memory, os.path.join(args.out, "spark-local"))
    session_start_s = time.perf_counter() - started
    try:
        started = time.perf_counter()
        transform(spark, args)
        transform_s = time.perf_counter() - started
        started = time.perf_counter()
        quality = validate(spark, args)
        validate_s = time.perf_counter() - started
        totals = curated_totals(spark, args.out)
        report = {
            "spark_version": spark.version,
            "session_start_s": round(session_start_s, 3),
            "transform_s": round(transform_s, 3),
            "validate_s": round(validate_s, 3),
            **quality,
            "totals": totals,
        }
    finally:
        spark.stop()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
