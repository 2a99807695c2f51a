-- workload.sql - one step of the demo workload (psql -v step=N): a few
-- transactions of inserts, updates (some leaving the large bio untouched, so
-- it arrives as Debezium's TOAST placeholder), deletes; one TRUNCATE of
-- promo_codes at step 40.
BEGIN;
INSERT INTO orders (id, customer_id, status, total, note)
SELECT :step * 100 + g, 1 + (:step * 7 + g) % 200, 'new', 0, CASE WHEN g = 1 THEN E'gift\nwrap' END
FROM generate_series(1, 20) g;
INSERT INTO order_items (order_id, line_no, product_id, qty, price)
SELECT :step * 100 + g, l, 1 + (g * l + :step) % 100, l, (1 + (g * l + :step) % 100) * 1.25
FROM generate_series(1, 20) g, generate_series(1, 3) l;
UPDATE orders o SET total = s.t FROM
  (SELECT order_id, sum(qty * price) t FROM order_items WHERE order_id / 100 = :step GROUP BY 1) s
WHERE o.id = s.order_id;
COMMIT;
UPDATE customers SET balance = balance + 1.01 WHERE id % 17 = :step % 17;  -- bio untouched
UPDATE orders SET status = 'shipped' WHERE id / 100 = :step - 2;
UPDATE products SET price = price + 0.10, updated_at = now() WHERE id = 1 + :step % 100;
DELETE FROM order_items WHERE order_id / 100 = :step - 3 AND line_no = 3;
DELETE FROM orders WHERE id / 100 = :step - 5 AND id % 10 = 0;
INSERT INTO customers (id, name, email, profile)
VALUES (1000 + :step, 'new customer ' || :step, NULL, '{"new": true}');
SELECT CASE WHEN :step = 40 THEN 1 END AS truncating \gset
\if :{?truncating}
TRUNCATE promo_codes;
INSERT INTO promo_codes VALUES ('AFTER', 50), ('TRUNCATE', 25);
\endif
