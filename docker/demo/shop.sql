-- shop.sql - the demo's sample source database: a small shop with numeric
-- money, timestamps, jsonb, a large (TOASTed) text column, a composite key
-- and a small table that the workload truncates.
SET client_min_messages = warning;
DROP TABLE IF EXISTS order_items, orders, products, customers, promo_codes;
CREATE TABLE customers (
  id         bigint PRIMARY KEY,
  name       text NOT NULL,
  email      text,
  balance    numeric(12,2) NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  profile    jsonb,
  bio        text            -- large: stored out of line (TOAST)
);
CREATE TABLE products (
  id         integer PRIMARY KEY,
  sku        text NOT NULL,
  title      text NOT NULL,
  price      numeric(10,2) NOT NULL,
  attrs      jsonb,
  updated_at timestamp(6) NOT NULL DEFAULT now()
);
CREATE TABLE orders (
  id          bigint PRIMARY KEY,
  customer_id bigint NOT NULL,
  status      text NOT NULL,
  total       numeric(12,2) NOT NULL,
  placed_at   timestamptz NOT NULL DEFAULT now(),
  note        text
);
CREATE TABLE order_items (
  order_id   bigint,
  line_no    smallint,
  product_id integer NOT NULL,
  qty        integer NOT NULL,
  price      numeric(10,2) NOT NULL,
  PRIMARY KEY (order_id, line_no)
);
CREATE TABLE promo_codes (code text PRIMARY KEY, pct integer NOT NULL);

INSERT INTO customers (id, name, email, balance, profile, bio)
SELECT g, 'customer ' || g, 'c' || g || '@example.com', (g * 7.31)::numeric(12,2),
       jsonb_build_object('tier', g % 3, 'tags', jsonb_build_array('a', g)),
       CASE WHEN g % 10 = 0
            THEN (SELECT string_agg(md5(g::text || x::text), '') FROM generate_series(1, 300) x)
            ELSE 'short bio ' || g END
FROM generate_series(1, 200) g;
INSERT INTO products (id, sku, title, price, attrs)
SELECT g, 'SKU-' || g, 'Product "' || g || E'"\twith tab', (g * 1.25)::numeric(10,2),
       jsonb_build_object('color', (ARRAY['red','green','blue'])[1 + g % 3])
FROM generate_series(1, 100) g;
INSERT INTO promo_codes SELECT 'CODE' || g, g FROM generate_series(1, 10) g;

-- Not part of the shop: the demo's bookkeeping, captured like every table.
-- demo_marker: after the workload stops, the demo commits one row here and
-- waits until it is in the warehouse; Debezium reads the WAL in order, so
-- by then every earlier change has been produced to Kafka.
DROP TABLE IF EXISTS demo_marker, debezium_signal;
CREATE TABLE demo_marker (token text PRIMARY KEY, at timestamptz NOT NULL DEFAULT now());
-- one row from the start: the snapshot creates the marker's topic, so
-- cdcsink has subscribed to it long before the marker that matters
INSERT INTO demo_marker (token) VALUES ('created');
-- debezium_signal: the connector's signal table (signal.data.collection);
-- a row here asks Debezium for an incremental snapshot (docs/operations.md).
CREATE TABLE debezium_signal (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048));
