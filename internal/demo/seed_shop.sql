CREATE TYPE order_status AS ENUM ('pending', 'paid', 'shipped', 'refunded');
CREATE TABLE customers (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL,
    email      text UNIQUE,
    country    char(2),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE products (
    id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sku   text NOT NULL UNIQUE,
    name  text NOT NULL,
    price numeric(10, 2) NOT NULL,
    tags  text[]
);
CREATE TABLE orders (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers,
    status      order_status NOT NULL DEFAULT 'pending',
    total       numeric(12, 2) NOT NULL,
    placed_at   timestamptz NOT NULL DEFAULT now()
);
-- An awkward name, as real schemas have: spaces, quotes, markup.
CREATE TABLE "Order Items (2024) <draft>" (
    order_id   bigint REFERENCES orders,
    product_id bigint REFERENCES products,
    "Qty"      integer NOT NULL
);
INSERT INTO customers (name, email, country)
SELECT 'Customer ' || g, 'customer' || g || '@example.com', (ARRAY['DE', 'FR', 'JP', 'US'])[1 + g % 4]
  FROM generate_series(1, 200) g;
INSERT INTO products (sku, name, price, tags)
SELECT 'SKU-' || lpad(g::text, 4, '0'), 'Product ' || g, (g % 50) + 0.99, ARRAY['demo']
  FROM generate_series(1, 40) g;
INSERT INTO orders (customer_id, status, total)
SELECT 1 + g % 200, (ARRAY['pending', 'paid', 'shipped', 'refunded']::order_status[])[1 + g % 4], (g % 300) + 9.5
  FROM generate_series(1, 1000) g;
INSERT INTO "Order Items (2024) <draft>" SELECT g, 1 + g % 40, 1 + g % 3 FROM generate_series(1, 500) g;
-- Widgets whose counters live in the demo's Redis (REDIS_URL, keys
-- widget:N), for seed 004's join through the Redis link hredis.
CREATE TABLE widgets (
    id    int PRIMARY KEY,
    name  text NOT NULL,
    stock int NOT NULL
);
INSERT INTO widgets SELECT g, 'Widget ' || g, (g * 37) % 120 FROM generate_series(1, 25) g;
