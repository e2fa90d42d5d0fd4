CREATE TABLE stock (
    sku      text PRIMARY KEY,
    on_hand  integer NOT NULL,
    location text NOT NULL
);
INSERT INTO stock SELECT 'SKU-' || lpad(g::text, 4, '0'), g * 3, 'AISLE-' || (g % 8) FROM generate_series(1, 40) g;
