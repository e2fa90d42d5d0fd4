-- A regional store's own database: the same small schema in every store.
CREATE TABLE sales (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sold_on date NOT NULL,
    sku     text NOT NULL,
    qty     integer NOT NULL,
    amount  numeric(10, 2) NOT NULL
);
INSERT INTO sales (sold_on, sku, qty, amount)
SELECT date '2026-11-01' + g, 'SKU-' || lpad((g * 7 % 40 + 1)::text, 4, '0'), 1 + g % 3, (1 + g % 3) * 12.50
FROM generate_series(1, 8) g;

CREATE TABLE stock (
    sku     text PRIMARY KEY,
    on_hand integer NOT NULL
);
INSERT INTO stock SELECT 'SKU-' || lpad(g::text, 4, '0'), 5 + g * 2 FROM generate_series(1, 6) g;
